"""The metric helpers the task kinds share: each kind's `metrics(outputs, gold)` calls one of the *_metrics here,
and the kind names its main metric (backend/tasks/base.py).

The scores come from scikit-learn and scipy, whose results are the ones users compare against; this module only
turns model outputs into their inputs and pins the edge cases (empty inputs and undefined scores give 0, not NaN or
an error). The losses stay in numpy: they are the training losses, computed from logits as torch does.
Predictions arrive as the model's raw outputs: logits of shape (n, num_labels) for classification,
values of shape (n,) or (n, 1) for regression.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, mean_squared_error

from backend.tasks.qa.squad import squad_v2_scores


def accuracy(pred: np.ndarray, gold: np.ndarray) -> float:
    return float(accuracy_score(gold, pred)) if len(gold) else 0.0


def macro_f1(pred: np.ndarray, gold: np.ndarray, num_labels: int) -> float:
    """The mean over all `num_labels` classes: a class never predicted nor present scores 0 and still counts."""
    if not len(gold):
        return 0.0
    return float(f1_score(gold, pred, average="macro", labels=range(num_labels), zero_division=0))


def positive_f1(pred: np.ndarray, gold: np.ndarray) -> float:
    """F1 of class 1: with sorted labels that is the second name ("1" of 0/1, "positive" of negative/positive)."""
    return float(f1_score(gold, pred, labels=[1], average="macro", zero_division=0)) if len(gold) else 0.0


def mcc(pred: np.ndarray, gold: np.ndarray, num_labels: int) -> float:
    """Matthews correlation, multiclass form; 0 when undefined (one class predicted or present). Classes absent
    from both sides do not change it, so `num_labels` is not needed by scikit-learn."""
    if len(np.union1d(pred, gold)) < 2:  # scikit-learn returns 0 here too, but warns about the one label
        return 0.0
    return float(matthews_corrcoef(gold, pred))


def _correlation(statistic: Callable, pred: np.ndarray, gold: np.ndarray) -> float:
    """0 when either side is constant or there are fewer than two values: no relation can be measured (early in
    training predictions often are constant), where scipy warns and gives NaN."""
    if len(gold) < 2 or np.ptp(pred) == 0 or np.ptp(gold) == 0:
        return 0.0
    return float(statistic(pred, gold).statistic)


def pearson(pred: np.ndarray, gold: np.ndarray) -> float:
    return _correlation(stats.pearsonr, pred, gold)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks where ties share the mean of the ranks they span."""
    return stats.rankdata(values, method="average")


def spearman(pred: np.ndarray, gold: np.ndarray) -> float:
    """Pearson correlation of the average ranks."""
    return _correlation(stats.spearmanr, pred, gold)


def mse(pred: np.ndarray, gold: np.ndarray) -> float:
    if not len(gold):
        return 0.0
    if not np.isfinite(pred).all():  # a diverged model: scikit-learn refuses NaN and inf, the run reports them
        return float(np.mean((pred - gold) ** 2))
    return float(mean_squared_error(gold, pred))


def cross_entropy(logits: np.ndarray, gold: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(gold)), gold].mean()) if len(gold) else 0.0


def classification_metrics(logits: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    logits, gold = np.asarray(logits, dtype=np.float64), np.asarray(gold, dtype=np.int64)
    num_labels = logits.shape[1]
    pred = logits.argmax(axis=1)
    scores = {
        "loss": cross_entropy(logits, gold),
        "accuracy": accuracy(pred, gold),
        "macro_f1": macro_f1(pred, gold, num_labels),
        "mcc": mcc(pred, gold, num_labels),
    }
    if num_labels == 2:
        scores["f1"] = positive_f1(pred, gold)
    return scores


def regression_metrics(values: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    values, gold = np.asarray(values, dtype=np.float64).reshape(-1), np.asarray(gold, dtype=np.float64).reshape(-1)
    error = mse(values, gold)
    # The model's training loss for regression is the MSE, so eval_loss and eval_mse agree by construction.
    return {"loss": error, "pearson": pearson(values, gold), "spearman": spearman(values, gold), "mse": error}


def binary_cross_entropy(logits: np.ndarray, gold: np.ndarray) -> float:
    """Mean over every (row, label) cell, computed stably from logits (as torch's BCEWithLogitsLoss)."""
    loss = np.maximum(logits, 0) - logits * gold + np.log1p(np.exp(-np.abs(logits)))
    return float(loss.mean()) if loss.size else 0.0


def multilabel_metrics(logits: np.ndarray, gold: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Rows of 0/1 labels. A label is predicted when its sigmoid probability reaches `threshold`.

    micro F1 pools every (row, label) decision, so frequent labels weigh more; macro F1 averages per label, so a
    rare label counts as much as a common one; subset accuracy is the share of rows with every label right.
    """
    logits, gold = np.asarray(logits, dtype=np.float64), np.asarray(gold, dtype=np.float64)
    pred = (1 / (1 + np.exp(-logits)) >= threshold).astype(np.int64)
    loss = binary_cross_entropy(logits, gold)
    if not len(gold):
        return {"loss": loss, "micro_f1": 0.0, "macro_f1": 0.0, "subset_accuracy": 0.0}
    gold = gold.astype(np.int64)
    return {
        "loss": loss,
        "micro_f1": float(f1_score(gold, pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(gold, pred, average="macro", zero_division=0)),
        "subset_accuracy": float(accuracy_score(gold, pred)),  # of multi-label indicators: the share of exact sets
    }


def qa_metrics(predictions: list[str], golds: list[list[str]]) -> dict[str, float]:
    """SQuAD 2.0 exact match and F1 with the has-answer / no-answer breakdown, as fractions from 0 to 1 like every
    other metric here (SQuAD prints percentages); the *_total keys are question counts."""
    scores = squad_v2_scores(predictions, golds)
    return {name: value if name.endswith("total") else round(value / 100, 6) for name, value in scores.items()}
