"""Checked tables -> train/eval frames, with every problem as one sentence a person can act on.

`guess_columns` and `detect_task` decide what the columns of a table read by `csv_reading.read_table` mean;
`validate` and `load_splits` clean the rows, check the labels, hold out the evaluation rows and report what they
found. Nothing here writes to the user's files.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd

from backend.data.reading import read_table
from backend.data.reading import Messages, _rows
from backend.schemas import TASK_KINDS, DataSpec

GUESS_ROWS = 2_000  # column roles are guessed from this many rows
SAMPLE_ROWS = 5
MAX_INTEGER_CLASSES = 20  # integer labels with more distinct values than this are a regression target
ID_CHECK_MIN_ROWS = 10  # below this, a label that differs on every row may just be a tiny file

# Header names that tell a column's role, tried in order: exact names first, then names containing a hint of 4+ letters.
NAME_MATCHES = (lambda name, hint: name == hint, lambda name, hint: len(hint) >= 4 and hint in name)
ROLE_HINTS = {
    "text_pair_column": ("text_b", "text_pair", "sentence2", "sentence_2", "hypothesis", "question2",
                         "question_2", "text2", "second_text", "response", "answer"),
    "label_column": ("label", "labels", "class", "target", "category", "sentiment", "score", "rating",
                     "stars", "gold_label", "is_duplicate", "intent", "topic", "similarity", "y"),
    "text_column": ("text", "text_a", "sentence", "sentence1", "sentence_1", "review", "question",
                    "question1", "question_1", "content", "premise", "body", "comment", "message",
                    "document", "tweet", "utterance", "query", "text1"),
}
# Every sentence validation may show, in one place: what is wrong, where, and what to do.
MESSAGES = Messages({
    "unknown_task": "Unknown task '{task}'; choose one of: {choices}.",
    "eval_fraction": "The eval fraction must be between 0 and 1 (it is {fraction}); 0.2 holds out a fifth of the rows.",
    "one_column": "{name} has only one column ({columns}); a training CSV needs a text column and a label column, "
                  "separated by commas, semicolons, tabs or pipes.",
    "no_such_column": "{name} has no column '{column}'; its columns are: {columns}.",
    "pair_not_used": "Single-text classification uses no second text, but '{column}' was chosen; clear it.",
    "pair_needed": "Text-pair classification needs a second text column; choose one of: {columns}.",
    "column_twice": "'{column}' is chosen for two roles; the text, second text and label columns must differ.",
    "roles_unknown": "Could not tell the text column from the label column ({columns}); choose them.",
    "empty_texts": "Left out {rows} of {name} with an empty text in {texts}; fill those cells in to use them.",
    "missing_labels": "Left out {rows} of {name} with no label in '{label}'; fill those cells in to use them.",
    "nothing_usable": "No row of {name} has both a text in {texts} and a label in '{label}' ({missing}); fill them "
                      "in or choose other columns.",
    "one_class": "The label column '{label}' of {name} holds only '{value}', so there is nothing to learn; "
                 "add rows with other labels or choose another label column.",
    "id_labels": "The label column '{label}' of {name} has a different value on every row, like an id column; "
                 "choose another label column{example}.",
    "not_numeric": "Regression needs numeric labels, but '{label}' of {name} holds '{value}'; "
                   "choose a classification task or another label column.",
    "unseen_labels": "Left out {rows} of {name} with labels the training data lacks ({labels}); "
                     "the model cannot predict those.",
    "eval_empty": "No row of the validation CSV {name} has a label the training CSV has; use the same labels.",
    "too_few_to_split": "{name} has too few rows ({count}) to hold any out for evaluation; add rows or upload "
                        "a validation CSV.",
    "small_classes": "Classes too small to hold rows out stay in training only and are not evaluated: {classes}; "
                     "add more examples of them.",
    "duplicates": "{name} has {rows} repeating the text of an earlier row{clash}; remove the accidental ones.",
    "leaked": "The evaluation data has {rows} with the same text as a training row, which flatters its scores; "
              "remove the repeats from one side.",
})
_say, _fail = MESSAGES.say, MESSAGES.fail


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


# ---------------------------------------------------------------- columns and task

def guess_columns(frame: pd.DataFrame, chosen: dict | None = None) -> dict:
    """Text, second text and label columns: those in `chosen` kept, the rest guessed from header names, then by
    content (a second text only ever by name): the longest texts, and the fewest distinct values (at least two)."""
    roles = {role: (chosen or {}).get(role) for role in ROLE_HINTS}
    names = {column: column.strip().lower().replace(" ", "_").replace("-", "_") for column in frame.columns}
    for matches in NAME_MATCHES:
        for role, hints in ROLE_HINTS.items():
            if roles[role] is None:
                free = [column for column in frame.columns if column not in roles.values()]
                roles[role] = next((c for hint in hints for c in free if matches(names[c], hint)), None)
    head = frame.head(GUESS_ROWS)
    free = [column for column in frame.columns if column not in roles.values()]
    if roles["text_column"] is None and free:
        roles["text_column"] = max(free, key=lambda column: head[column].str.len().mean())
        free.remove(roles["text_column"])
    if roles["label_column"] is None and free:
        roles["label_column"] = min(reversed(free), key=lambda column: _distinct_rank(head[column]))
    if roles["text_column"] is None or roles["label_column"] is None:
        raise _fail("roles_unknown", columns=", ".join(frame.columns))
    return roles


def _distinct_rank(values: pd.Series) -> int:
    """Distinct non-blank values, or a huge number when there are fewer than two (such a column teaches nothing)."""
    distinct = values.str.strip().replace("", None).nunique()
    return distinct if distinct >= 2 else 10**9


def detect_task(frame: pd.DataFrame, label_column: str, text_pair_column: str | None) -> str:
    """Regression for numeric labels with fractions or many distinct integers; otherwise classification."""
    values = frame[label_column].astype(str).str.strip()
    numbers = pd.to_numeric(values[values != ""], errors="coerce")
    if len(numbers) and numbers.notna().all():
        if not (numbers == numbers.round()).all() or numbers.nunique() > MAX_INTEGER_CLASSES:
            return "regression"
    return "pair_classification" if text_pair_column else "text_classification"


# ---------------------------------------------------------------- validation and splits

def validate(spec: DataSpec) -> ValidationReport:
    """Read, clean and check the training (and validation) CSV; the report says what was found and decided."""
    return load_splits(spec).report


def load_splits(spec: DataSpec) -> Splits:
    """Training and evaluation rows as normalised frames; deterministic for a spec, so `validate` agrees."""
    if spec.task is not None and spec.task not in TASK_KINDS:
        raise _fail("unknown_task", task=spec.task, choices=", ".join(TASK_KINDS))
    if not spec.eval_csv and not 0 < spec.eval_fraction < 1:
        raise _fail("eval_fraction", fraction=spec.eval_fraction)
    table, name = read_table(spec.train_csv), Path(spec.train_csv).name
    # here, not at the top: they build on this module's records
    from backend.tasks.multi_label import data as multilabel
    from backend.tasks.qa import data as qa_data
    if qa_data.wanted(spec, table.frame):
        return qa_data.load_splits(spec, table)
    if multilabel.wanted(spec, table.frame):
        return multilabel.load_splits(spec, table)
    columns = _choose_columns(spec, table.frame, name)
    warnings, tally = list(table.notes), {"ragged_rows": table.ragged_rows, "dropped_rows": 0}
    data = _normalized(table.frame, columns, name, warnings, tally)
    task = spec.task or detect_task(data, "label", "text_pair" if "text_pair" in data else None)
    data, labels = _labelled(data, table.frame, columns, task, name)
    if spec.eval_csv:
        train, evaluation = data, _read_eval(spec.eval_csv, columns, labels, warnings, tally)
        split = f"validation CSV {Path(spec.eval_csv).name}"
    else:
        train, evaluation = _split(data, labels is not None, spec.eval_fraction, spec.split_seed, name, warnings)
        kind = "stratified" if labels else "random"
        split = f"{kind} hold-out of {spec.eval_fraction:.0%} of {name} (seed {spec.split_seed})"
    duplicates, leaked = _repeats(data, train, evaluation, name, warnings)
    stats = None if labels else {stat: round(float(train["label"].agg(stat)), 4) for stat in ("min", "max", "mean")}
    report = ValidationReport(
        rows=len(train), eval_rows=len(evaluation), columns=[str(c) for c in table.frame.columns], **columns,
        task=task, task_name=TASK_KINDS[task], labels=labels,
        label_counts=_counts(train, labels), eval_label_counts=_counts(evaluation, labels),
        label_stats=stats, split=split, warnings=warnings,
        samples=table.frame.head(SAMPLE_ROWS).to_dict("records"), encoding=table.encoding,
        delimiter=table.delimiter, ragged_rows=tally["ragged_rows"], dropped_rows=tally["dropped_rows"],
        duplicate_rows=duplicates, leaked_rows=leaked,
    )
    return Splits(train, evaluation, task, labels, report)


def _choose_columns(spec: DataSpec, frame: pd.DataFrame, name: str) -> dict:
    """The user's column choices, checked, completed by guesses and by what the chosen task needs."""
    available = ", ".join(frame.columns)
    if len(frame.columns) < 2:
        raise _fail("one_column", name=name, columns=available)
    chosen = {role: getattr(spec, role) for role in ROLE_HINTS}
    for column in filter(None, chosen.values()):
        if column not in frame.columns:
            raise _fail("no_such_column", name=name, column=column, columns=available)
    if spec.task == "text_classification" and chosen["text_pair_column"]:
        raise _fail("pair_not_used", column=chosen["text_pair_column"])
    columns = guess_columns(frame, chosen)
    if spec.task == "text_classification" or spec.text_pair_column == "":  # "" is the user's "no second text"
        columns["text_pair_column"] = None
    if spec.task == "pair_classification" and not columns["text_pair_column"]:
        raise _fail("pair_needed", columns=available)
    used = [column for column in columns.values() if column]
    repeated = next((column for column in used if used.count(column) > 1), None)
    if repeated:
        raise _fail("column_twice", column=repeated)
    return columns


