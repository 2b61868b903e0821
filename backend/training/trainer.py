"""train(spec, run_dir): fine-tune one model on one CSV with Accelerate. Runs in its own process.

    python -m backend.trainer --run-dir DIR [--resume]
    accelerate launch --multi_gpu --num_processes 2 -m backend.trainer --run-dir DIR   (2 processes, also on CPU)

(`accelerate launch --cpu --num_processes 2` starts a single process in accelerate 1.15: its --cpu path uses
the simple launcher. With --multi_gpu on a machine without CUDA the processes form a CPU/gloo group.)

The loop follows accelerate's examples/nlp_example.py: create the Accelerator, build the dataloaders, prepare,
loop, evaluate. What differs between task kinds (the head, how rows become batches, the metrics and which one is
best) comes from the run's TaskKind (backend.tasks); the loop never asks which kind it trains. What varies per run
(early stopping, divergence, checkpoints) lives in small functions below the loop, when to log, evaluate and
checkpoint in backend.training.schedule; what controls the run around it (stop signals, out-of-memory retries,
precision, outcome.json) lives in backend.training.run_control; the run folder's files are written by
backend.training.runs, the metrics by backend.training.tracking.

Exit codes of the entry point: 0 completed or stopped (see outcome.json), 1 failed unexpectedly (traceback on
stderr), 2 failed on the input (one readable line on stderr), 3 diverged.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from backend import tasks
from backend.tasks import loading
from backend.data.batching import Evaluation
from backend.models import catalog
from backend.training import runs
from backend.training.runs import forget_attempt, save_checkpoint, save_model
from backend.schemas import JobSpec, StudioError
from backend.training.run_control import (Outcome, StopSignal, TimeLimit, choose_precision, describe_device,
                                          failure_reason, peak_memory_mb, progress_bar, retry_on_oom, write_outcome)
from backend.training.schedule import Schedule
from backend.training.tracking import MetricsFile, Progress, Window, truncate_metrics

MAX_GRAD_NORM = 1.0  # as the transformers Trainer: keeps early steps of a fresh head from blowing up
EXIT_CODES = {"completed": 0, "stopped": 0, "failed": 1, "diverged": 3}  # and 2: a StudioError (the input's fault)


def train(spec: JobSpec, run_dir: Path, resume: bool = False, *, on_step=None) -> dict:
    """Run the job and return results.json's content plus the outcome's "state" and "reason".

    `on_step(progress)` is called after every optimizer step (tests use it to interrupt a run at a given step).
    Writes outcome.json as its very last act, also when it fails; the error is re-raised after that.
    """
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # one bar on stderr (ours), not one per model save
    run_dir = Path(run_dir)
    limit = TimeLimit(spec.time_limit_minutes)  # one budget, however many out-of-memory retries it takes
    with StopSignal() as stop:
        try:
            results = retry_on_oom(lambda s: _train_once(s, run_dir, resume, stop, limit, on_step), spec,
                                   lambda smaller: forget_attempt(run_dir))
        except Exception as exc:
            write_outcome(run_dir, Outcome("failed", failure_reason(exc)))
            raise
    write_outcome(run_dir, Outcome(results["state"], results["reason"]))
    return results


def _train_once(spec: JobSpec, run_dir: Path, resume: bool, stop: StopSignal, limit: TimeLimit, on_step) -> dict:
    accelerator = make_accelerator(spec, run_dir)
    if accelerator.is_main_process:
        runs.write_spec(run_dir, spec)
    torch.manual_seed(spec.seed)  # the new classification head starts the same way in every run of this spec
    splits = loading.load_splits(spec.data)
    kind = tasks.get(splits.task)  # what differs between task kinds: head, batches, metrics
    tokenizer = catalog.load_tokenizer(spec.model)
    model = catalog.load_model(spec.model, kind, splits.labels)
    revision = catalog.revision_of(spec.model)  # the hub commit, known once loading fetched it (None: not from the hub)
    if revision != spec.model_revision:  # spec.json says which files this run trained from
        spec.model_revision = revision
        if accelerator.is_main_process:
            runs.write_spec(run_dir, spec)
    train_dl, eval_dl, evaluation = kind.dataloaders(spec, splits, tokenizer, model)
    sampler = train_dl.batch_sampler  # kept: after prepare it may sit inside accelerate's shard wrapper
    optimizer = make_optimizer(model, spec)

    model, optimizer, train_dl, eval_dl = accelerator.prepare(model, optimizer, train_dl, eval_dl)
    # Built after prepare: prepare shards the training loader over processes, which changes its length.
    schedule = Schedule.for_run(spec, len(train_dl))
    scheduler = schedule.lr_scheduler(optimizer, spec.warmup_ratio)
    progress = Progress()
    # save_state/load_state then carry these two along with the model, optimizer and RNG states.
    accelerator.register_for_checkpointing(scheduler, progress)
    if resume:
        restore(accelerator, run_dir, progress)
    elif accelerator.is_main_process:
        forget_attempt(run_dir)
    accelerator.init_trackers("minilm-studio")
    accelerator.print(f"Training {spec.model} on {len(splits.train)} rows ({splits.task}): {schedule.total_steps} steps, "
                      f"from step {progress.step}, {accelerator.precision_used} on {describe_device(accelerator)}, "
                      f"{accelerator.num_processes} process(es).", file=sys.stderr, flush=True)  # stdout is for JSON

    health, watchers = divergence_check(spec.learning_rate), early_stopping(spec.early_stopping_patience, kind)
    window = Window(accelerator)
    bar = progress_bar(accelerator, schedule.total_steps, progress.step)
    outcome = finished(progress, schedule, stopping=False)  # a resumed run may have nothing left to do
    model.train()
    while outcome is None:
        for batch in epoch_batches(accelerator, train_dl, sampler, progress):
            batch.pop("index")
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
                optimizer.step()
                if accelerator.sync_gradients:  # our scheduler counts optimizer steps, not micro-batches
                    scheduler.step()
                optimizer.zero_grad()
            window.add(loss.detach(), len(batch["input_ids"]))  # QA batches carry no labels, only positions
            progress.batch_in_epoch += 1
            if not accelerator.sync_gradients:
                continue
            progress.finish_step(end_of_epoch=accelerator.gradient_state.end_of_dataloader)
            bar.update(1)
            if on_step is not None:
                on_step(progress)
            stopping, out_of_time = stop.requested(accelerator), limit.reached(accelerator)
            if not (schedule.log_due(progress.step) or stopping or out_of_time):
                continue
            record = window.close(progress, schedule, scheduler.get_last_lr()[0])
            outcome = health(record, progress)
            if outcome is None and (schedule.eval_due(progress.step) or out_of_time):
                record.update(evaluate(accelerator, model, eval_dl, evaluation))
                keep_best(accelerator, model, tokenizer, run_dir, kind, record, progress)
                outcome = next(filter(None, (watch(record, progress) for watch in watchers)), None)
            accelerator.log(record, step=progress.step)
            bar.set_postfix(loss=f"{record['loss']:.4f}", refresh=False)
            healthy = outcome is None or outcome.state != "diverged"  # never checkpoint a broken model
            if healthy and (stopping or schedule.checkpoint_due(progress.step)):
                save_checkpoint(accelerator, run_dir, progress.step)
            outcome = outcome or finished(progress, schedule, stopping)
            if outcome is None and out_of_time:
                outcome = limit.outcome(progress.step, schedule.total_steps)
            window.restart()
            if outcome is not None:
                break
    bar.close()
    accelerator.end_training()
    return _finish(spec, splits, accelerator, model, tokenizer, run_dir, schedule, progress, outcome)


def make_accelerator(spec: JobSpec, run_dir: Path):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState

    if spec.batch_size < 1 or spec.gradient_accumulation_steps < 1:
        raise StudioError("Batch size and gradient accumulation steps must be at least 1.")
    # Accelerate keeps its settings in process-wide singletons; a second run in one process (tests, an
    # out-of-memory retry with more accumulation) must start from a clean slate. The process group is kept.
    AcceleratorState._reset_state()
    GradientState._reset_state()
    precision = choose_precision(spec.precision, torch.cuda.is_available())
    # Launched as several processes on a machine without CUDA (`accelerate launch --multi_gpu` or torchrun):
    # accelerate forms a CPU (gloo) group only when told cpu=True; otherwise each process would train alone.
    cpu_group = not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1
    accelerator = Accelerator(cpu=cpu_group, mixed_precision="no" if precision == "fp32" else precision,
                              gradient_accumulation_steps=spec.gradient_accumulation_steps,
                              log_with=[MetricsFile(run_dir)])
    accelerator.precision_used = precision
    if accelerator.device.type == "cpu":
        # torch starts one thread per core in every process; processes sharing the cores would then fight.
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        torch.set_num_threads(max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    return accelerator


def make_optimizer(model, spec: JobSpec):
    """AdamW, without weight decay on biases and LayerNorm weights (the 1-D parameters), as in BERT's recipe.

    The fused kernel updates all parameters in one pass: on CPU it cuts the optimizer step of MiniLM ~4x.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": spec.weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    fused = torch.cuda.is_available() or params[0].device.type == "cpu"
    return torch.optim.AdamW(groups, lr=spec.learning_rate, fused=fused)


