"""The data of the kinds that read one text (or a text pair) and a label a row: the columns chosen and checked, the
labels read as classes or values, the hold-out stratified by class, and the report. SequenceKind.load_splits and
backend.tasks.loading (for a table no kind claims, whose label column then decides the kind) call `load_splits`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backend.data import checks
from backend.data.columns import (GUESS_ROWS, MESSAGES as COLUMN_MESSAGES, choose_columns, distinct_rank,
                                  unused_texts)
from backend.data.reading import Messages, _rows, read_table
from backend.data.records import Splits, ValidationReport, table_facts
from backend.schemas import StudioError

MAX_INTEGER_CLASSES = 20  # integer labels with more distinct values than this are a regression target
ID_CHECK_MIN_ROWS = 10  # below this, a label that differs on every row may just be a tiny file
# Every sentence about labels of one class or value a row, in one place: what is wrong, where, and what to do.
MESSAGES = Messages({
    "one_class": "The label column '{label}' of {name} holds only '{value}', so there is nothing to learn; "
                 "add rows with other labels or choose another label column.",
    "id_labels": "The label column '{label}' of {name} has a different value on every row, like an id column; "
                 "choose another label column{example}.",
    "not_numeric": "Regression needs numeric labels, but '{label}' of {name} holds '{value}'; "
                   "choose a classification task or another label column.",
    "unseen_labels": "Left out {rows} of {name} with labels the training data lacks ({labels}); "
                     "the model cannot predict those.",
    "eval_empty": "No row of the validation CSV {name} has a label the training CSV has; use the same labels.",
})
_say, _fail = MESSAGES.say, MESSAGES.fail


def numeric_target(labels: pd.Series) -> bool:
    """Whether label cells read as values to predict: all numbers, with fractions or many distinct integers."""
    values = labels.astype(str).str.strip()
    numbers = pd.to_numeric(values[values != ""], errors="coerce")
    return bool(len(numbers) and numbers.notna().all()
                and (not (numbers == numbers.round()).all() or numbers.nunique() > MAX_INTEGER_CLASSES))


def load_splits(spec, table, reads_pairs: bool | None, kind_of) -> Splits:
    """Training and evaluation rows as normalised frames and the report; deterministic for a spec. `reads_pairs` is
    the chosen kind's (None: as the table has them); `kind_of(rows)` gives the kind from the cleaned rows."""
    name = Path(spec.train_csv).name
    columns = choose_columns(spec, table.frame, name, reads_pairs)
    warnings = list(table.notes) + unused_texts(table.frame, columns, name)  # never a text column dropped silently
    tally = {"ragged_rows": table.ragged_rows, "dropped_rows": 0}
    data = checks.normalized(table.frame, columns, name, warnings, tally)
    kind = kind_of(data)
    data, labels = labelled(data, table.frame, columns, kind.has_labels, name)
    if spec.eval_csv:
        train, evaluation = data, read_eval(spec.eval_csv, columns, labels, warnings, tally)
        split = f"validation CSV {Path(spec.eval_csv).name}"
    else:
        train, evaluation = checks.hold_out(data, labels is not None, spec.eval_fraction, spec.split_seed, name,
                                            warnings)
        shape = "stratified" if labels else "random"
        split = f"{shape} hold-out of {spec.eval_fraction:.0%} of {name} (seed {spec.split_seed})"
    duplicates, leaked = checks.repeats(data, train, evaluation, name, warnings)
    stats = None if labels else {stat: round(float(train["label"].agg(stat)), 4) for stat in ("min", "max", "mean")}
    report = ValidationReport(
        rows=len(train), eval_rows=len(evaluation), **columns, task=kind.name, task_name=kind.title, labels=labels,
        label_counts=class_counts(train, labels), eval_label_counts=class_counts(evaluation, labels),
        label_stats=stats, split=split, warnings=warnings, ragged_rows=tally["ragged_rows"],
        dropped_rows=tally["dropped_rows"], duplicate_rows=duplicates, leaked_rows=leaked, **table_facts(table),
    )
    return Splits(train, evaluation, kind.name, labels, report)


def labelled(data: pd.DataFrame, frame: pd.DataFrame, columns: dict, has_labels: bool, name: str):
    """Labels that can teach something: str with the class names sorted (as numbers when they all are numbers, so 2
    comes before 10), or float values for a kind without classes. A different class on every row means an id
    column."""
    values, label = data["label"], columns["label_column"]
    if values.nunique() < 2:
        raise _fail("one_class", label=label, name=name, value=values.iloc[0])
    if not has_labels:
        return as_floats(data, label, name), None
    if values.nunique() == len(values) >= ID_CHECK_MIN_ROWS:
        head = frame.head(GUESS_ROWS)
        others = [c for c in frame.columns if c not in columns.values() and distinct_rank(head[c]) <= len(head) / 2]
        raise _fail("id_labels", name=name, label=label, example=f" (for example '{others[0]}')" if others else "")
    names = sorted(values.unique().tolist())
    numbers = pd.to_numeric(pd.Series(names, dtype=object), errors="coerce")
    return data, [class_name for _, class_name in sorted(zip(numbers, names))] if numbers.notna().all() else names


def as_floats(data: pd.DataFrame, label: str, name: str) -> pd.DataFrame:
    numbers = pd.to_numeric(data["label"], errors="coerce").astype(float)
    bad = ~np.isfinite(numbers.to_numpy())
    if bad.any():
        raise _fail("not_numeric", label=label, name=name, value=data["label"][bad].iloc[0])
    return data.assign(label=numbers)


def read_eval(path: str, columns: dict, labels: list[str] | None, warnings: list, tally: dict) -> pd.DataFrame:
    """The validation CSV, read and cleaned like the training CSV; rows of classes it cannot predict left out."""
    table, name = read_table(path), Path(path).name
    missing = [column for column in columns.values() if column and column not in table.frame.columns]
    if missing:
        raise COLUMN_MESSAGES.fail("no_such_column", name=name, column=missing[0],
                                   columns=", ".join(table.frame.columns))
    warnings.extend(table.notes)
    tally["ragged_rows"] += table.ragged_rows
    data = checks.normalized(table.frame, columns, name, warnings, tally)
    if labels is None:
        return as_floats(data, columns["label_column"], name)
    unseen = ~data["label"].isin(labels)
    if unseen.any():
        warnings.append(_say("unseen_labels", rows=_rows(int(unseen.sum())), name=name,
                             labels=checks.listed(data["label"][unseen].value_counts())))
        tally["dropped_rows"] += int(unseen.sum())
        data = data[~unseen].reset_index(drop=True)
    if data.empty:
        raise _fail("eval_empty", name=name)
    return data


def class_counts(data: pd.DataFrame, labels: list[str] | None) -> dict[str, int]:
    counts = data["label"].value_counts() if labels else {}
    return {label: int(counts.get(label, 0)) for label in labels or []}


def class_ids(frame: pd.DataFrame, labels: list[str]) -> np.ndarray:
    """Each row's class id: its label's position in `labels` (the model's order)."""
    known_only(set(frame["label"]), labels)
    index = {name: i for i, name in enumerate(labels)}
    return frame["label"].map(index).to_numpy(dtype=np.int64)


def known_only(found: set, labels: list[str]) -> None:
    """A model cannot learn a label its training rows lack: a StudioError naming the first few of those."""
    unknown = sorted(found - set(labels))
    if unknown:
        raise StudioError(f"Label(s) {', '.join(map(str, unknown[:5]))} appear only in the evaluation rows; "
                          "add training rows for them or remove them from the evaluation CSV.")