def _normalized(frame: pd.DataFrame, columns: dict, name: str, warnings: list, tally: dict,
                labels: pd.Series | None = None) -> pd.DataFrame:
    """Columns text, text_pair, label with cells stripped; rows without a text or a label left out and counted.
    `labels`: the rows' labels when read otherwise than from one cell (multi-label: tuples of names, where an empty
    tuple is a row with no label, which is kept)."""
    roles = {"text": columns["text_column"], "text_pair": columns["text_pair_column"], "label": columns["label_column"]}
    data = pd.DataFrame({new: frame[old].str.strip() for new, old in roles.items() if old and new != "label"})
    data["label"] = frame[roles["label"]].str.strip() if labels is None else labels
    texts = " or ".join(f"'{roles[role]}'" for role in ("text", "text_pair") if roles[role])
    empty_text = (data.drop(columns="label") == "").any(axis=1)
    empty_label = data["label"] == ""
    no_label = empty_label & ~empty_text
    for mask, key in ((empty_text, "empty_texts"), (no_label, "missing_labels")):
        if mask.any():
            warnings.append(_say(key, rows=_rows(int(mask.sum())), name=name, texts=texts, label=roles["label"]))
    tally["dropped_rows"] += int((empty_text | no_label).sum())
    data = data[~(empty_text | no_label)].reset_index(drop=True)
    if data.empty:
        missing = ("every text is empty" if empty_text.all() else "every label is empty" if empty_label.all()
                   else "each row lacks one of them")
        raise _fail("nothing_usable", name=name, texts=texts, label=roles["label"], missing=missing)
    return data