def divergence_check(learning_rate: float):
    def check(record: dict, progress: Progress) -> Outcome | None:
        if math.isfinite(record["loss"]):
            return None
        return Outcome("diverged", f"The training loss became {record['loss']} at step {progress.step}; lower the "
                                   f"learning rate (e.g. to {learning_rate / 10:g}) and start again.")
    return check


def early_stopping(patience: int | None, kind) -> list:
    """A list of watchers: empty without patience, so the loop needs no `if patience` of its own."""
    if not patience:
        return []

    def watch(record: dict, progress: Progress) -> Outcome | None:
        if progress.evals_since_best < patience:
            return None
        return Outcome("completed", f"Stopped early: {kind.main_metric} did not improve in {patience} evaluations; "
                                    f"the model kept is from step {progress.best_step}.")
    return [watch]


def finished(progress: Progress, schedule: Schedule, stopping: bool) -> Outcome | None:
    if progress.step >= schedule.total_steps:  # a stop request on the last step changes nothing
        return Outcome("completed", f"Trained {progress.step} steps.")
    if stopping:
        return Outcome("stopped", f"Stopped at step {progress.step} of {schedule.total_steps} with a checkpoint; "
                                  "resume to continue.")
    return None


def epoch_batches(accelerator, train_dl, sampler, progress: Progress):
    """This epoch's batches, skipping those a resumed run already trained on (only indices are skipped).

    Both the sampler and the loader are told the epoch: the loader hands the sampler its own pass count at
    every pass (0 in a resumed process), and the skipping loader copies that count from it.
    """
    sampler.set_epoch(progress.epoch)
    train_dl.set_epoch(progress.epoch)
    if progress.batch_in_epoch == 0:
        return train_dl
    return accelerator.skip_first_batches(train_dl, progress.batch_in_epoch)


