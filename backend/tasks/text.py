"""Single-text classification: one text a row, one class out of several (softmax, cross-entropy)."""
from __future__ import annotations

from backend.tasks.base import Views
from backend.tasks.sequence import SequenceKind


class TextClassification(SequenceKind):
    name = "text_classification"
    title = "Single-text classification"
    reads_pairs = False
    main_metric = "macro_f1"  # every class counts equally: a majority-class model cannot look best
    views = Views(sample_csv=("sentiment_reviews.csv", "Sentiment reviews"))
