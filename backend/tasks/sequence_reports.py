"""Classification and regression runs examined: the validation rows predicted once, then the confusion matrix,
per-class scores, confident mistakes and confidence histogram (classification), residuals and worst errors
(regression), and the rows two runs predict differently.

backend.serving.analysis caches the rows and backend.serving.compare lines two runs' rows up; they reach these
through the kinds (SequenceKind, Regression). Everything returned is plain JSON-safe data.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from backend.schemas import StudioError

MAX_POINTS = 2_000  # predicted-vs-gold points for a scatter plot; more only slows the browser down
HISTOGRAM_BINS = 10
DIGITS = 4


# ---------------------------------------------------------------- the validation rows, predicted


def eval_rows(run, frame: pd.DataFrame, row) -> list[dict]:
    """text, text_pair (pair runs) and `row(labels, gold, score)`'s fields per validation row, from the run's
    `predict_scores`; a label the model does not know means the CSV changed after training."""
    if run.labels is not None and not set(frame["label"]) <= set(run.labels):
        raise StudioError(f"{Path(run.spec.data.train_csv).name} has labels the model of {run.run_dir.name} does not "
                          "know, so it changed after training; put the original file back or train again.")
    texts = frame["text"].tolist()
    pairs = frame["text_pair"].tolist() if "text_pair" in frame else None
    found = run.predict_scores(texts, pairs)
    rows = [{"text": text} | ({"text_pair": pairs[i]} if pairs else {}) for i, text in enumerate(texts)]
    for record, gold, score in zip(rows, frame["label"].tolist(), found):
        record |= row(run.labels, gold, score)
    return rows


def classification_row(labels: list[str], gold: str, score: np.ndarray) -> dict:
    best = int(score.argmax())
    return {"gold": gold, "predicted": labels[best], "confidence": round(float(score[best]), 6),
            "correct": labels[best] == gold, "scores": {label: round(float(p), 6) for label, p in zip(labels, score)}}


def regression_row(labels, gold: float, value: float) -> dict:
    return {"gold": float(gold), "predicted": round(float(value), 6), "error": round(float(value) - float(gold), 6)}


# ---------------------------------------------------------------- error reports


def classification_report(frame: pd.DataFrame, labels: list[str], max_examples: int) -> dict:
    """accuracy, macro_f1, confusion_matrix (rows gold, columns predicted, in `labels` order), per_class [{label,
    precision, recall, f1, support}], misclassified (confident mistakes first) [{text, text_pair, gold, predicted,
    confidence, gold_probability}], misclassified_count and confidence_histogram [{low, high, correct, wrong}]."""
    index = {label: i for i, label in enumerate(labels)}
    gold, pred = frame["gold"].map(index).to_numpy(int), frame["predicted"].map(index).to_numpy(int)
    k = len(labels)
    matrix = confusion_matrix(gold, pred, labels=range(k)) if len(frame) else np.zeros((k, k), dtype=np.int64)
    mistakes = frame[~frame["correct"].astype(bool)].sort_values("confidence", ascending=False, kind="stable")
    examples = [{"text": row.text, "text_pair": row.text_pair, "gold": row.gold, "predicted": row.predicted,
                 "confidence": _round(row.confidence), "gold_probability": _round(row.scores[row.gold])}
                for row in mistakes.head(max_examples).itertuples(index=False)]
    classes = per_class(gold, pred, labels)
    return {"accuracy": _round(np.trace(matrix) / max(len(frame), 1)),
            "macro_f1": _round(np.mean([row["f1"] for row in classes])),
            "confusion_matrix": matrix.tolist(), "per_class": classes, "misclassified": examples,
            "misclassified_count": len(mistakes),
            "confidence_histogram": _confidence_histogram(frame["confidence"].to_numpy(float),
                                                          frame["correct"].to_numpy(bool), k)}


def per_class(gold: np.ndarray, pred: np.ndarray, labels: list[str]) -> list[dict]:
    """Label indices in, one row per label out; a label never predicted has precision 0 (zero_division=0)."""
    if not len(gold):
        return [{"label": label, "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0} for label in labels]
    found = precision_recall_fscore_support(gold, pred, labels=range(len(labels)), zero_division=0)
    return [{"label": label, "precision": _round(precision), "recall": _round(recall), "f1": _round(f1),
             "support": int(support)} for label, precision, recall, f1, support in zip(labels, *found)]


def _confidence_histogram(confidence: np.ndarray, correct: np.ndarray, num_labels: int) -> list[dict]:
    """Tenths of probability from the one below 1/num_labels (no top score can be lower) up to 1."""
    low = math.floor(HISTOGRAM_BINS / num_labels) / HISTOGRAM_BINS
    bins = max(1, round((1 - low) * HISTOGRAM_BINS))
    edges = np.linspace(low, 1.0, bins + 1)
    right, wrong = (np.histogram(np.clip(confidence[mask], low, 1.0), edges)[0] for mask in (correct, ~correct))
    return [{"low": _round(edges[i]), "high": _round(edges[i + 1]), "correct": int(right[i]), "wrong": int(wrong[i])}
            for i in range(bins)]


def regression_report(frame: pd.DataFrame, max_examples: int) -> dict:
    """mae, rmse, residuals {mean, std, min, max}, worst [{text, text_pair, gold, predicted, error}],
    residual_histogram [{low, high, count}], points [{gold, predicted}] (at most MAX_POINTS)."""
    errors = frame["error"].to_numpy(float)
    worst = frame.assign(size=np.abs(errors)).sort_values("size", ascending=False, kind="stable")
    step = max(1, math.ceil(len(frame) / MAX_POINTS))
    counts, edges = np.histogram(errors, HISTOGRAM_BINS) if len(errors) else (np.zeros(0), np.zeros(1))
    return {
        "mae": _round(np.mean(np.abs(errors))) if len(errors) else 0.0,
        "rmse": _round(np.sqrt(np.mean(errors**2))) if len(errors) else 0.0,
        "residuals": {name: _round(getattr(np, name)(errors)) if len(errors) else 0.0
                      for name in ("mean", "std", "min", "max")},
        "worst": [{"text": row.text, "text_pair": row.text_pair, "gold": _round(row.gold),
                   "predicted": _round(row.predicted), "error": _round(row.error)}
                  for row in worst.head(max_examples).itertuples(index=False)],
        "residual_histogram": [{"low": _round(edges[i]), "high": _round(edges[i + 1]), "count": int(counts[i])}
                               for i in range(len(counts))],
        "points": [{"gold": _round(gold), "predicted": _round(pred)}
                   for gold, pred in zip(frame["gold"][::step], frame["predicted"][::step])],
    }


# ---------------------------------------------------------------- two runs' disagreements


def label_disagreements(rows: pd.DataFrame, limit: int) -> dict:
    """Rows the two runs label differently, those one of them gets right first, the most confident first within
    them: {compared, count, a_right, b_right, neither_right, examples [{text, text_pair, gold, a, b}]} with a and b
    {label, confidence, correct}. `rows` is backend.serving.compare.aligned's frame."""
    differ = rows[rows["predicted_a"] != rows["predicted_b"]]
    right_a, right_b = differ["predicted_a"] == differ["gold"], differ["predicted_b"] == differ["gold"]
    order = differ.assign(_one=(right_a != right_b), _sure=differ[["confidence_a", "confidence_b"]].max(axis=1))
    shown = order.sort_values(["_one", "_sure"], ascending=False).head(limit)
    return {"compared": len(rows), "count": len(differ), "a_right": int((right_a & ~right_b).sum()),
            "b_right": int((right_b & ~right_a).sum()), "neither_right": int((~right_a & ~right_b).sum()),
            "examples": [_example(row, True) for row in shown.to_dict("records")]}


def value_disagreements(rows: pd.DataFrame, limit: int) -> dict:
    """The rows where the two runs' values differ most: {compared, count, examples [{text, text_pair, gold, a, b,
    difference}]} with a and b {value}."""
    rows = rows.assign(gap=(rows["predicted_a"] - rows["predicted_b"]).abs()).sort_values("gap", ascending=False)
    shown = rows.head(limit)
    return {"compared": len(rows), "count": len(shown),
            "examples": [_example(row, False) for row in shown.to_dict("records")]}


def _example(row: dict, classification: bool) -> dict:
    side = (lambda s: {"label": row[f"predicted_{s}"], "confidence": round(float(row[f"confidence_{s}"]), 4),
                       "correct": row[f"predicted_{s}"] == row["gold"]}) if classification else \
        (lambda s: {"value": round(float(row[f"predicted_{s}"]), 4)})
    gap = {} if classification else {"difference": round(float(row["predicted_a"] - row["predicted_b"]), 4)}
    return {"text": row["text"], "text_pair": row.get("text_pair"), "gold": row["gold"], "a": side("a"),
            "b": side("b")} | gap


def _round(value) -> float:
    return round(float(value), DIGITS)
