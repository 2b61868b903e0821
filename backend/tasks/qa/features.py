"""Extractive QA as the model sees it: a question and a context cut into overlapping windows, the answer as a
start and an end token in each window (or the first token, [CLS], when the window does not hold it).

A context longer than max_length is not truncated but split: each window repeats the question and shows the next
stretch of context, overlapping the previous one by `stride` tokens so an answer cut at one window's edge is whole
in the next. Training learns from every window; evaluation and prediction score every window of a question and
keep the best span over all of them, or no answer when the [CLS] score beats every span.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from backend.data.batching import Collator, EncodedSet
from backend.schemas import StudioError

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


# ---------------------------------------------------------------- windows for training and evaluation

# Postprocessing looks for the best span among a window's N_BEST highest start and N_BEST highest end logits: 400
# pairs instead of every pair (~74,000 in a 384-token window), and the best valid span is almost always among them.
# A span longer than MAX_ANSWER_TOKENS is taken as a far start wrongly paired with an end: answers are a few words.
# (BERT's SQuAD scripts use the same two limits.)
N_BEST = 20
MAX_ANSWER_TOKENS = 30
PAD_LOGIT = -1e4  # pads a shorter window's logits to max_length; padding lies outside the context, never a span


def checked_stride(max_length: int, doc_stride: int | None) -> int:
    """The stride, refused when neighbouring windows would share half a window or more (each window would bring
    almost no new context, and the fast tokenizer cannot slide a stride that leaves no room)."""
    stride = stride_for(max_length, doc_stride)
    if not MIN_STRIDE <= stride < max_length // 2:
        raise StudioError(f"The doc stride ({stride} tokens shared by neighbouring windows) must be at least 0 and "
                          f"below half the max length ({max_length}); lower it or leave it empty for a quarter.")
    return stride


def fit_questions(tokenizer, questions: list[str], max_length: int, stride: int) -> list[str]:
    """Questions cut to half of a window's room after the special tokens and the stride, so every window still brings
    at least as many new context tokens as the question takes. (A question leaving no room makes the fast tokenizer
    panic instead of raising an error.)"""
    room = max_length - tokenizer.num_special_tokens_to_add(pair=True) - stride
    budget = max(1, room // 2)
    spans = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    return [question if len(offsets) <= budget else question[: offsets[budget - 1][1]]
            for question, offsets in zip(questions, spans)]


def frame_windows(frame: pd.DataFrame, tokenizer, max_length: int, stride: int):
    """encode_windows over a frame's `question` and `context` columns, the questions cut to fit first."""
    questions, contexts = frame["question"].astype(str).tolist(), frame["context"].astype(str).tolist()
    return encode_windows(tokenizer, fit_questions(tokenizer, questions, max_length, stride), contexts, max_length,
                          stride)


def model_inputs(tokenizer, encoding) -> tuple[dict[str, list[list[int]]], np.ndarray]:
    """The inputs the model takes (no offsets or window mapping) and each window's length in tokens."""
    features = {name: encoding[name] for name in tokenizer.model_input_names if name in encoding}
    lengths = np.fromiter(map(len, encoding["input_ids"]), dtype=np.int64, count=len(encoding["input_ids"]))
    return features, lengths


def context_offsets(encoding) -> list[list[tuple[int, int] | None]]:
    """Per window, the character span in the context of the word each token belongs to; None for question and
    special tokens, so that a predicted span can only start and end inside the context.

    Whole words, not word pieces: a span the model starts at "##eille" of "Mireille" reads "Mireille", not
    "eille". The gold answers are words, so this never costs a right answer and turns half-words into whole ones.
    """
    windows = []
    for window, spans in enumerate(encoding["offset_mapping"]):
        segments, words = encoding.sequence_ids(window), encoding.word_ids(window)
        extent: dict[int, tuple[int, int]] = {}
        for (start, end), segment, word in zip(spans, segments, words):
            if segment == 1 and word is not None:
                low, high = extent.get(word, (start, end))
                extent[word] = (min(low, start), max(high, end))
        windows.append([extent[word] if segment == 1 and word is not None else None
                        for segment, word in zip(segments, words)])
    return windows


