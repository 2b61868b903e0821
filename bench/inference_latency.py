"""Does `inference.predict_one` cost no more than a bare model call? (The goal: p50 within 1.2x.)

A run folder is trained once for a few steps on sample_data/sentiment_reviews.csv with all-MiniLM-L6-v2 (kept in
bench/out/inference_latency/run; --rebuild trains it again). Then, in one process and interleaved call by call on
the same sentences, with the same model and tokenizer objects:

    bare:         with torch.inference_mode(): model(**tokenizer(text, return_tensors="pt"))
    predict_one:  inference.predict_one(run_dir, text)   (cache look-up, truncation, softmax, the result dict)

Both are timed from outside the call. The order alternates every call so drift on a shared machine hits both
sides alike. Also timed: `inference.explain` on a ~30-token sentence (the promise: under about 1 s).

    python bench/inference_latency.py [--calls 200] [--rebuild] [--no-append]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

import preview_speed  # noqa: F401  (importing it puts the repo on sys.path)
from results import append_results, machine

from backend.data import reading  # noqa: E402
from backend.schemas import DataSpec, JobSpec  # noqa: E402
from backend.serving import inference  # noqa: E402
from backend.training import runs, trainer  # noqa: E402

BENCH = Path(__file__).resolve().parent
RUN_DIR = BENCH / "out" / "inference_latency" / "run"
CSV = BENCH.parent / "sample_data" / "sentiment_reviews.csv"
MODEL = "all-minilm-l6"
WARMUP = 20
EXPLAIN_TOKENS = 30


def build_run(rebuild: bool) -> Path:
    if rebuild or runs.read_results(RUN_DIR) is None:
        spec = JobSpec(data=DataSpec(train_csv=str(CSV)), model=MODEL, max_steps=10, batch_size=16,
                       precision="fp32", eval_every_steps=10)
        trainer.train(spec, RUN_DIR)
    return RUN_DIR


def timed_ms(function) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def compare(texts: list[str], calls: int) -> dict[str, list[float]]:
    loaded = inference.load_run(RUN_DIR)
    model, tokenizer = loaded.model, loaded.tokenizer

    def bare(text: str) -> None:
        with torch.inference_mode():
            model(**tokenizer(text, return_tensors="pt"))

    sides = {"bare": bare, "predict_one": lambda text: inference.predict_one(RUN_DIR, text)}
    times = {name: [] for name in sides}
    for i in range(WARMUP + calls):
        text = texts[i % len(texts)]
        order = list(sides) if i % 2 == 0 else list(reversed(sides))
        for name in order:
            spent = timed_ms(lambda: sides[name](text))
            if i >= WARMUP:
                times[name].append(spent)
    return times


def explain_sentence(texts: list[str]) -> str:
    """Sample sentences joined until the tokenizer counts about EXPLAIN_TOKENS tokens (specials included)."""
    tokenizer, words = inference.load_run(RUN_DIR).tokenizer, []
    for text in texts:
        for word in text.split():
            if len(tokenizer(" ".join(words + [word]))["input_ids"]) > EXPLAIN_TOKENS:
                return " ".join(words)
            words.append(word)
    return " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rebuild", action="store_true", help="train the run folder again")
    parser.add_argument("--no-append", action="store_true", help="print only, do not append to bench/RESULTS.md")
    args = parser.parse_args()

    build_run(args.rebuild)
    texts = reading.read_table(CSV).frame["text"].tolist()
    times = compare(texts, args.calls)
    sentence = explain_sentence(texts)
    inference.explain(RUN_DIR, sentence)  # warm-up
    explain_ms = float(np.median([timed_ms(lambda: inference.explain(RUN_DIR, sentence)) for _ in range(5)]))

    stats = {name: (np.percentile(values, 50), np.percentile(values, 95)) for name, values in times.items()}
    ratio_p50, ratio_p95 = (stats["predict_one"][i] / stats["bare"][i] for i in (0, 1))
    print(f"{MODEL}, {args.calls} calls each, interleaved, {torch.get_num_threads()} torch threads, {machine()}")
    print(f"{'what':<14} {'p50 ms':>8} {'p95 ms':>8}")
    for name, (p50, p95) in stats.items():
        print(f"{name:<14} {p50:>8.2f} {p95:>8.2f}")
    print(f"ratio predict_one / bare: p50 {ratio_p50:.3f}x, p95 {ratio_p95:.3f}x (goal p50 <= 1.2x)")
    print(f"explain ({EXPLAIN_TOKENS} tokens, {inference.IG_STEPS} steps): median {explain_ms:.0f} ms "
          f"({explain_ms / stats['bare'][0]:.1f}x a bare call); load average {os.getloadavg()[0]:.1f}")
    if args.no_append:
        return
    result = (f"{MODEL}, {args.calls} interleaved calls: predict_one p50 {stats['predict_one'][0]:.2f} ms / "
              f"p95 {stats['predict_one'][1]:.2f} ms vs bare model(**tokenizer(text)) p50 {stats['bare'][0]:.2f} ms / "
              f"p95 {stats['bare'][1]:.2f} ms = {ratio_p50:.3f}x p50, {ratio_p95:.3f}x p95; explain "
              f"({EXPLAIN_TOKENS} tokens, IG {inference.IG_STEPS} steps) {explain_ms:.0f} ms = "
              f"{explain_ms / stats['bare'][0]:.1f}x a bare call; load average {os.getloadavg()[0]:.1f}")
    append_results("inference_latency", [result])


if __name__ == "__main__":
    sys.exit(main())