def _labelled(data: pd.DataFrame, frame: pd.DataFrame, columns: dict, task: str, name: str):
    """Labels that can teach something: float for regression, else str with the class names sorted (as numbers
    when they all are numbers, so 2 comes before 10). A different class on every row means an id column."""
    values, label = data["label"], columns["label_column"]
    if values.nunique() < 2:
        raise _fail("one_class", label=label, name=name, value=values.iloc[0])
    if task == "regression":
        return _as_floats(data, label, name), None
    if values.nunique() == len(values) >= ID_CHECK_MIN_ROWS:
        head = frame.head(GUESS_ROWS)
        others = [c for c in frame.columns if c not in columns.values() and _distinct_rank(head[c]) <= len(head) / 2]
        raise _fail("id_labels", name=name, label=label, example=f" (for example '{others[0]}')" if others else "")
    names = sorted(values.unique().tolist())
    numbers = pd.to_numeric(pd.Series(names, dtype=object), errors="coerce")
    return data, [class_name for _, class_name in sorted(zip(numbers, names))] if numbers.notna().all() else names


def _as_floats(data: pd.DataFrame, label: str, name: str) -> pd.DataFrame:
    numbers = pd.to_numeric(data["label"], errors="coerce").astype(float)
    bad = ~np.isfinite(numbers.to_numpy())
    if bad.any():
        raise _fail("not_numeric", label=label, name=name, value=data["label"][bad].iloc[0])
    return data.assign(label=numbers)


