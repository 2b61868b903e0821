"""Token classification as the model sees it: a sentence's words as word pieces in windows, each word's tag on its
first piece.

A word's tag is learnt and predicted on its first word piece; its other pieces are labelled -100, which the loss of
`AutoModelForTokenClassification` ignores. A sentence longer than a window is not truncated but read in windows that
start and end on word boundaries and share up to `stride` word pieces (in whole words) with their neighbour, so no
word is ever cut between two windows and every word is in at least one. Training learns every word in every window
that holds it. Evaluation and prediction take each word's tag from the window where its first piece sits most
centrally (farthest from the window's nearer edge, so with the most context on both sides; a tie goes to the first
such window), so every word gets exactly one prediction.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from backend.data.batching import Collator, EncodedSet, Evaluation, LengthGroupedBatches, SortedBatches
from backend.tasks.qa.features import checked_stride, loader, model_inputs
from backend.schemas import StudioError
from backend.tasks.tokens.metrics import OUTSIDE, repair_tags, token_metrics

IGNORED = -100  # the label torch's cross-entropy (and so the token-classification head) leaves out of the loss
PAD_LOGIT = 0.0  # pads a shorter window's logits to max_length; decoding never reads padding


def head_config(labels: list[str]) -> dict:
    """What `AutoModelForTokenClassification.from_pretrained` takes so the saved model names its own tags."""
    return {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
            "label2id": {label: i for i, label in enumerate(labels)}}


# ---------------------------------------------------------------- windows

@dataclass(frozen=True)
class Windows:
    """Every window of some sentences: the tokenizer's encoding of the windows' words, and for window k its
    sentence `rows[k]` and the sentence position of its first word `starts[k]`; `chosen[row][word]` is the
    (window, token position) a word's tag is read from, None for a word with no word piece at all."""

    encoding: object
    rows: np.ndarray
    starts: np.ndarray
    chosen: list[list[tuple[int, int] | None]]

    def first_pieces(self, window: int) -> dict[int, int]:
        """{word (position in its sentence): token position of its first piece} for the words of one window."""
        found: dict[int, int] = {}
        for position, word in enumerate(self.encoding.word_ids(window)):
            if word is not None and word + self.starts[window] not in found:
                found[int(word + self.starts[window])] = position
        return found


def piece_counts(tokenizer, sentences: list[list[str]]) -> list[list[int]]:
    """Word pieces of each word of each sentence, in one batched call of the fast tokenizer."""
    if not sentences:
        return []
    encoding = tokenizer(sentences, is_split_into_words=True, add_special_tokens=False)
    counts = []
    for row, words in enumerate(sentences):
        row_counts = [0] * len(words)
        for word in encoding.word_ids(row):
            if word is not None:
                row_counts[word] += 1
        counts.append(row_counts)
    return counts


def plan_windows(counts: list[int], room: int, stride: int) -> list[tuple[int, int]]:
    """(first word, end word) of each window over words with these piece counts: as many whole words as fit in
    `room` pieces (a word longer than a window alone, cut by the tokenizer), the next window starting with the last
    words of this one that hold at most `stride` pieces. Always one window, also for an empty sentence."""
    windows, start = [], 0
    while True:
        end, used = start, 0
        while end < len(counts) and (end == start or used + counts[end] <= room):
            used, end = used + counts[end], end + 1
        windows.append((start, end))
        if end >= len(counts):
            return windows
        following, shared = end, 0
        while following - 1 > start and shared + counts[following - 1] <= stride:
            following, shared = following - 1, shared + counts[following - 1]
        start = following if shared + counts[end] <= room else end  # a window must bring a new word


def choose_windows(windows: Windows, sentence_lengths: list[int]) -> list[list[tuple[int, int] | None]]:
    """For each word, the (window, position) where its first piece is farthest from the nearer end of the
    window's words; the first such window on a tie."""
    chosen: list[list] = [[None] * length for length in sentence_lengths]
    best: list[list[int]] = [[-1] * length for length in sentence_lengths]
    for window, row in enumerate(windows.rows.tolist()):
        words = [position for position, word in enumerate(windows.encoding.word_ids(window)) if word is not None]
        if not words:
            continue
        first, last = words[0], words[-1]
        for word, position in windows.first_pieces(window).items():
            centrality = min(position - first, last - position)
            if centrality > best[row][word]:
                best[row][word], chosen[row][word] = centrality, (window, position)
    return chosen


