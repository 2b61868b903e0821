"""Extractive QA as the model sees it: a question and a context cut into overlapping windows, the answer as a
start and an end token in each window (or the first token, [CLS], when the window does not hold it).

A context longer than max_length is not truncated but split: each window repeats the question and shows the next
stretch of context, overlapping the previous one by `stride` tokens so an answer cut at one window's edge is whole
in the next. Training learns from every window; evaluation and prediction score every window of a question and
keep the best span over all of them, or no answer when the [CLS] score beats every span.
"""
from __future__ import annotations

MIN_STRIDE = 0


def stride_for(max_length: int, doc_stride: int | None) -> int:
    """Tokens shared by neighbouring windows: `doc_stride`, or a quarter of max_length when it is None."""
    return max_length // 4 if doc_stride is None else int(doc_stride)


def encode_windows(tokenizer, questions: list[str], contexts: list[str], max_length: int, stride: int):
    """Every window of every (question, context) row, unpadded, in one batched call of the fast tokenizer.

    Only the context is ever cut (truncation="only_second"); `encoding["overflow_to_sample_mapping"][k]` is the row
    of window k, `encoding["offset_mapping"][k]` the character span of each token in its own text, and
    `encoding.sequence_ids(k)` tells question tokens (0) from context tokens (1) and special tokens (None).
    """
    return tokenizer(questions, contexts, truncation="only_second", max_length=max_length, stride=stride,
                     return_overflowing_tokens=True, return_offsets_mapping=True, padding=False)


def context_span(encoding, window: int) -> tuple[int, int]:
    """First and last token positions of the context in a window."""
    segments = encoding.sequence_ids(window)
    first = segments.index(1)
    last = len(segments) - 1 - segments[::-1].index(1)
    return first, last


def answer_tokens(encoding, window: int, answer_start: int, answer_text: str) -> tuple[int, int]:
    """(start, end) token positions of the answer in a window, both inclusive; (0, 0), the [CLS] token, when the
    question has no answer (answer_start < 0) or the answer does not lie wholly inside this window."""
    if answer_start < 0 or not answer_text:
        return 0, 0
    answer_end = answer_start + len(answer_text)  # exclusive character offset
    offsets = encoding["offset_mapping"][window]
    first, last = context_span(encoding, window)
    if offsets[first][0] > answer_start or offsets[last][1] < answer_end:
        return 0, 0
    start = first
    while start <= last and offsets[start][1] <= answer_start:
        start += 1
    end = last
    while end >= first and offsets[end][0] >= answer_end:
        end -= 1
    return start, end
