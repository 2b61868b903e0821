"""Token previews for extractive QA: how long the (question, context) pairs are, how many windows a long context
needs at a max length and stride, and whether every answer lies wholly inside at least one window.

The windows are those training cuts (`qa_features.frame_windows`: long questions cut to fit, then the context
split with the stride), over every usable row of the training CSV, so a problem seen here is one training would
have. Everything returned is plain JSON-safe data.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from backend.data import preview as tokenization
from backend.schemas import StudioError
from backend.tasks.qa import features as qa_features
from backend.tasks.qa.data import FIRST_DATA_ROW, TASK

QA_SUGGESTED_LENGTH = 384  # the usual SQuAD setting: a question and a good stretch of context in one window
SHOWN_MISSES = 5  # answers outside every window listed in the preview, each with why
SEGMENT_KINDS = {0: "question", 1: "context"}  # sequence id -> token kind
FIRST_WINDOW_KEYS = ("tokens", "input_ids", "attention_mask", "token_type_ids")
# Why an answer lies wholly inside no window, and what to do about it.
MISS_REASONS = {
    "long": ("the answer ({tokens} tokens) is longer than the {room} context tokens of a window",
             "raise the max length"),
    "edge": ("the answer ({tokens} tokens) is longer than the {stride}-token overlap of the windows, so their "
             "edges cut it", "raise doc_stride to at least {tokens} or the max length"),
}


def preview(rows: pd.DataFrame, tokenizer, max_length: int = 128, doc_stride: int | None = None,
            sample_rows: int = 5) -> dict:
    """Length, window and answer statistics over all rows, and the first sample_rows rows as windows of tokens.

    rows: question, context, answer_text, answer_start as `qa_data` reads them, the index naming the table row.
    Keys: those of `tokenization.preview` (lengths of the whole pair, untruncated; truncated_rows/_share count the
    questions needing more than one window), and task, doc_stride, windows {mean, max, multi_window_share},
    questions_cut, answers_in_window_share (None without answered questions), answers_outside_windows
    [{row, answer_text, answer_start, cause, reason}] (the first SHOWN_MISSES).
    """
    started = time.perf_counter()
    tokenization.check_max_length(max_length)
    if rows.empty:
        raise StudioError("The table has no rows to preview.")
    limit = tokenization.max_positions(tokenizer)
    length = min(max_length, limit)
    stride = qa_features.checked_stride(length, doc_stride)
    questions = rows["question"].tolist()
    lengths, unknown = tokenization.count_tokens(tokenizer, questions, rows["context"].tolist())
    fitted = qa_features.fit_questions(tokenizer, questions, length, stride)
    cut = np.array([short != question for short, question in zip(fitted, questions)], dtype=bool)
    windows, found = np.ones(len(rows), dtype=np.int64), rows["answer_start"].to_numpy() >= 0
    long = lengths > length  # a pair that fits is one window holding the whole context, and so its answer
    windows[long], found[long] = scan_windows(tokenizer, rows[long], length, stride)
    multi = int((windows > 1).sum())
    result = {"task": TASK, "rows": len(rows), "pair": True, "max_length": max_length, "max_positions": limit,
              "doc_stride": stride}
    result |= tokenization.length_statistics(lengths, length, limit)
    result |= {"truncated_rows": multi, "truncated_share": round(multi / len(rows), 4),
               "suggested_max_length": min(QA_SUGGESTED_LENGTH, result["suggested_max_length"])}
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    result |= tokenization.unknown_statistics(unknown, int(lengths.sum()) - len(rows) * specials)
    result["windows"] = {"mean": round(float(windows.mean()), 2), "max": int(windows.max()),
                         "multi_window_share": result["truncated_share"]}
    result["questions_cut"] = int(cut.sum())
    answered = rows["answer_start"].to_numpy() >= 0
    missed = np.flatnonzero(answered & ~found)
    result["answers_in_window_share"] = round(float(found[answered].mean()), 4) if answered.any() else None
    result["answers_outside_windows"] = [outside_window(tokenizer, rows, fitted, position, length, stride)
                                         for position in missed[:SHOWN_MISSES]]
    result["warnings"] = qa_warnings(result, rows, cut, len(missed))
    result["tokenizer"] = tokenization.describe_tokenizer(tokenizer)
    result["samples"] = [sample_detail(tokenizer, rows.iloc[[position]], length, stride, int(lengths[position]),
                                       bool(cut[position])) for position in range(min(sample_rows, len(rows)))]
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


# ---------------------------------------------------------------- statistics


def scan_windows(tokenizer, rows: pd.DataFrame, length: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows per row, and whether each answer lies wholly inside one of them (False when unanswerable), encoding
    CHUNK_ROWS rows at a time to bound the Encoding objects alive at once."""
    windows, found = np.zeros(len(rows), dtype=np.int64), np.zeros(len(rows), dtype=bool)
    starts, answers = rows["answer_start"].to_numpy(), rows["answer_text"].tolist()
    for first in range(0, len(rows), tokenization.CHUNK_ROWS):
        chunk = rows.iloc[first:first + tokenization.CHUNK_ROWS]
        encoding = qa_features.frame_windows(chunk, tokenizer, length, stride)
        for window, row in enumerate(encoding["overflow_to_sample_mapping"]):
            row += first
            windows[row] += 1
            if starts[row] >= 0 and not found[row]:
                found[row] = qa_features.answer_tokens(encoding, window, int(starts[row]), answers[row]) != (0, 0)
    return windows, found