def encode_windows(tokenizer, sentences: list[list[str]], max_length: int, stride: int) -> Windows:
    """Every window of every sentence, unpadded, with special tokens, and where each word's tag is read."""
    room = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    if room < 1:
        raise StudioError(f"The max length ({max_length}) leaves no room for words after the special tokens; "
                          "raise it.")
    plans = [plan_windows(counts, room, stride) for counts in piece_counts(tokenizer, sentences)]
    rows = np.asarray([row for row, plan in enumerate(plans) for _ in plan], dtype=np.int64)
    starts = np.asarray([start for plan in plans for start, _ in plan], dtype=np.int64)
    pieces = [sentences[row][start:end] for row, plan in enumerate(plans) for start, end in plan]
    encoding = tokenizer(pieces, is_split_into_words=True, truncation=True, max_length=max_length, padding=False)
    windows = Windows(encoding, rows, starts, [])
    return Windows(encoding, rows, starts, choose_windows(windows, [len(words) for words in sentences]))


def sentences_of(frame: pd.DataFrame) -> list[list[str]]:
    return [list(map(str, words)) for words in frame["tokens"]]


def window_labels(windows: Windows, tags: list[list[str]], label2id: dict[str, int]) -> list[list[int]]:
    """Per window, the tag id of each word on its first piece and IGNORED on every other token."""
    labelled = []
    for window, row in enumerate(windows.rows.tolist()):
        ids = [IGNORED] * len(windows.encoding["input_ids"][window])
        for word, position in windows.first_pieces(window).items():
            ids[position] = label2id[tags[row][word]]
        labelled.append(ids)
    return labelled


def training_set(frame: pd.DataFrame, tokenizer, max_length: int, stride: int, labels: list[str]) -> EncodedSet:
    """Every window of every sentence, labelled on each word's first piece."""
    windows = encode_windows(tokenizer, sentences_of(frame), max_length, stride)
    label2id = {label: i for i, label in enumerate(labels)}
    unknown = sorted({tag for tags in frame["tags"] for tag in tags} - set(label2id))
    if unknown:
        raise StudioError(f"The tags {', '.join(unknown[:5])} are not among the model's tags; train a new model "
                          "on these data.")
    features, lengths = model_inputs(tokenizer, windows.encoding)
    targets = np.empty(len(lengths), dtype=object)
    targets[:] = window_labels(windows, list(frame["tags"]), label2id)
    return EncodedSet(features, targets, lengths)


def evaluation_set(frame: pd.DataFrame, tokenizer, max_length: int, stride: int) -> tuple[EncodedSet, Windows]:
    """Every window labelled with its sentence's row, and the windows for decoding."""
    windows = encode_windows(tokenizer, sentences_of(frame), max_length, stride)
    features, lengths = model_inputs(tokenizer, windows.encoding)
    return EncodedSet(features, windows.rows.copy(), lengths), windows