def _read_eval(path: str, columns: dict, labels: list[str] | None, warnings: list, tally: dict) -> pd.DataFrame:
    """The validation CSV, read and cleaned like the training CSV; rows of classes it cannot predict left out."""
    table, name = read_table(path), Path(path).name
    missing = [column for column in columns.values() if column and column not in table.frame.columns]
    if missing:
        raise _fail("no_such_column", name=name, column=missing[0], columns=", ".join(table.frame.columns))
    warnings.extend(table.notes)
    tally["ragged_rows"] += table.ragged_rows
    data = _normalized(table.frame, columns, name, warnings, tally)
    if labels is None:
        return _as_floats(data, columns["label_column"], name)
    unseen = ~data["label"].isin(labels)
    if unseen.any():
        warnings.append(_say("unseen_labels", rows=_rows(int(unseen.sum())), name=name,
                             labels=_listed(data["label"][unseen].value_counts())))
        tally["dropped_rows"] += int(unseen.sum())
        data = data[~unseen].reset_index(drop=True)
    if data.empty:
        raise _fail("eval_empty", name=name)
    return data


def _split(data: pd.DataFrame, stratified: bool, fraction: float, seed: int, name: str, warnings: list):
    """Hold out the nearest whole `fraction` of each class (or of all rows) at random with a fixed seed, keeping
    at least one row of each class for training; a tiny file still gives one row of its largest class."""
    # Not scikit-learn's StratifiedShuffleSplit: it rounds the total, not each class, so at high fractions it can
    # leave a small class no training row, and it refuses hold-outs smaller than the number of classes.
    shuffled = data.iloc[np.random.RandomState(seed).permutation(len(data))]
    groups = shuffled["label"] if stratified else pd.Series(0, index=shuffled.index)
    sizes = groups.value_counts()
    quota = np.minimum(np.floor(sizes * fraction + 0.5), sizes - 1)
    if quota.sum() == 0 and sizes.iloc[0] > 1:
        quota.iloc[0] = 1
    held = shuffled.groupby(groups).cumcount() < groups.map(quota)
    in_eval = data.index.isin(shuffled.index[held.to_numpy()])
    if not in_eval.any():
        raise _fail("too_few_to_split", name=name, count=len(data))
    if stratified and (quota == 0).any():
        warnings.append(_say("small_classes", classes=_listed(sizes[quota == 0])))
    return data[~in_eval].reset_index(drop=True), data[in_eval].reset_index(drop=True)


def _repeats(data: pd.DataFrame, train: pd.DataFrame, evaluation: pd.DataFrame, name: str, warnings: list):
    """Rows repeating an earlier text of the training CSV, and evaluation rows whose text is also in training."""
    def keys(frame: pd.DataFrame) -> pd.Series:
        return frame["text"] + "\x1f" + frame["text_pair"] if "text_pair" in frame else frame["text"]
    repeated = int(keys(data).duplicated().sum())
    if repeated:
        clashing = int((data.groupby(keys(data))["label"].nunique() > 1).sum())
        clash = f" ({clashing:,} of those texts with different labels)" if clashing else ""
        warnings.append(_say("duplicates", name=name, rows=_rows(repeated), clash=clash))
    return repeated, count_leaked(keys(train), keys(evaluation), warnings, MESSAGES)


def count_leaked(train_keys: pd.Series, eval_keys: pd.Series, warnings: list, messages: Messages) -> int:
    """Evaluation rows whose key (text, or text and second text) is also a training row's, with a warning."""
    leaked = int(eval_keys.isin(train_keys).sum())
    if leaked:
        warnings.append(messages.say("leaked", rows=_rows(leaked)))
    return leaked


def _listed(counts: pd.Series, limit: int = 5) -> str:
    shown = ", ".join(f"'{label}' ({_rows(int(count))})" for label, count in islice(counts.items(), limit))
    return shown + (f" and {len(counts) - limit:,} more" if len(counts) > limit else "")


def _counts(data: pd.DataFrame, labels: list[str] | None) -> dict[str, int]:
    counts = data["label"].value_counts() if labels else {}
    return {label: int(counts.get(label, 0)) for label in labels or []}
