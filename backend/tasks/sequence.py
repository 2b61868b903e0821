"""What the kinds that read one text (or a text pair) a row share: the table read as text, second text and label,
tokenized once, length-grouped and dynamically padded batches, a head over the first token, predictions from its
logits. Single-text and pair classification, regression and multi-label build on SequenceKind."""
from __future__ import annotations

from backend.tasks.base import TaskKind


class SequenceKind(TaskKind):
    """One (pair of) text(s) and a label per row; AutoModelForSequenceClassification with a head of `problem_type`."""

    problem_type: str = "single_label_classification"  # transformers picks the loss from it