class TokenCollator(Collator):
    """Pads like Collator. Training batches carry a tag id (or IGNORED) per token as `labels`, padded with IGNORED;
    evaluation batches carry each window's sentence row."""

    def __init__(self, pad_token_id: int, training: bool):
        super().__init__(pad_token_id, float_labels=False)
        self.training = training

    def __call__(self, rows):
        if not self.training:
            return super().__call__(rows)
        batch = super().__call__([(index, features, 0) for index, features, _ in rows])
        labels = torch.full(batch["input_ids"].shape, IGNORED, dtype=torch.long)
        for i, (_, _, ids) in enumerate(rows):
            labels[i, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
        batch["labels"] = labels
        return batch


def token_logits(output, width: int) -> torch.Tensor:
    """(batch, width, tags) logits, padded to `width` tokens: every batch gives rows of one shape, so the trainer
    can gather them across batches and processes."""
    logits = output.logits.float()
    return torch.nn.functional.pad(logits, (0, 0, 0, width - logits.shape[1]), value=PAD_LOGIT)


# ---------------------------------------------------------------- from logits to tags

def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.asarray(logits, dtype=np.float64) - np.max(logits, axis=-1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=-1, keepdims=True)


def word_probabilities(logits: np.ndarray, windows: Windows) -> list[np.ndarray]:
    """Per sentence, (words, tags) probabilities read at each word's chosen first piece; a word with no piece gets
    probability 1 for O (label 0), the only tag it can have without being seen."""
    sentences = []
    for chosen in windows.chosen:
        at = [place for place in chosen if place is not None]
        picked = softmax(logits[[w for w, _ in at], [p for _, p in at]]) if at else np.zeros((0, logits.shape[-1]))
        probabilities = np.zeros((len(chosen), logits.shape[-1]))
        probabilities[:, 0] = 1.0
        probabilities[[i for i, place in enumerate(chosen) if place is not None]] = picked
        sentences.append(probabilities)
    return sentences


def decode(probabilities: np.ndarray, id2label: dict[int, str]) -> tuple[list[str], list[float]]:
    """The most likely tag of each word, repaired as the gold tags are (`metrics.repair_tags`), and its
    probability (that of the tag before the repair, which the model gave)."""
    best = probabilities.argmax(axis=1) if len(probabilities) else np.zeros(0, dtype=np.int64)
    tags, _ = repair_tags([id2label[int(i)] for i in best])
    return tags, [round(float(probabilities[i, tag]), 6) for i, tag in enumerate(best.tolist())]


def predicted_tags(logits: np.ndarray, windows: Windows, id2label: dict[int, str]) -> list[list[str]]:
    return [decode(probabilities, id2label)[0] for probabilities in word_probabilities(logits, windows)]


def gold_loss(probabilities: list[np.ndarray], gold: list[list[str]], label2id: dict[str, int]) -> float:
    """Mean cross-entropy of the gold tags at the words' chosen pieces (tags the model lacks left out): the loss
    training minimises, read once per word."""
    losses = [-np.log(max(p[i, label2id[tag]], 1e-12)) for p, tags in zip(probabilities, gold)
              for i, tag in enumerate(tags) if tag in label2id]
    return round(float(np.mean(losses)), 6) if losses else 0.0


def tokens_dataloaders(spec, splits, tokenizer, model):
    """The trainer's seam for token classification: windows in length-grouped, dynamically padded batches, and an
    Evaluation that reads one tag per word from its most central window and scores them with seqeval."""
    stride = checked_stride(spec.max_length, spec.doc_stride)
    if len(splits.train) == 0 or len(splits.eval) == 0:
        raise StudioError("The training or evaluation set is empty; check the CSV files and the eval fraction.")
    id2label = {int(i): label for i, label in model.config.id2label.items()}
    labels = [id2label[i] for i in range(len(id2label))]  # the model config's order, so it describes its outputs
    train_set = training_set(splits.train, tokenizer, spec.max_length, stride, labels)
    eval_set, windows = evaluation_set(splits.eval, tokenizer, spec.max_length, stride)
    pad = tokenizer.pad_token_id or 0
    train_dl = loader(train_set, LengthGroupedBatches(train_set.lengths, spec.batch_size, spec.seed),
                       TokenCollator(pad, training=True), spec.seed)
    eval_dl = loader(eval_set, SortedBatches(eval_set.lengths, spec.batch_size * 2),
                      TokenCollator(pad, training=False), spec.seed)
    gold = [list(tags) for tags in splits.eval["tags"]]

    def score(outputs: np.ndarray, rows: np.ndarray) -> dict:
        probabilities = word_probabilities(outputs, windows)
        predicted = [decode(p, id2label)[0] for p in probabilities]
        return {"loss": gold_loss(probabilities, gold, {v: k for k, v in id2label.items()})} | token_metrics(
            predicted, gold)
    return train_dl, eval_dl, Evaluation(outputs=lambda output: token_logits(output, spec.max_length), score=score)

