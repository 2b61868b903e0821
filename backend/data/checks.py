"""The checks every kind's rows go through, each problem as one sentence a person can act on: empty cells, the
hold-out split, repeated rows and rows that leak from training into evaluation.

The kinds (backend/tasks/) read their own columns and labels and call these; backend.tasks.loading chooses the kind.
Nothing here writes to the user's files.
"""
from __future__ import annotations

from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd

from backend.data import columns
from backend.data.reading import Messages, _rows, read_table

# Every sentence these checks may show, in one place: what is wrong, where, and what to do.
MESSAGES = Messages({
    "eval_fraction": "The eval fraction must be between 0 and 1 (it is {fraction}); 0.2 holds out a fifth of the rows.",
    "empty_texts": "Left out {rows} of {name} with an empty text in {texts}; fill those cells in to use them.",
    "missing_labels": "Left out {rows} of {name} with no label in '{label}'; fill those cells in to use them.",
    "nothing_usable": "No row of {name} has both a text in {texts} and a label in '{label}' ({missing}); fill them "
                      "in or choose other columns.",
    "too_few_to_split": "{name} has too few rows ({count}) to hold any out for evaluation; add rows or upload "
                        "a validation CSV.",
    "small_classes": "Classes too small to hold rows out stay in training only and are not evaluated: {classes}; "
                     "add more examples of them.",
    "duplicates": "{name} has {rows} repeating the text of an earlier row{clash}; remove the accidental ones.",
    "leaked": "The evaluation data has {rows} with the same text as a training row, which flatters its scores; "
              "remove the repeats from one side.",
})
_say, _fail = MESSAGES.say, MESSAGES.fail


def check_eval_fraction(spec) -> None:
    """Without a validation CSV a share of the rows is held out, so it must be a share."""
    if not spec.eval_csv and not 0 < spec.eval_fraction < 1:
        raise _fail("eval_fraction", fraction=spec.eval_fraction)


def normalized(frame: pd.DataFrame, columns: dict, name: str, warnings: list, tally: dict,
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


def hold_out(data: pd.DataFrame, stratified: bool, fraction: float, seed: int, name: str, warnings: list):
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
        warnings.append(_say("small_classes", classes=listed(sizes[quota == 0])))
    return data[~in_eval].reset_index(drop=True), data[in_eval].reset_index(drop=True)


def repeats(data: pd.DataFrame, train: pd.DataFrame, evaluation: pd.DataFrame, name: str, warnings: list):
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


def train_and_eval(spec, table, roles: dict, read_rows, check_usable, read_eval, split):
    """What the kinds that read rows their own way (QA, tokens) share before their own checks: the training rows
    read by `read_rows(frame, roles, name)` and `check_usable(rows, counts, name)`, then the evaluation rows from
    the validation CSV (`read_eval(path, roles, warnings, tally)`) or held out by `split(rows, fraction, seed,
    name) -> (train, eval, how)`. Returns (rows, train, eval, how, warnings, tally)."""
    name = Path(spec.train_csv).name
    rows, warnings, counts = read_rows(table.frame, roles, name)
    warnings[:0] = table.notes
    check_usable(rows, counts, name)
    tally = {"ragged_rows": table.ragged_rows, "dropped_rows": len(table.frame) - len(rows)}
    if spec.eval_csv:
        train, evaluation = rows, read_eval(spec.eval_csv, roles, warnings, tally)
        how = f"validation CSV {Path(spec.eval_csv).name}"
    else:
        train, evaluation, how = split(rows, spec.eval_fraction, spec.split_seed, name)
    return rows, train, evaluation, how, warnings, tally


def read_validation(path: str, roles: dict, read_rows, warnings: list, tally: dict):
    """A kind's validation CSV, read with the training CSV's columns (`roles`; a role left None is not read) by the
    kind's `read_rows(frame, roles, name) -> (rows, warnings, outcome counts)`: its warnings added to `warnings`,
    its ragged and left-out rows to `tally`. Returns (rows, counts, file name); the kind says what an empty result
    means."""
    table, name = read_table(path), Path(path).name
    missing = next((column for column in roles.values() if column and column not in table.frame.columns), None)
    if missing:
        available = ", ".join(map(str, table.frame.columns))
        raise columns.MESSAGES.fail("no_such_column", name=name, column=missing, columns=available)
    rows, notes, counts = read_rows(table.frame, roles, name)
    warnings.extend(table.notes + notes)
    tally["ragged_rows"] += table.ragged_rows
    tally["dropped_rows"] += len(table.frame) - len(rows)
    return rows, counts, name


def listed(counts: pd.Series, limit: int = 5) -> str:
    """"'a' (3 rows), 'b' (1 row) and 4 more": the first few of some counts, for a sentence."""
    shown = ", ".join(f"'{label}' ({_rows(int(count))})" for label, count in islice(counts.items(), limit))
    return shown + (f" and {len(counts) - limit:,} more" if len(counts) > limit else "")
