"""Multi-label classification: any number of labels a row, one sigmoid and binary cross-entropy per label."""
from __future__ import annotations

from backend.tasks.base import Views
from backend.tasks.sequence import SequenceKind


class MultiLabelClassification(SequenceKind):
    name = "multi_label_classification"
    title = "Multi-label classification"
    reads_pairs = None
    problem_type = "multi_label_classification"
    # Pools every (row, label) decision, so it stays steady when some labels are rare, and no label at all scores 0.
    main_metric = "micro_f1"
    views = Views(balance_title="Rows per label", threshold=True, report="multi_label")