def training_windows(frame: pd.DataFrame, tokenizer, max_length: int, stride: int) -> EncodedSet:
    """Every window of every row, labelled (start, end) with the answer's tokens, or (0, 0), [CLS], when the window
    does not hold the answer.

    All windows are kept, also the many without an answer (every window of an unanswerable question, the windows of a
    long context that miss it): they teach the [CLS] score that prediction weighs every span against, so it is learned
    from windows as prediction meets them. Dropping some of them (as some SQuAD 2.0 recipes do to train faster) would
    make the model answer where it should abstain.
    """
    encoding = frame_windows(frame, tokenizer, max_length, stride)
    starts, answers = frame["answer_start"].astype(int).tolist(), frame["answer_text"].astype(str).tolist()
    positions = [answer_tokens(encoding, window, starts[row], answers[row])
                 for window, row in enumerate(encoding["overflow_to_sample_mapping"])]
    features, lengths = model_inputs(tokenizer, encoding)
    return EncodedSet(features, np.asarray(positions, dtype=np.int64).reshape(-1, 2), lengths)


def evaluation_windows(frame: pd.DataFrame, tokenizer, max_length: int,
                       stride: int) -> tuple[EncodedSet, list[list[tuple[int, int] | None]]]:
    """Every window labelled with its question's row, and each window's context offsets for postprocessing."""
    encoding = frame_windows(frame, tokenizer, max_length, stride)
    features, lengths = model_inputs(tokenizer, encoding)
    rows = np.asarray(encoding["overflow_to_sample_mapping"], dtype=np.int64)
    return EncodedSet(features, rows, lengths), context_offsets(encoding)


class QACollator(Collator):
    """Pads like Collator. Training batches carry each window's answer tokens as start_positions/end_positions, what
    the question-answering head computes its loss from, instead of labels (which it does not take)."""

    def __init__(self, pad_token_id: int, training: bool):
        super().__init__(pad_token_id, float_labels=False)
        self.training = training

    def __call__(self, rows):
        batch = super().__call__(rows)
        if self.training:
            batch["start_positions"], batch["end_positions"] = batch.pop("labels").unbind(dim=1)
        return batch


def span_logits(output, width: int) -> torch.Tensor:
    """Start and end logits side by side, (batch, width, 2), padded to `width` tokens with PAD_LOGIT: every batch
    gives rows of one shape, so the trainer can gather them across batches and processes."""
    logits = torch.stack((output.start_logits, output.end_logits), dim=-1).float()
    return torch.nn.functional.pad(logits, (0, 0, 0, width - logits.shape[1]), value=PAD_LOGIT)


def loader(dataset: EncodedSet, sampler, collate, seed: int) -> DataLoader:
    """Windows in batches as batching.build_dataloaders makes them: no worker processes, and a generator of its own so
    that starting an epoch leaves the global RNG (dropout) alone."""
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=0,
                      generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- from logits to answers


@dataclass(frozen=True)
class Span:
    """A candidate answer: start logit + end logit, its character offsets in the context (end exclusive), and its
    first and last token in its window."""

    score: float
    start: int
    end: int
    first: int
    last: int


@dataclass(frozen=True)
class Decision:
    """One question over all its windows.

    `spans`: the valid spans of the window holding the best one, best first (empty when no window has any);
    `window`: that window's position among the question's windows; `null_score`: the smallest [CLS] score (start +
    end logit at position 0) over the windows. The smallest, because a window that misses the answer rightly scores
    [CLS] high and says nothing about the others; the window most sure the answer is there speaks for the question.
    """

    spans: list[Span]
    null_score: float
    window: int | None

    @property
    def answered(self) -> bool:
        return bool(self.spans) and self.spans[0].score > self.null_score