def evaluate(accelerator, model, eval_dl, evaluation: Evaluation) -> dict:
    """eval_* metrics over the whole evaluation set, gathered from every process."""
    started = time.perf_counter()
    model.eval()
    parts = {"outputs": [], "labels": [], "index": []}
    with torch.inference_mode():
        for batch in eval_dl:
            index, labels = batch.pop("index"), batch.pop("labels")
            outputs = evaluation.outputs(model(**batch)).float()
            # Processes may hold batches of different sizes: pad, gather, then drop the padding (index -1)
            # and the rows accelerate repeated so that every process had as many batches as the others.
            for name, tensor in (("outputs", outputs), ("labels", labels), ("index", index)):
                padded = accelerator.pad_across_processes(tensor, dim=0, pad_index=-1)
                parts[name].append(accelerator.gather(padded).cpu())
    model.train()
    index = torch.cat(parts["index"]).numpy()
    values, first = np.unique(index, return_index=True)
    keep = first[values >= 0]
    outputs, labels = (torch.cat(parts[name]).numpy()[keep] for name in ("outputs", "labels"))
    scores = evaluation.score(outputs, labels)
    scores["runtime_s"] = round(time.perf_counter() - started, 3)
    return {f"eval_{name}": value for name, value in scores.items()}


def keep_best(accelerator, model, tokenizer, run_dir: Path, kind, record: dict, progress: Progress) -> None:
    """Track the task kind's main metric; when it improves, the model becomes run_dir/model."""
    metrics = {key[len("eval_"):]: value for key, value in record.items()
               if key.startswith("eval_") and key != "eval_runtime_s"}
    progress.last_metrics = metrics
    value = metrics[kind.main_metric]
    if not kind.is_improvement(value, progress.best_value):
        progress.evals_since_best += 1
        return
    progress.best_value, progress.best_step, progress.best_metrics = value, progress.step, metrics
    progress.evals_since_best = 0
    save_model(accelerator, model, tokenizer, run_dir)


