"""Predictions of the kinds that read one text (or a text pair) a row, from a finished run: tokenized in one call,
sorted by length and padded per batch to its own longest row (as the trainer evaluates), the head's logits read by
the kind (`SequenceKind.outputs`), explained by Integrated Gradients of what the kind attributes (`attributed`),
and written as CSV cells for batch scoring.

Functions take a loaded run (backend.serving.inference.LoadedRun): its model, tokenizer, labels (None for values),
its kind, and `checked_pairs`, the serving layer's check of second texts against what the model reads.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from backend.data.batching import Collator
from backend.data.cells import escape_cell
from backend.schemas import StudioError
from backend.tasks import attribution

DIGITS = 6
DEFAULT_THRESHOLD = 0.5  # multi-label: a label is given when the model finds it more likely than not, as in training


def checked_threshold(threshold: float | None) -> float:
    """The multi-label threshold to use: DEFAULT_THRESHOLD when None, else a number from 0 to 1."""
    if threshold is None:
        return DEFAULT_THRESHOLD
    if not 0 <= threshold <= 1:  # NaN fails this too
        raise StudioError(f"The threshold must be between 0 and 1 (got {threshold}); {DEFAULT_THRESHOLD} gives the "
                          "labels the model finds more likely than not.")
    return float(threshold)


def as_text(value) -> str:
    return "" if value is None else str(value)


def outputs(run, logits: torch.Tensor) -> torch.Tensor:
    return run.kind.outputs(logits.float())


# ---------------------------------------------------------------- predicting


def scores(run, texts: list[str], pairs: list[str] | None, batch_size: int) -> np.ndarray:
    """The kind's outputs per text (rows, labels), or values (rows,) when the kind has no labels, in text order."""
    texts, pairs = [as_text(text) for text in texts], run.checked_pairs(len(texts), pairs)
    width = len(run.labels) if run.labels else 1
    found = np.zeros((len(texts), width), dtype=np.float32)
    if texts:
        encoded = run.tokenizer(texts, pairs, truncation=True, max_length=run.max_length, padding=False)
        features = {name: encoded[name] for name in run.input_names}
        order = np.argsort([-len(ids) for ids in features["input_ids"]], kind="stable")
        collate = Collator(run.tokenizer.pad_token_id or 0, float_labels=True)  # its labels are unused
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size].tolist()
                batch = collate([(i, {name: values[i] for name, values in features.items()}, 0.0) for i in rows])
                inputs = {name: batch[name].to(run.device) for name in run.input_names}
                found[rows] = outputs(run, run.model(**inputs).logits).cpu().numpy()
    return found if run.labels else found[:, 0]


def predict(run, texts: list[str], pairs: list[str] | None, batch_size: int, threshold: float | None) -> list[dict]:
    """The kind's prediction record per text, from the run's `predict_scores` (the threshold is read by label sets)."""
    cut = checked_threshold(threshold)
    return [run.kind.prediction(run, np.atleast_1d(row).tolist(), cut)
            for row in run.predict_scores(texts, pairs, batch_size)]


def predict_one(run, text: str, pair: str | None, threshold: float | None) -> dict:
    """The hot path (the Playground and the API): a bare `model(**tokenizer(text))`, no padding, plus `latency_ms`
    (tokenize, forward and the kind's outputs)."""
    cut = checked_threshold(threshold)
    pairs = run.checked_pairs(1, None if pair is None else [pair])
    started = time.perf_counter()
    encoded = run.tokenizer(as_text(text), pairs[0] if pairs else None, truncation=True, max_length=run.max_length,
                            return_tensors="pt")
    with torch.inference_mode():
        logits = run.model(**{name: encoded[name].to(run.device) for name in run.input_names}).logits
        row = outputs(run, logits)[0].tolist()
    latency = (time.perf_counter() - started) * 1000
    return run.kind.prediction(run, row, cut) | {"latency_ms": round(latency, 3)}


# ---------------------------------------------------------------- explaining