def window_spans(start_logits: np.ndarray, end_logits: np.ndarray, offsets: list) -> list[Span]:
    """The valid spans of one window, best first: start and end among its N_BEST highest logits inside the context,
    end not before start, at most MAX_ANSWER_TOKENS tokens. Logits beyond len(offsets) (padding) are ignored."""
    size = len(offsets)
    inside = np.fromiter((span is not None for span in offsets), dtype=bool, count=size)
    starts = np.where(inside, np.asarray(start_logits[:size], dtype=np.float64), -np.inf)
    ends = np.where(inside, np.asarray(end_logits[:size], dtype=np.float64), -np.inf)
    top_starts, top_ends = (np.argsort(-values, kind="stable")[:N_BEST] for values in (starts, ends))
    top_starts, top_ends = top_starts[inside[top_starts]], top_ends[inside[top_ends]]
    scores = starts[top_starts][:, None] + ends[top_ends][None, :]
    length = top_ends[None, :] - top_starts[:, None]
    first, second = np.nonzero((length >= 0) & (length < MAX_ANSWER_TOKENS))
    order = np.argsort(-scores[first, second], kind="stable")
    spans = []
    for start, end in zip(top_starts[first[order]].tolist(), top_ends[second[order]].tolist()):
        spans.append(Span(float(starts[start] + ends[end]), offsets[start][0], offsets[end][1], start, end))
    return spans


def decide(windows: list[tuple[np.ndarray, list]]) -> Decision:
    """The decision for one question from its windows, each (logits (tokens, 2): start and end, context offsets)."""
    if not windows:
        return Decision([], 0.0, None)
    per_window = [window_spans(logits[:, 0], logits[:, 1], offsets) for logits, offsets in windows]
    null = min(float(logits[0, 0] + logits[0, 1]) for logits, _ in windows)
    best = max((i for i, spans in enumerate(per_window) if spans), key=lambda i: per_window[i][0].score, default=None)
    return Decision(per_window[best] if best is not None else [], null, best)


def decisions(logits: np.ndarray, rows, offsets: list, questions: int) -> list[Decision]:
    """One Decision per question: `logits[k]` (tokens, 2) are window k's start and end logits, `rows[k]` its
    question, `offsets[k]` its context offsets."""
    windows = defaultdict(list)
    for window, row in enumerate(np.asarray(rows).tolist()):
        windows[row].append((logits[window], offsets[window]))
    return [decide(windows[row]) for row in range(questions)]


def answer_text(decision: Decision, context: str) -> str:
    """The best span's text when it beats the null score, else "" (no answer)."""
    return context[decision.spans[0].start:decision.spans[0].end] if decision.answered else ""


def predicted_answers(logits: np.ndarray, rows, offsets: list, contexts: list[str]) -> list[str]:
    """One answer per question ("": no answer), the path evaluation scores; see `decisions` for the arguments."""
    return [answer_text(decision, context)
            for decision, context in zip(decisions(logits, rows, offsets, len(contexts)), contexts)]


def probabilities(decision: Decision) -> tuple[np.ndarray, float]:
    """(probability of each of `decision.spans`, probability of no answer): a softmax over the best window's valid
    spans and the question's null score.

    Why this set: training normalises start and end logits over one window's positions, so exp(start + end) is
    proportional to the model's probability of a span within its window, while spans of other windows are on other
    scales. The null score enters as the decision uses it, so the answer the model gives (or its abstention) always
    has the higher probability of the two. Spans the model could never give (outside the context, reversed, too long)
    are left out.
    """
    scores = np.array([span.score for span in decision.spans] + [decision.null_score], dtype=np.float64)
    weights = np.exp(scores - scores.max())
    weights /= weights.sum()
    return weights[:-1], float(weights[-1])