def outside_window(tokenizer, rows: pd.DataFrame, fitted: list[str], position: int, length: int, stride: int) -> dict:
    """An answered question whose answer no window holds whole (training cannot point at it), with why: `cause`, a
    key of MISS_REASONS, and `reason`, what it means and what to do, as one clause."""
    answer = rows["answer_text"].iloc[position]
    tokens = len(tokenizer(answer, add_special_tokens=False)["input_ids"])
    question = len(tokenizer(fitted[position], add_special_tokens=False)["input_ids"])
    room = length - tokenizer.num_special_tokens_to_add(pair=True) - question
    cause = "long" if tokens > room else "edge"
    why, fix = MISS_REASONS[cause]
    return {"row": int(rows.index[position]), "answer_text": answer,
            "answer_start": int(rows["answer_start"].iloc[position]), "cause": cause,
            "reason": f"{why}; {fix}".format(tokens=tokens, room=room, stride=stride)}


def qa_warnings(stats: dict, rows: pd.DataFrame, cut: np.ndarray, missed: int) -> list[str]:
    """The general warnings (positions, [UNK]; a long context is windowed, not cut) and those of windows."""
    warnings = tokenization.preview_warnings(stats | {"truncated_share": 0})
    length = min(stats["max_length"], stats["max_positions"])
    if stats["truncated_share"] > tokenization.TRUNCATION_WARNING_SHARE:
        warnings.append(f"{stats['truncated_share']:.0%} of the questions need more than one window of {length} "
                        f"tokens (up to {stats['windows']['max']}), each read as a training example of its own; "
                        f"fine for long contexts, or raise the max length (suggested: "
                        f"{stats['suggested_max_length']}) for fewer windows.")
    if cut.any():
        count = int(cut.sum())
        warnings.append(f"{_counted(count, 'question')} too long to leave a {length}-token window room for context "
                        f"{'is' if count == 1 else 'are'} cut to fit, as training cuts them (first: row "
                        f"{rows.index[np.argmax(cut)] + FIRST_DATA_ROW}); shorten them or raise the max length.")
    if missed:
        miss = stats["answers_outside_windows"][0]
        warnings.append(f"The answers to {_counted(missed, 'question')} lie wholly inside no window, so training "
                        f"cannot point at them (first: row {miss['row'] + FIRST_DATA_ROW}, '{miss['answer_text']}': "
                        f"{miss['reason']}).")
    return warnings


def _counted(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'s' * (count != 1)}"


# ---------------------------------------------------------------- sample rows


def sample_detail(tokenizer, row: pd.DataFrame, length: int, stride: int, total: int, cut: bool) -> dict:
    """One row (a one-row frame) as the model sees it: every window, its tokens marked special / unk / question /
    context / answer. tokens, input_ids, attention_mask (and token_type_ids) repeat the first window, for views
    that show one sequence per row; `truncated` says there are more windows."""
    values = row.iloc[0]
    start, answer = int(values["answer_start"]), values["answer_text"]
    sample = {"row": int(row.index[0]), "question": values["question"], "context": values["context"],
              "answer_text": answer, "answer_start": start, "length": total, "question_cut": cut, "windows": []}
    encoding = qa_features.frame_windows(row, tokenizer, length, stride)
    previous_end = None
    for window in range(len(encoding["input_ids"])):
        sample["windows"].append(window_detail(tokenizer, encoding, window, start, answer, previous_end))
        previous_end = sample["windows"][-1]["context_chars"][1]
    sample |= {key: sample["windows"][0][key] for key in FIRST_WINDOW_KEYS if key in sample["windows"][0]}
    sample["truncated"] = len(sample["windows"]) > 1
    return sample


def window_detail(tokenizer, encoding, window: int, answer_start: int, answer_text: str,
                  previous_end: int | None) -> dict:
    """One window: its tokens, the characters of the context it covers [start, end), the context tokens it shares
    with the previous window, and the answer's (start, end) tokens in it (None when it does not hold it whole)."""
    ids, offsets = encoding["input_ids"][window], encoding["offset_mapping"][window]
    first, last = qa_features.context_span(encoding, window)
    span = qa_features.answer_tokens(encoding, window, answer_start, answer_text)
    inside = range(span[0], span[1] + 1) if span != (0, 0) else range(0)
    pieces = tokenizer.convert_ids_to_tokens(ids)
    kinds = [token_kind(tokenizer, token_id, segment, position in inside)
             for position, (token_id, segment) in enumerate(zip(ids, encoding.sequence_ids(window)))]
    overlap = 0 if previous_end is None else sum(1 for start, _ in offsets[first:last + 1] if start < previous_end)
    detail = {
        "window": window,
        "tokens": [{"token": piece, "id": token_id, "kind": kind} for piece, token_id, kind in zip(pieces, ids, kinds)],
        "input_ids": list(ids), "attention_mask": list(encoding["attention_mask"][window]),
        "context_chars": [offsets[first][0], offsets[last][1]], "overlap_tokens": overlap,
        "answer_tokens": list(span) if inside else None,
    }
    if "token_type_ids" in encoding:
        detail["token_type_ids"] = list(encoding["token_type_ids"][window])
    return detail


def token_kind(tokenizer, token_id: int, segment: int | None, in_answer: bool) -> str:
    if segment is None:
        return "special"
    if token_id == getattr(tokenizer, "unk_token_id", None):
        return "unk"
    return "answer" if in_answer else SEGMENT_KINDS[segment]
