"""Multi-label tables -> checked train/eval frames whose `label` is a tuple of label names (sorted, possibly empty).

A table keeps several labels a row in one of two layouts (DataSpec):
- one label column whose cells join labels with a separator, like "billing|urgent" (`label_separator`; None: found
  by `detect_separator` among | ; ,). An empty cell is a row with no label, like a ticket that needs nothing.
- several 0/1 columns, one per label, as in the toxic-comments layout text,toxic,obscene,insult (`label_columns`;
  found by `detect_label_columns`). 1/0, true/false and yes/no (any case) read as 1 and 0; an empty cell is 0.

MultiLabelClassification.load_splits reads a table here when it is asked for or `wanted` says so. The report's
`label_column` is the separated column, or for 0/1 columns their names joined ("toxic, obscene, insult") for people
to read: `label_columns` then wins over any `label_column` of the spec, so a spec filled in from a report reads the
same data again. Rows are named as a spreadsheet shows them: the header is row 1, the first data row is row 2.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from backend.data import checks, columns as column_roles
from backend.data.reading import Messages, read_table
from backend.data.records import Splits, ValidationReport, table_facts
from backend.schemas import StudioError
from backend.tasks.sequence_data import known_only

SEPARATORS = ("|", ";", ",")  # tried in this order: a bar is the least likely to sit inside a label name
BINARY = {"1": 1, "0": 0, "1.0": 1, "0.0": 0, "true": 1, "false": 0, "yes": 1, "no": 0, "": 0}
MAX_LABEL_WORDS = 4  # a longer piece of a cell is a phrase, not a label name
FIRST_DATA_ROW = 2
MESSAGES = Messages({
    "no_labels": "No row of {name} has a label in {where}, so there is nothing to learn; fill in the labels of the "
                 "rows that have some.",
    "one_label": "Every label in {where} of {name} is '{label}', so there is nothing to tell apart; add rows with "
                 "other labels, or train single-label classification on whether a row has it.",
    "not_binary": "The label column '{column}' of {name} holds '{value}' on row {row}, but a label column takes only "
                  "0 or 1 (also true/false, yes/no); correct that cell or leave the column out.",
    "one_label_column": "Multi-label classification needs two or more 0/1 label columns, but only '{column}' was "
                        "given; add the others, or choose it as the label column of a single-label task.",
    "separator_elsewhere": "No cell of '{column}' in {name} contains the separator '{separator}', but its cells are "
                           "separated by '{detected}'; choose that separator.",
    "separator_unused": "No cell of '{column}' in {name} contains the separator '{separator}'; choose the separator "
                        "its cells use, or single-label classification if every row has one label.",
    "never_set": "Left out the label column(s) {columns} of {name}: no training row has a 1 there, so the model "
                 "could not learn them.",
    "unseen_labels": "Left out labels of {name} that the training data lacks ({labels}); the model cannot predict "
                     "those.",
    "not_evaluated": "Labels too rare to hold rows out stay in training only and are not evaluated: {labels}; add "
                     "more examples of them.",
})
_say, _fail = MESSAGES.say, MESSAGES.fail


# ---------------------------------------------------------------- cells and label sets

def parse_cell(cell: str, separator: str | None) -> tuple[str, ...]:
    """'urgent | billing|billing' -> ('billing', 'urgent'): pieces stripped, empty ones dropped, each once, sorted.
    Without a separator the whole cell is one label."""
    pieces = str(cell).split(separator) if separator else [str(cell)]
    return tuple(sorted({piece.strip() for piece in pieces} - {""}))


def split_cells(values: pd.Series, separator: str | None) -> pd.Series:
    return values.map(lambda cell: parse_cell(cell, separator))


def vocabulary(label_sets) -> list[str]:
    """Every label name that occurs, sorted (the order of the model's outputs)."""
    return sorted(set().union(*label_sets))


def multi_hot(label_sets, labels: list[str]) -> np.ndarray:
    """(rows, len(labels)) float32 of 0/1: a 1 where the row has the label; names not in `labels` are ignored."""
    index = {label: i for i, label in enumerate(labels)}
    hot = np.zeros((len(label_sets), len(labels)), dtype=np.float32)
    for row, names in enumerate(label_sets):
        hot[row, [index[name] for name in names if name in index]] = 1
    return hot


def label_rows(frame: pd.DataFrame, labels: list[str]) -> np.ndarray:
    """Each row's label set as a float32 row of 0/1 in the order of `labels` (the model's)."""
    known_only(set().union(*frame["label"]), labels)
    return multi_hot(frame["label"].tolist(), labels)


def label_counts(label_sets, labels: list[str]) -> dict[str, int]:
    """Rows per label (a row with two labels counts for both)."""
    return {label: int(count) for label, count in zip(labels, multi_hot(list(label_sets), labels).sum(axis=0))}


def label_cardinality(label_sets) -> float:
    """Labels per row on average (rows with no label count as 0)."""
    sizes = [len(names) for names in label_sets]
    return round(float(np.mean(sizes)), 4) if sizes else 0.0


# ---------------------------------------------------------------- detection

def detect_separator(values: pd.Series) -> str | None:
    """The separator that splits a label column into label sets, or None.

    The rule: the first of | ; , that splits some cells into two or more short labels (a letter, at most
    MAX_LABEL_WORDS words) where more than half of the labels met in such cells also occur in another combination
    or alone. So "billing|urgent" beside "billing" and "urgent|account" splits, while a class like "Yes, definitely",
    whose parts never occur apart, stays one class.
    """
    cells = values.head(column_roles.GUESS_ROWS).astype(str).str.strip()
    cells = cells[cells != ""]
    return next((separator for separator in SEPARATORS if _splits_into_labels(cells, separator)), None)


def _splits_into_labels(cells: pd.Series, separator: str) -> bool:
    combinations = set(split_cells(cells, separator))  # a label alone is a combination too
    combined = {label for names in combinations if len(names) > 1 for label in names}
    if not combined or not all(map(_is_label_name, combined)):
        return False
    seen_in = Counter(label for names in combinations for label in names)  # in how many different combinations
    return 2 * sum(seen_in[label] > 1 for label in combined) > len(combined)


def _is_label_name(piece: str) -> bool:
    return len(piece.split()) <= MAX_LABEL_WORDS and any(character.isalpha() for character in piece)


def is_binary(values: pd.Series) -> bool:
    """Whether a column's cells all read as 0 or 1 (true/false, yes/no, empty), at least one of them filled."""
    cells = values.head(column_roles.GUESS_ROWS).astype(str).str.strip().str.lower()
    return bool((cells != "").any() and cells.isin(list(BINARY)).all())


def detect_label_columns(frame: pd.DataFrame) -> list[str] | None:
    """The 0/1 label columns of a table, or None. The rule: two or more columns hold only 0/1 values (true/false,
    yes/no), another column is left for the text, and no column is named like a single label (label, class,
    target...), which would make the 0/1 columns features beside it."""
    names = {str(column).strip().lower().replace(" ", "_").replace("-", "_") for column in frame.columns}
    if names & set(column_roles.ROLE_HINTS["label_column"]):
        return None
    several = [column for column in frame.columns if is_binary(frame[column])]
    return several if 2 <= len(several) < len(frame.columns) else None


def wanted(spec, frame: pd.DataFrame) -> bool:
    """Whether a table of a spec that names no task reads as multi-label: a separator or label columns are given, or
    the table looks so (0/1 columns, or a label column `detect_separator` splits). (A separator or label columns
    given with another task are left unused: the task is the user's last word.)"""
    if spec.label_separator or spec.label_columns:
        return True
    if spec.label_column is None and detect_label_columns(frame):
        return True
    column = spec.label_column or _guessed_label_column(spec, frame)
    return column in frame.columns and detect_separator(frame[column]) is not None


def _guessed_label_column(spec, frame: pd.DataFrame) -> str | None:
    chosen = {role: getattr(spec, role) for role in column_roles.ROLE_HINTS}
    try:
        return column_roles.guess_columns(frame, chosen)["label_column"]
    except StudioError:  # no label column to be found: the single-label path says so in its own words
        return None


# ---------------------------------------------------------------- reading the labels

def read_label_columns(frame: pd.DataFrame, columns: list[str], name: str) -> pd.Series:
    """Each row's label set from 0/1 columns (their names are the labels); the first other value raises, naming its
    column, row and value."""
    names, bits = sorted(columns), []  # sorted, so each row's names come out sorted
    for column in names:
        cells = frame[column].astype(str).str.strip()
        values = cells.str.lower().map(BINARY)
        bad = values.isna().to_numpy()
        if bad.any():
            position = int(bad.argmax())
            raise _fail("not_binary", column=column, name=name, value=cells.iloc[position],
                        row=position + FIRST_DATA_ROW)
        bits.append(values.to_numpy(dtype=bool))
    return pd.Series([tuple(n for n, bit in zip(names, row) if bit) for row in zip(*bits)], index=frame.index,
                     dtype=object)


def choose_layout(spec, frame: pd.DataFrame, name: str) -> tuple[dict, str | None, list[str] | None]:
    """(columns, separator, label columns): the text roles and where the labels are, as given or detected."""
    several = spec.label_columns
    if not several and not (spec.label_column or spec.label_separator):
        several = detect_label_columns(frame)
    if several:
        return _roles_beside(spec, frame, list(several), name), None, list(several)
    columns = column_roles.choose_columns(spec, frame, name, None)
    label = columns["label_column"]
    return columns, _separator(spec, frame[label], label, name), None


def _roles_beside(spec, frame: pd.DataFrame, several: list[str], name: str) -> dict:
    """Text and second text beside 0/1 label columns: those given, else guessed among the other columns."""
    available = ", ".join(map(str, frame.columns))
    missing = next((column for column in several if column not in frame.columns), None)
    if missing:
        raise column_roles.MESSAGES.fail("no_such_column", name=name, column=missing, columns=available)
    if len(several) < 2:
        raise _fail("one_label_column", column=several[0])
    taken = [column for column in (spec.text_column, spec.text_pair_column) if column] + several
    repeated = next((column for column in taken if taken.count(column) > 1), None)
    if repeated:
        raise column_roles.MESSAGES.fail("column_twice", column=repeated)
    # The first label column stands in for the label role, so that the text is guessed among the other columns.
    columns = column_roles.choose_columns(replace(spec, label_column=several[0]), frame.drop(columns=several[1:]),
                                          name, None)
    return columns | {"label_column": ", ".join(several)}


def _separator(spec, values: pd.Series, column: str, name: str) -> str | None:
    """The user's separator when some cell holds it; else the detected one (None: one label a cell)."""
    if not spec.label_separator:
        return detect_separator(values)
    if values.str.contains(spec.label_separator, regex=False).any():
        return spec.label_separator
    detected = detect_separator(values)
    key = "separator_elsewhere" if detected else "separator_unused"
    raise _fail(key, column=column, name=name, separator=spec.label_separator, detected=detected)


def read_labels(frame: pd.DataFrame, columns: dict, separator: str | None, several: list[str] | None,
                name: str) -> pd.Series:
    """Every row's label set, from the 0/1 columns or from the label column split on the separator."""
    if several:
        return read_label_columns(frame, several, name)
    return split_cells(frame[columns["label_column"]], separator)


# ---------------------------------------------------------------- splits and the report

def load_splits(spec, table, kind) -> Splits:
    """Training and evaluation rows of a multi-label table read by `reading.read_table`, and the report (naming
    `kind`); deterministic for a spec. Frames: text, text_pair (when used), label (a sorted tuple of names, maybe
    empty)."""
    name = Path(spec.train_csv).name
    columns, separator, several = choose_layout(spec, table.frame, name)
    warnings, tally = list(table.notes), {"ragged_rows": table.ragged_rows, "dropped_rows": 0}
    rows = checks.normalized(table.frame, columns, name, warnings, tally,
                             labels=read_labels(table.frame, columns, separator, several, name))
    labels = _checked_vocabulary(rows, columns, several, name, warnings)
    if spec.eval_csv:
        train, evaluation = rows, _read_eval(spec.eval_csv, columns, separator, several, labels, warnings, tally)
        split = f"validation CSV {Path(spec.eval_csv).name}"
    else:
        train, evaluation = split_rows(rows, labels, spec.eval_fraction, spec.split_seed, name, warnings)
        split = (f"random hold-out of {spec.eval_fraction:.0%} of {name} (seed {spec.split_seed}), keeping every "
                 "label in training and, where a row can be spared, in evaluation")
    duplicates, leaked = checks.repeats(rows, train, evaluation, name, warnings)
    report = ValidationReport(
        rows=len(train), eval_rows=len(evaluation), **columns, task=kind.name, task_name=kind.title, labels=labels,
        label_counts=label_counts(train["label"], labels), eval_label_counts=label_counts(evaluation["label"], labels),
        label_stats=None, split=split, warnings=warnings, ragged_rows=tally["ragged_rows"],
        dropped_rows=tally["dropped_rows"], duplicate_rows=duplicates, leaked_rows=leaked, label_separator=separator,
        label_columns=several, label_cardinality=label_cardinality(train["label"]), **table_facts(table),
    )
    return Splits(train, evaluation, kind.name, labels, report)


def _checked_vocabulary(rows: pd.DataFrame, columns: dict, several, name: str, warnings: list) -> list[str]:
    """The labels the training rows have: two at least. 0/1 columns without a 1 are left out, with a warning."""
    labels = vocabulary(rows["label"])
    where = f"'{columns['label_column']}'"
    if not labels:
        raise _fail("no_labels", name=name, where=where)
    if len(labels) == 1:
        raise _fail("one_label", name=name, where=where, label=labels[0])
    unused = [column for column in several or [] if column not in labels]
    if unused:
        warnings.append(_say("never_set", columns=", ".join(f"'{column}'" for column in unused), name=name))
    return labels


def _read_eval(path: str, columns: dict, separator, several, labels: list[str], warnings: list,
               tally: dict) -> pd.DataFrame:
    """The validation CSV, read like the training CSV; labels training lacks are left out of its rows."""
    table, name = read_table(path), Path(path).name
    needed = [columns["text_column"], columns["text_pair_column"], *(several or [columns["label_column"]])]
    missing = next((column for column in needed if column and column not in table.frame.columns), None)
    if missing:
        raise column_roles.MESSAGES.fail("no_such_column", name=name, column=missing,
                                         columns=", ".join(map(str, table.frame.columns)))
    warnings.extend(table.notes)
    tally["ragged_rows"] += table.ragged_rows
    rows = checks.normalized(table.frame, columns, name, warnings, tally,
                             labels=read_labels(table.frame, columns, separator, several, name))
    return _known_labels_only(rows, labels, name, warnings)


def _known_labels_only(rows: pd.DataFrame, labels: list[str], name: str, warnings: list) -> pd.DataFrame:
    """The rows with only the labels the model will have; the rows stay (with fewer labels, maybe none)."""
    known = set(labels)
    unseen = Counter(label for names in rows["label"] for label in names if label not in known)
    if not unseen:
        return rows
    warnings.append(_say("unseen_labels", name=name, labels=checks.listed(pd.Series(dict(unseen.most_common())))))
    return rows.assign(label=rows["label"].map(lambda names: tuple(n for n in names if n in known)))


def split_rows(rows: pd.DataFrame, labels: list[str], fraction: float, seed: int, name: str, warnings: list):
    """Hold out the nearest whole `fraction` of the rows (one at least, never all) at random with a fixed seed, then
    move rows so that every label keeps a training row and, when it has a row to spare, gets a held-out row to be
    scored on. Stratifying by label set would not do: most sets are rare combinations, and a row serves all its
    labels at once."""
    # Hand-written: scikit-learn has no multi-label stratifier, and stratifying by label set would not do (above).
    order = np.random.RandomState(seed).permutation(len(rows))
    held = int(min(len(rows) - 1, max(1, np.floor(len(rows) * fraction + 0.5))))
    in_eval = np.zeros(len(rows), dtype=bool)
    in_eval[order[:held]] = True
    hot = multi_hot(rows["label"].tolist(), labels).astype(bool)
    for column in hot.T:  # training lacks the label: the first held-out row with it goes back
        if column.any() and not (column & ~in_eval).any():
            in_eval[next(i for i in order if column[i])] = False
    in_training = hot[~in_eval].sum(axis=0)
    for column in hot.T:  # evaluation lacks the label: the first training row whose labels all have another goes
        if not (column & in_eval).any():
            spare = next((i for i in order if column[i] and not in_eval[i] and (in_training[hot[i]] > 1).all()), None)
            if spare is not None:
                in_eval[spare], in_training = True, in_training - hot[spare]
    if not in_eval.any():
        raise checks.MESSAGES.fail("too_few_to_split", name=name, count=len(rows))
    missing = [label for label, column in zip(labels, hot.T) if not (column & in_eval).any()]
    if missing:
        warnings.append(_say("not_evaluated", labels=", ".join(f"'{label}'" for label in missing)))
    return rows[~in_eval].reset_index(drop=True), rows[in_eval].reset_index(drop=True)
