"""The training engine end to end on the tiny model: a few seconds per run."""
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from backend import tasks
from backend.models import catalog
from backend.schemas import DataSpec, JobSpec, StudioError
from backend.training import run_control, runs, trainer
from backend.training.schedule import Schedule
from backend.training.tracking import read_metrics

ROOT = Path(__file__).resolve().parents[2]
GOOD, BAD = "great lovely superb nice excellent".split(), "awful terrible poor horrible dreadful".split()
FILLER = "the a movie film plot actor scene really very quite".split()


def sentence(rng, signal_words, count=1):
    words = [rng.choice(signal_words) for _ in range(count)] + [rng.choice(FILLER) for _ in range(rng.randint(1, 12))]
    rng.shuffle(words)
    return " ".join(words)


def write_rows(path, header, rows):
    path.write_text("\n".join([header] + [",".join(map(str, r)) for r in rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def sentiment_csv(tmp_path):
    rng = random.Random(0)
    rows = [(sentence(rng, GOOD if i % 2 else BAD), "pos" if i % 2 else "neg") for i in range(80)]
    return write_rows(tmp_path / "sentiment.csv", "text,label", rows)


def spec_for(csv, model_dir, **overrides):
    values = dict(data=DataSpec(train_csv=str(csv)), model=str(model_dir), epochs=4, batch_size=8,
                  learning_rate=5e-3, precision="fp32", seed=7)
    values.update(overrides)
    return JobSpec(**values)


def test_train_writes_a_complete_run_folder(sentiment_csv, tiny_model_dir, tmp_path):
    run_dir = tmp_path / "run"
    results = trainer.train(spec_for(sentiment_csv, tiny_model_dir, epochs=6), run_dir)

    assert results["state"] == "completed"
    assert runs.read_outcome(run_dir) == {"state": "completed", "reason": results["reason"]}
    assert runs.read_spec(run_dir) == spec_for(sentiment_csv, tiny_model_dir, epochs=6)
    saved = runs.read_results(run_dir)
    for key in ("task", "model", "metrics", "train_runtime_s", "train_samples_per_second", "num_parameters",
                "labels", "best_step", "precision", "device", "peak_memory_mb"):
        assert key in saved
    assert saved["peak_memory_mb"] > 0
    assert saved["task"] == "text_classification" and saved["labels"] == ["neg", "pos"]
    assert set(saved["metrics"]) >= {"accuracy", "macro_f1", "mcc", "f1"}
    assert saved["metrics"]["accuracy"] >= 0.8  # the signal words are easy to learn
    assert saved["precision"] == "fp32" and saved["train_samples_per_second"] > 0

    lines = read_metrics(run_dir)
    assert [r["step"] for r in lines] == list(range(1, saved["total_steps"] + 1))  # short run: every step logged
    assert {"step", "epoch", "loss", "learning_rate", "samples_per_second", "total_steps"} <= set(lines[0])
    evaluated = [r for r in lines if "eval_accuracy" in r]
    assert len(evaluated) >= 6  # at least at every epoch end
    assert lines[-1]["loss"] < lines[0]["loss"]

    model = catalog.load_model(str(run_dir / "model"), tasks.get("text_classification"), ["neg", "pos"])
    assert model.config.id2label == {0: "neg", 1: "pos"}
    assert (run_dir / "model" / "model.safetensors").exists() and (run_dir / "model" / "tokenizer.json").exists()
    best = load_file(run_dir / "model" / "model.safetensors")
    assert torch.equal(best["classifier.weight"], model.classifier.weight)
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == [f"step-{saved['total_steps']:08d}"]


def test_regression_and_text_pairs(tmp_path, tiny_model_dir):
    rng = random.Random(1)
    regression = write_rows(tmp_path / "scores.csv", "text,score",
                            [(sentence(rng, GOOD, k % 4), round(k % 4 + rng.random(), 2)) for k in range(60)])
    results = trainer.train(spec_for(regression, tiny_model_dir, epochs=2), tmp_path / "reg")
    assert results["task"] == "regression" and results["labels"] is None
    assert set(results["metrics"]) >= {"pearson", "spearman", "mse"} and results["main_metric"] == "mse"

    pairs = write_rows(tmp_path / "pairs.csv", "sentence1,sentence2,label",
                       [(sentence(rng, GOOD), sentence(rng, GOOD if k % 3 else BAD), "same" if k % 3 else "different")
                        for k in range(60)])
    results = trainer.train(spec_for(pairs, tiny_model_dir, max_steps=3), tmp_path / "pair")
    assert results["task"] == "pair_classification" and results["steps"] == 3


def test_eval_interval_and_early_stopping(sentiment_csv, tiny_model_dir, tmp_path):
    # Learning rate 0: the metric never improves after the first evaluation, so patience 2 stops at the third.
    spec = spec_for(sentiment_csv, tiny_model_dir, learning_rate=0.0, eval_every_steps=2, early_stopping_patience=2)
    results = trainer.train(spec, tmp_path / "run")
    assert results["state"] == "completed" and "Stopped early" in results["reason"]
    assert results["steps"] == 6 and results["best_step"] == 2
    assert [r["step"] for r in read_metrics(tmp_path / "run") if "eval_loss" in r] == [2, 4, 6]


def test_time_limit_ends_the_job_with_an_evaluated_model(sentiment_csv, tiny_model_dir, tmp_path, monkeypatch):
    # A clock that moves one minute per step: a 2.5-minute cap ends the run after step 3 of 40, mid-epoch.
    clock = iter(range(0, 10_000, 60))
    monkeypatch.setattr(run_control.TimeLimit, "clock", staticmethod(lambda: next(clock)))
    spec = spec_for(sentiment_csv, tiny_model_dir, time_limit_minutes=2.5)
    results = trainer.train(spec, tmp_path / "run")

    assert results["state"] == "completed" and results["steps"] == 3 < results["total_steps"]
    assert "time limit of 2.5 min at step 3 of" in results["reason"]
    assert [r["step"] for r in read_metrics(tmp_path / "run") if "eval_loss" in r] == [3]
    assert (tmp_path / "run" / runs.MODEL / "model.safetensors").is_file()
    assert runs.read_results(tmp_path / "run")["metrics"]


def test_automatic_eval_interval():
    schedule = Schedule.for_run(JobSpec(data=DataSpec("x.csv"), model="m", epochs=1), batches_per_epoch=1000)
    assert schedule.eval_every == 100 and schedule.log_every == 10 and schedule.total_steps == 1000
    short = Schedule.for_run(JobSpec(data=DataSpec("x.csv"), model="m", epochs=3), batches_per_epoch=5)
    assert short.eval_every == 10 and short.log_every == 1
    assert [s for s in range(1, 16) if short.eval_due(s)] == [5, 10, 15]


def stop_at(step):
    """An on_step hook that sends this process SIGTERM, as the job runner's cancel would."""
    def hook(progress):
        if progress.step == step:
            os.kill(os.getpid(), signal.SIGTERM)
    return hook


def comparable(records):
    return [{k: v for k, v in r.items() if k not in ("samples_per_second", "average_samples_per_second", "eval_runtime_s")} for r in records]


def test_stop_then_resume_ends_like_an_uninterrupted_run(sentiment_csv, tiny_model_dir, tmp_path):
    # Accumulation 2 over 8 batches an epoch: 4 steps an epoch; stopping at step 6 is mid-epoch and mid-shuffle.
    spec = spec_for(sentiment_csv, tiny_model_dir, epochs=3, gradient_accumulation_steps=2, eval_every_steps=4)
    straight = trainer.train(spec, tmp_path / "straight")

    stopped = trainer.train(spec, tmp_path / "resumed", on_step=stop_at(5))
    assert stopped["state"] == "stopped" and runs.read_outcome(tmp_path / "resumed")["state"] == "stopped"
    assert runs.checkpoint_step(runs.latest_checkpoint(tmp_path / "resumed")) == 5
    assert not (tmp_path / "resumed" / runs.RESULTS).exists()
    resumed = trainer.train(spec, tmp_path / "resumed", resume=True)

    assert resumed["state"] == "completed"
    assert resumed["metrics"] == pytest.approx(straight["metrics"], rel=1e-5)
    assert resumed["best_step"] == straight["best_step"]
    assert comparable(read_metrics(tmp_path / "resumed")) == pytest.approx(comparable(read_metrics(tmp_path / "straight")))
    a, b = (load_file(tmp_path / name / "model" / "model.safetensors") for name in ("straight", "resumed"))
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)


def test_resume_without_a_checkpoint_starts_over_and_a_finished_run_stays_finished(sentiment_csv, tiny_model_dir,
                                                                                   tmp_path):
    spec = spec_for(sentiment_csv, tiny_model_dir, max_steps=3)
    results = trainer.train(spec, tmp_path / "run", resume=True)
    assert results["state"] == "completed" and results["steps"] == 3
    again = trainer.train(spec, tmp_path / "run", resume=True)  # its last checkpoint is at the final step
    assert again["state"] == "completed" and again["metrics"] == results["metrics"]
    assert len(read_metrics(tmp_path / "run")) == 3


def test_nan_loss_stops_as_diverged_without_checkpointing(sentiment_csv, tiny_model_dir, tmp_path, monkeypatch):
    load_model = catalog.load_model

    def poisoned(*args):
        model = load_model(*args)
        calls = []
        # From the fourth forward pass on, the embeddings turn to NaN, as after an exploding update.
        model.bert.embeddings.register_forward_hook(
            lambda module, inputs, output: output * float("nan") if len(calls.append(1) or calls) > 3 else None)
        return model

    monkeypatch.setattr(catalog, "load_model", poisoned)
    results = trainer.train(spec_for(sentiment_csv, tiny_model_dir, eval_every_steps=2), tmp_path / "run")
    assert results["state"] == "diverged" and "learning rate" in results["reason"]
    assert runs.read_outcome(tmp_path / "run")["state"] == "diverged"
    assert runs.checkpoint_step(runs.latest_checkpoint(tmp_path / "run")) == 2  # the step-4 state is not saved
    assert read_metrics(tmp_path / "run")[-1]["loss"] is None  # NaN is written as null
    assert not (tmp_path / "run" / runs.RESULTS).exists()


def test_out_of_memory_retries_with_half_the_batch_and_double_accumulation():
    seen = []

    def attempt(spec):
        seen.append((spec.batch_size, spec.gradient_accumulation_steps))
        if spec.batch_size > 8:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return "done"

    spec = JobSpec(data=DataSpec("x.csv"), model="m", batch_size=32)
    retried = []
    assert run_control.retry_on_oom(attempt, spec, retried.append) == "done"
    assert seen == [(32, 1), (16, 2), (8, 4)] and len(retried) == 2
    with pytest.raises(StudioError, match="batch size 1"):
        run_control.retry_on_oom(lambda s: attempt(s.__class__(**{**s.__dict__, "batch_size": 99})),
                             JobSpec(data=DataSpec("x.csv"), model="m", batch_size=2), lambda s: None)
    with pytest.raises(KeyError):
        run_control.retry_on_oom(lambda s: {}["other errors pass through"], spec, lambda s: None)


def test_out_of_memory_in_training_reruns_with_a_smaller_batch(sentiment_csv, tiny_model_dir, tmp_path, monkeypatch):
    load_model = catalog.load_model

    def small_memory(*args):
        model = load_model(*args)

        def check(module, args, kwargs):
            if module.training and kwargs["input_ids"].shape[0] > 4:
                raise torch.OutOfMemoryError("simulated: out of memory")
        model.register_forward_pre_hook(check, with_kwargs=True)
        return model

    monkeypatch.setattr(catalog, "load_model", small_memory)
    results = trainer.train(spec_for(sentiment_csv, tiny_model_dir, max_steps=4), tmp_path / "run")
    assert results["state"] == "completed"
    assert (results["batch_size"], results["gradient_accumulation_steps"]) == (4, 2)
    assert runs.read_spec(tmp_path / "run").batch_size == 4  # spec.json re-runs what actually fit


def test_precision_choice(monkeypatch):
    monkeypatch.setattr(run_control, "cpu_has_native_bf16", lambda: False)
    assert run_control.choose_precision("auto", cuda=False) == "fp32"
    monkeypatch.setattr(run_control, "cpu_has_native_bf16", lambda: True)
    assert run_control.choose_precision("auto", cuda=False) == "bf16"
    assert run_control.choose_precision("fp32", cuda=False) == "fp32"
    with pytest.raises(StudioError, match="fp16"):
        run_control.choose_precision("fp16", cuda=False)
    with pytest.raises(StudioError, match="precision"):
        run_control.choose_precision("fp8", cuda=False)


def test_bf16_run_records_its_precision(sentiment_csv, tiny_model_dir, tmp_path):
    results = trainer.train(spec_for(sentiment_csv, tiny_model_dir, max_steps=2, precision="bf16"), tmp_path / "run")
    assert results["state"] == "completed" and results["precision"] == "bf16"
    assert np.isfinite(results["metrics"]["loss"])


def test_a_bad_input_fails_with_a_readable_outcome(tmp_path, tiny_model_dir):
    with pytest.raises(StudioError):
        trainer.train(spec_for(tmp_path / "missing.csv", tiny_model_dir), tmp_path / "run")
    outcome = runs.read_outcome(tmp_path / "run")
    assert outcome["state"] == "failed" and "missing.csv" in outcome["reason"]


def run_entry_point(command, run_dir):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(command + ["--run-dir", str(run_dir)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_entry_point_stops_gracefully_on_sigterm(sentiment_csv, tiny_model_dir, tmp_path):
    run_dir = tmp_path / "run"
    runs.write_spec(run_dir, spec_for(sentiment_csv, tiny_model_dir, max_steps=100_000, eval_every_steps=50))
    process = run_entry_point([sys.executable, "-m", "backend.trainer"], run_dir)
    try:
        while not read_metrics(run_dir):  # started training
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        process.send_signal(signal.SIGTERM)  # a second one (a dying server and a runner) must not cut the checkpoint
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "Received SIGTERM: stopping after this step" in stderr
    assert runs.read_outcome(run_dir)["state"] == "stopped"
    assert runs.latest_checkpoint(run_dir) is not None


def test_accelerate_launch_two_processes(sentiment_csv, tiny_model_dir, tmp_path):
    """The same entry point under `accelerate launch` with 2 CPU processes (gloo). Slowest test: ~10 s.

    `--multi_gpu` is what starts several processes (`--cpu` alone starts one); without CUDA the trainer
    then joins them in a CPU group. Select it alone with `pytest -k two_processes`.
    """
    run_dir = tmp_path / "run"
    # 10 epochs: two processes take half the steps of one, and 6 epochs left some seeds still at chance.
    runs.write_spec(run_dir, spec_for(sentiment_csv, tiny_model_dir, epochs=10))
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "backend.trainer"]
    process = run_entry_point(launch, run_dir)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    results = runs.read_results(run_dir)
    assert results["num_processes"] == 2 and results["eval_rows"] == 16
    assert results["metrics"]["accuracy"] >= 0.8
    assert runs.read_outcome(run_dir)["state"] == "completed"
    lines = read_metrics(run_dir)
    assert lines[-1]["step"] == results["total_steps"] == 10 * 4  # 8 batches an epoch shared by 2 processes
    assert sorted(p.name for p in runs.latest_checkpoint(run_dir).glob("random_states_*")) == [
        "random_states_0.pkl", "random_states_1.pkl"]
    assert (run_dir / "model" / "model.safetensors").exists()
