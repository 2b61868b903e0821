"""Task metrics: a table from task kind to the metrics it reports and the one that picks the best checkpoint.

Plain numpy, no scikit-learn: the formulas are short and this keeps the training process light.
Predictions arrive as the model's raw outputs: logits of shape (n, num_labels) for classification,
values of shape (n,) or (n, 1) for regression.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from backend.tasks.qa.squad import squad_v2_scores


def accuracy(pred: np.ndarray, gold: np.ndarray) -> float:
    return float(np.mean(pred == gold)) if len(gold) else 0.0


def _confusion(pred: np.ndarray, gold: np.ndarray, num_labels: int) -> np.ndarray:
    """Rows are gold classes, columns predicted classes."""
    matrix = np.zeros((num_labels, num_labels), dtype=np.int64)
    np.add.at(matrix, (gold, pred), 1)
    return matrix


def _per_class_f1(matrix: np.ndarray) -> np.ndarray:
    true_pos = np.diag(matrix).astype(float)
    # 2tp / (2tp + fp + fn); a class never predicted nor present scores 0, like scikit-learn's zero_division=0.
    denominator = matrix.sum(axis=0) + matrix.sum(axis=1)
    return np.divide(2 * true_pos, denominator, out=np.zeros_like(true_pos), where=denominator > 0)


def macro_f1(pred: np.ndarray, gold: np.ndarray, num_labels: int) -> float:
    return float(_per_class_f1(_confusion(pred, gold, num_labels)).mean())


def positive_f1(pred: np.ndarray, gold: np.ndarray) -> float:
    """F1 of class 1: with sorted labels that is the second name ("1" of 0/1, "positive" of negative/positive)."""
    return float(_per_class_f1(_confusion(pred, gold, 2))[1])


def mcc(pred: np.ndarray, gold: np.ndarray, num_labels: int) -> float:
    """Matthews correlation, multiclass form (Gorodkin 2004); 0 when undefined (one class predicted or present)."""
    matrix = _confusion(pred, gold, num_labels).astype(float)
    total, correct = matrix.sum(), np.trace(matrix)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    numerator = correct * total - predicted @ actual
    denominator = np.sqrt((total**2 - predicted @ predicted) * (total**2 - actual @ actual))
    return float(numerator / denominator) if denominator > 0 else 0.0


def pearson(pred: np.ndarray, gold: np.ndarray) -> float:
    """0 when either side is constant: no linear relation can be measured (early in training predictions often are)."""
    pred, gold = pred - pred.mean(), gold - gold.mean()
    denominator = np.sqrt((pred @ pred) * (gold @ gold))
    return float(pred @ gold / denominator) if denominator > 0 else 0.0


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks where ties share the mean of the ranks they span."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # Start index of each run of equal values, and the run each sorted position belongs to.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    run_of = np.cumsum(np.r_[True, sorted_values[1:] != sorted_values[:-1]]) - 1
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = ((starts + ends + 1) / 2.0)[run_of]
    return ranks


def spearman(pred: np.ndarray, gold: np.ndarray) -> float:
    return pearson(average_ranks(pred), average_ranks(gold))


def mse(pred: np.ndarray, gold: np.ndarray) -> float:
    return float(np.mean((pred - gold) ** 2)) if len(gold) else 0.0


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
    pred = (1 / (1 + np.exp(-logits)) >= threshold).astype(np.float64)
    true_pos, false_pos, false_neg = (pred * gold).sum(0), (pred * (1 - gold)).sum(0), ((1 - pred) * gold).sum(0)
    per_label = np.divide(2 * true_pos, 2 * true_pos + false_pos + false_neg, out=np.zeros_like(true_pos),
                          where=(2 * true_pos + false_pos + false_neg) > 0)
    pooled = 2 * true_pos.sum() + false_pos.sum() + false_neg.sum()
    return {
        "loss": binary_cross_entropy(logits, gold),
        "micro_f1": float(2 * true_pos.sum() / pooled) if pooled else 0.0,
        "macro_f1": float(per_label.mean()) if per_label.size else 0.0,
        "subset_accuracy": float((pred == gold).all(axis=1).mean()) if len(gold) else 0.0,
    }


def qa_metrics(predictions: list[str], golds: list[list[str]]) -> dict[str, float]:
    """SQuAD 2.0 exact match and F1 with the has-answer / no-answer breakdown, as fractions from 0 to 1 like every
    other metric here (SQuAD prints percentages); the *_total keys are question counts."""
    scores = squad_v2_scores(predictions, golds)
    return {name: value if name.endswith("total") else round(value / 100, 6) for name, value in scores.items()}


@dataclass(frozen=True)
class TaskMetrics:
    compute: Callable[..., dict[str, float]]  # (outputs, gold); for extractive QA (answers, gold answers)
    main: str  # the metric that chooses the best checkpoint and drives early stopping
    greater_is_better: bool


# Main metrics, and why:
# - classification: macro F1. Every class counts equally, so a model that only predicts the majority class of
#   an imbalanced CSV cannot look best (accuracy can); it reads as "how good per class" and exists for any
#   number of classes (binary F1 does not, MCC is harder to explain to a newcomer).
# - regression: MSE. Predictions are shown as values, so how far off they are is what matters; correlations
#   ignore scale and offset, and are undefined while predictions are still constant early in training.
# - multi-label: micro F1. It pools every (row, label) decision, so it stays steady when some labels are rare
#   (macro F1 jumps with each of their few rows), and predicting no label at all scores 0.
# - extractive QA: F1 over answer words, SQuAD's headline number; exact match gives no credit for a nearly
#   right span.
TASK_METRICS: dict[str, TaskMetrics] = {
    "text_classification": TaskMetrics(classification_metrics, "macro_f1", greater_is_better=True),
    "pair_classification": TaskMetrics(classification_metrics, "macro_f1", greater_is_better=True),
    "regression": TaskMetrics(regression_metrics, "mse", greater_is_better=False),
    "multi_label_classification": TaskMetrics(multilabel_metrics, "micro_f1", greater_is_better=True),
    "extractive_qa": TaskMetrics(qa_metrics, "f1", greater_is_better=True),
}


def compute_metrics(task: str, predictions: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    return TASK_METRICS[task].compute(predictions, gold)


def main_metric(task: str) -> str:
    return TASK_METRICS[task].main


def is_improvement(task: str, value: float, best: float | None) -> bool:
    """Whether `value` of the task's main metric beats `best` (None: nothing to beat yet). NaN never improves."""
    if not np.isfinite(value):
        return False
    if best is None:
        return True
    return value > best if TASK_METRICS[task].greater_is_better else value < best
