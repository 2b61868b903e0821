"""What a checked table becomes: the report people read (ValidationReport) and the normalised frames training and
evaluation read (Splits). Every kind's loader fills the same two records."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

SAMPLE_ROWS = 5  # the report's first rows of the training CSV as read


@dataclass
class ValidationReport:
    """What `validate` found; `to_dict()` is JSON-safe (plain str, int, float, list, dict, None)."""

    rows: int  # training rows after cleaning and the split
    eval_rows: int
    columns: list[str]
    text_column: str
    text_pair_column: str | None
    label_column: str
    task: str
    task_name: str
    labels: list[str] | None  # sorted class names; None for regression
    label_counts: dict[str, int]  # training rows per class; {} for regression
    eval_label_counts: dict[str, int]
    label_stats: dict[str, float] | None  # min, max, mean of the training labels for regression
    split: str
    warnings: list[str]
    samples: list[dict[str, str]]  # the first rows of the training CSV as read
    encoding: str
    delimiter: str
    ragged_rows: int
    dropped_rows: int
    duplicate_rows: int
    leaked_rows: int
    answer_start_column: str | None = None  # extractive QA: the answer's character offset
    label_separator: str | None = None  # multi-label: what joins the labels of a cell (None: one label a cell)
    label_columns: list[str] | None = None  # multi-label: the 0/1 columns, one per label (label_column joins them)
    label_cardinality: float | None = None  # multi-label: labels per training row on average

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Splits:
    """Normalised frames with columns `text`, optional `text_pair`, `label` (str class name or float; for
    multi-label a sorted tuple of names, empty for a row with no label). Extractive QA: see backend.tasks.qa.data."""

    train: pd.DataFrame
    eval: pd.DataFrame
    task: str
    labels: list[str] | None
    report: ValidationReport


def table_facts(table) -> dict:
    """The report's fields about how a table (backend.data.reading.Table) was read."""
    return {"columns": [str(c) for c in table.frame.columns], "encoding": table.encoding, "delimiter": table.delimiter,
            "samples": table.frame.head(SAMPLE_ROWS).to_dict("records")}