def explain(run, text: str, pair: str | None, target: str | None, steps: int) -> dict:
    """backend.serving.inference.explain for these kinds: Integrated Gradients of the target's attributed output (its
    log-probability, log-sigmoid or the value) on the input word embeddings."""
    pairs = run.checked_pairs(1, None if pair is None else [pair])
    texts = (as_text(text), pairs[0] if pairs else None)
    encoded = run.tokenizer(*texts, truncation=True, max_length=run.max_length, return_tensors="pt",
                            return_offsets_mapping=True, return_special_tokens_mask=True)
    inputs = {name: encoded[name].to(run.device) for name in run.input_names}
    special = encoded["special_tokens_mask"][0].bool()
    with torch.inference_mode():
        row = outputs(run, run.model(**inputs).logits)[0].tolist()
    prediction = run.kind.prediction(run, row, DEFAULT_THRESHOLD)
    index = target_index(run, target or surest_label(prediction))
    attributions = integrated_gradients(run, inputs, special, index, steps)[0].cpu()
    tokens = attribution.token_scores(run.tokenizer, encoded, attributions)
    full = run.tokenizer(*texts, truncation=False)["input_ids"]
    return {"label": run.labels[index] if run.labels else None, "method": "integrated_gradients",
            "steps": steps, "prediction": prediction, "truncated": len(full) > len(tokens),
            "tokens": tokens, "words": attribution.word_scores(encoded, attributions, texts)}


def surest_label(prediction: dict) -> str | None:
    """explain's default target: the predicted class, or the label with the highest score (None for a value)."""
    found = prediction.get("scores")
    return prediction.get("label") or (max(found, key=found.get) if found else None)


def target_index(run, target: str | None) -> int:
    if run.labels is None:
        return 0
    if target not in run.labels:
        raise StudioError(f"Unknown label {target!r}; this model's labels are: {', '.join(run.labels)}.")
    return run.labels.index(target)


def integrated_gradients(run, inputs: dict, special: torch.Tensor, index: int, steps: int):
    """attribution.integrated_gradients of column `index` of what the kind attributes (a label's log-probability,
    its log-sigmoid for multi-label, or the value for regression)."""
    def target(output) -> torch.Tensor:
        return run.kind.attributed(output.logits.float())[:, index]

    return attribution.integrated_gradients(run.model, run.tokenizer.pad_token_id or 0, inputs, special, target, steps)


# ---------------------------------------------------------------- batch scoring


def label_cells(run, texts: list[str], pairs: list[str] | None, usable: list[int]) -> tuple:
    """Classification: predicted_label, confidence and p_<label> per class; label_counts {label: rows}."""
    found = run.predict_scores([texts[i] for i in usable], None if pairs is None else [pairs[i] for i in usable])
    added = ["predicted_label", "confidence"] + [f"p_{label}" for label in run.labels]
    cells = [[""] * len(added) for _ in texts]
    for i, row in zip(usable, found):
        best = int(row.argmax())
        cells[i] = [escape_cell(run.labels[best])[0], f"{row[best]:.4f}"] + [f"{p:.4f}" for p in row]
    counts = np.bincount(found.argmax(axis=1), minlength=len(run.labels)) if len(found) else np.zeros(
        len(run.labels), dtype=int)
    return added, cells, {"label_counts": {label: int(count) for label, count in zip(run.labels, counts)}}


def value_cells(run, texts: list[str], pairs: list[str] | None, usable: list[int]) -> tuple:
    """Regression: predicted_value; value_stats {min, max, mean} over the scored rows."""
    found = run.predict_scores([texts[i] for i in usable], None if pairs is None else [pairs[i] for i in usable])
    cells = [[""] for _ in texts]
    for i, value in zip(usable, found):
        cells[i] = [f"{float(value):.{DIGITS}g}"]
    stats = {"min": found.min(), "max": found.max(), "mean": found.mean()} if len(found) else {}
    return ["predicted_value"], cells, {"value_stats": {key: round(float(value), 4) for key, value in stats.items()}}


def label_set_cells(run, texts: list[str], pairs: list[str] | None, usable: list[int], threshold: float) -> tuple:
    """Multi-label: the labels at or above the threshold joined by the run's separator (| when it had none), then
    each label's probability; label_counts {label: rows given it} and the threshold."""
    found = run.predict_scores([texts[i] for i in usable], None if pairs is None else [pairs[i] for i in usable])
    given = found >= threshold
    joiner = run.spec.data.label_separator or "|"
    cells = [[""] * (1 + len(run.labels)) for _ in texts]
    for i, row, picks in zip(usable, found, given):
        names = joiner.join(label for label, pick in zip(run.labels, picks) if pick)
        cells[i] = [escape_cell(names)[0]] + [f"{p:.4f}" for p in row]
    added = ["predicted_labels"] + [f"p_{label}" for label in run.labels]
    counts = dict(zip(run.labels, map(int, given.sum(axis=0))))  # scores are (rows, labels), also with no rows
    return added, cells, {"label_counts": counts, "threshold": threshold}
