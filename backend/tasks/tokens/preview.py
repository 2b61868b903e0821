"""The token preview of a token-classification table: how long its sentences are in word pieces, how many windows
they take, and a few sentences as words, their word pieces and their tags (what training learns on each first piece).
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from backend.data import preview as tokenization
from backend.schemas import StudioError
from backend.tasks.qa.features import checked_stride
from backend.tasks.tokens import features


def preview(rows: pd.DataFrame, tokenizer, max_length: int = 128, doc_stride: int | None = None,
            sample_rows: int = 5) -> dict:
    """Keys as backend.data.preview.preview's (lengths count word pieces plus the special tokens; truncated_share:
    sentences read in several windows, none is cut), plus windows {mean, max} and doc_stride; samples
    [{row, length, windows, words [{word, tag, pieces [{token, kind}]}]}]."""
    started = time.perf_counter()
    tokenization.check_max_length(max_length)
    if rows.empty:
        raise StudioError("The table has no sentences to preview.")
    stride = checked_stride(max_length, doc_stride)
    sentences = features.sentences_of(rows)
    counts = features.piece_counts(tokenizer, sentences)
    special = tokenizer.num_special_tokens_to_add(pair=False)
    lengths = np.array([sum(row) + special for row in counts], dtype=np.int64)
    windows = np.array([len(features.plan_windows(row, max_length - special, stride)) for row in counts])
    limit = tokenization.max_positions(tokenizer)
    result = {"rows": len(rows), "pair": False, "max_length": max_length, "max_positions": limit,
              "doc_stride": stride}
    result |= tokenization.length_statistics(lengths, min(max_length, limit), limit)
    unknown = sum(piece == tokenizer.unk_token_id for ids in tokenizer(sentences, is_split_into_words=True,
                                                                       add_special_tokens=False)["input_ids"]
                  for piece in ids) if tokenizer.unk_token_id is not None else 0
    result |= tokenization.unknown_statistics(np.array([unknown]), int(lengths.sum()) - special * len(rows))
    result["windows"] = {"mean": round(float(windows.mean()), 3), "max": int(windows.max())}
    result["warnings"] = [warning for warning in tokenization.preview_warnings(result) if "will be cut" not in warning]
    result["tokenizer"] = tokenization.describe_tokenizer(tokenizer)
    result["samples"] = [_sample(tokenizer, rows, row, int(lengths[i]), int(windows[i]))
                         for i, row in enumerate(rows.index[:sample_rows])]
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def _sample(tokenizer, rows: pd.DataFrame, row, length: int, windows: int) -> dict:
    words, tags = list(map(str, rows.at[row, "tokens"])), list(rows.at[row, "tags"])
    encoding = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
    pieces: list[list[dict]] = [[] for _ in words]
    for token_id, word in zip(encoding["input_ids"], encoding.word_ids()):
        if word is not None:
            kind = "unk" if token_id == tokenizer.unk_token_id else "normal"
            pieces[word].append({"token": tokenizer.convert_ids_to_tokens(token_id), "kind": kind})
    return {"row": int(rows.index.get_loc(row)), "length": length, "windows": windows,
            "words": [{"word": word, "tag": tag, "pieces": found} for word, tag, found in zip(words, tags, pieces)]}
