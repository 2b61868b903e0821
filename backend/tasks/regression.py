"""Regression: a numeric label a row (a score, a rating, a similarity), one output value (mean squared error)."""
from __future__ import annotations

from backend.tasks.sequence import SequenceKind


class Regression(SequenceKind):
    name = "regression"
    title = "Regression (numeric labels)"
    has_labels = False
    reads_pairs = None  # one text or two, as its data had
    problem_type = "regression"
    # Predictions are shown as values, so how far off they are is what matters; correlations ignore scale and offset
    # and are undefined while predictions are still constant early in training.
    main_metric = "mse"
    greater_is_better = False