def restore(accelerator, run_dir: Path, progress: Progress) -> None:
    """Continue from the last complete checkpoint; without one (stopped before the first), start over."""
    checkpoint = runs.latest_checkpoint(run_dir)
    if accelerator.is_main_process:
        runs.recover_model_folder(run_dir)
    if checkpoint is None:
        if accelerator.is_main_process:
            forget_attempt(run_dir)
        return
    accelerator.load_state(str(checkpoint))
    if accelerator.is_main_process:
        truncate_metrics(run_dir, progress.step)  # the steps after the checkpoint are trained (and logged) again


def _finish(spec, splits, accelerator, model, tokenizer, run_dir, schedule, progress, outcome) -> dict:
    if outcome.state == "completed" and not (run_dir / runs.MODEL).exists():
        save_model(accelerator, model, tokenizer, run_dir)  # no evaluation ever improved (all NaN): keep the last
    seconds = max(progress.train_seconds, 1e-9)
    results = {
        "task": splits.task, "model": spec.model, "model_revision": spec.model_revision, "labels": splits.labels,
        "metrics": progress.best_metrics, "main_metric": tasks.get(splits.task).main_metric,
        "best_step": progress.best_step,
        "final_metrics": progress.last_metrics, "steps": progress.step, "total_steps": schedule.total_steps,
        "epochs": round(progress.step / schedule.steps_per_epoch, 4),
        "train_runtime_s": round(progress.train_seconds, 3),
        "train_samples_per_second": round(progress.train_samples / seconds, 2),
        "num_parameters": catalog.count_parameters(accelerator.unwrap_model(model)),
        "precision": accelerator.precision_used, "device": describe_device(accelerator),
        "peak_memory_mb": peak_memory_mb(accelerator),
        "num_processes": accelerator.num_processes, "batch_size": spec.batch_size,
        "gradient_accumulation_steps": spec.gradient_accumulation_steps,
        "train_rows": len(splits.train), "eval_rows": len(splits.eval),
    }
    if accelerator.is_main_process and outcome.state == "completed":
        runs.write_json(run_dir / runs.RESULTS, results)
    return {**results, "state": outcome.state, "reason": outcome.reason}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.trainer", description="Train the job in a run folder.")
    parser.add_argument("--run-dir", required=True, type=Path, help="a run folder holding spec.json")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the folder")
    args = parser.parse_args(argv)
    try:
        spec = runs.read_spec(args.run_dir)
    except StudioError as exc:
        write_outcome(args.run_dir, Outcome("failed", str(exc)))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        results = train(spec, args.run_dir, resume=args.resume)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:
        print(results["reason"], file=sys.stderr)
    return EXIT_CODES[results["state"]]


if __name__ == "__main__":
    sys.exit(main())
