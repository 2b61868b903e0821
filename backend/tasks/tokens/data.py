"""Token classification (named entities) tables -> checked train/eval frames of sentences as words and IOB2 tags.

A row is one sentence: a tokens cell with its words and a tags cell with one IOB2 tag per word (O outside an
entity, B-TYPE on an entity's first word, I-TYPE on the rest). A cell holds either space-separated words and tags,
or a list: JSON (`["John", "lives"]`) or Python's own writing of one (`['John', 'lives']`, what pandas writes for
a column of lists). Warnings name rows as a spreadsheet shows them: the header is row 1, the first data row row 2.

The roles are those of a text and its label (DataSpec): text_column = tokens, label_column = tags; roles not chosen
are found by header name (ROLE_HINTS), then by content (a column of IOB2 tags, and a column with as many words).
"""
from __future__ import annotations

import ast
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from backend.data import checks, columns
from backend.data.reading import Messages, _rows
from backend.data.records import Splits, ValidationReport, table_facts
from backend.tasks.tokens.metrics import OUTSIDE, is_tag, repair_tags, tag_type

FIRST_DATA_ROW = 2  # what a spreadsheet calls the first row below the header
SHOWN_CHARS = 40
TAG_SHARE = 0.9  # of the non-empty cells of a column that must read as IOB2 tags for it to be taken for tags
OTHER_SCHEMES = ("S-", "E-", "L-", "U-", "M-")  # BIOES / BILOU prefixes: those tags need converting, not fixing

ROLE_HINTS = {  # header names, exact first, then names containing a hint of 4+ letters
    "text_column": ("tokens", "words", "token", "word", "sentence_tokens"),
    "label_column": ("tags", "ner_tags", "iob_tags", "bio_tags", "ner", "tag", "labels", "label"),
}
ROLE_NAMES = {"text_column": "tokens", "label_column": "tags"}
KEPT = ("ok", "repaired")  # row outcomes that keep the row
LEFT_OUT = {
    "empty": "with no tokens or no tags",
    "bad_list": "with a cell that is not a readable list",
    "mismatch": "whose tokens and tags differ in number",
    "bad_tag": "with tags that are not O, B-TYPE or I-TYPE",
    "other_scheme": "with BIOES or BILOU tags",
}
MESSAGES = Messages({
    "empty": "Left out {rows} of {name} with no tokens in '{tokens}' or no tags in '{tags}' (first: row {row}); "
             "fill those cells in to use them.",
    "bad_list": "Left out {rows} of {name} with a cell that starts like a list but cannot be read as one (first: "
                "row {row}, '{value}'); write a JSON list like [\"John\", \"lives\"] or space-separated words.",
    "mismatch": "Left out {rows} of {name} whose tokens and tags differ in number (first: row {row}, {token_count} "
                "tokens in '{tokens}' but {tag_count} tags in '{tags}'); give every token exactly one tag.",
    "bad_tag": "Left out {rows} of {name} with tags that are not O, B-TYPE or I-TYPE (first: row {row}, "
               "'{value}'); write IOB2 tags: B- on an entity's first word, I- on the rest, O outside entities.",
    "other_scheme": "Left out {rows} of {name} with BIOES or BILOU tags (first: row {row}, '{value}'); convert "
                    "them to IOB2: S- and U- become B-, E-, L- and M- become I-.",
    "repaired": "Read {count} I- tags without a B- or I- of their type before them as an entity's first word (B-), "
                "as CoNLL evaluation does, in {rows} of {name} (first: row {row}, '{value}' on '{word}'); write B- "
                "there to be sure that is meant.",
    "numeric_tags": "The tags in '{tags}' of {name} are numbers like '{value}' (ids into some dataset's tag list); "
                    "write the tag names instead (O, B-PER, I-PER, ...).",
    "roles_unknown": "Could not tell which column holds the {missing} for token classification (columns: "
                     "{columns}); choose it.",
    "column_twice": "'{column}' is chosen for both the tokens and the tags; choose two different columns.",
    "nothing_usable": "No row of {name} can be used ({reasons}); fix those rows or choose other columns.",
    "no_entities": "No sentence of {name} tags an entity (every tag is O), so there is nothing to learn; tag the "
                   "entities with B- and I- tags.",
    "rare_tags": "Tags seen only once in the training sentences of {name}: {tags}; add more examples of them, as a "
                 "model can hardly learn a tag from one word.",
    "too_few_to_split": "{name} has too few sentences ({count}) to hold any out for evaluation; add sentences or "
                        "upload a validation CSV.",
    "split_no_entities": "The hold-out of {name} left no entity in training; choose another split seed or upload a "
                         "validation CSV.",
    "eval_no_entities": "The evaluation sentences tag no entity, so precision, recall and F1 stay 0; choose another "
                        "split seed or add tagged sentences to the validation CSV.",
    "unseen_types": "The evaluation data has entity types the training data lacks ({types}); the model cannot "
                    "predict them, so they count as missed.",
    "duplicates": "{name} has {rows} repeating the tokens of an earlier row{clash}; remove the accidental ones.",
    "leaked": "The evaluation data has {rows} with the same tokens as a training row, which flatters its scores; "
              "remove the repeats from one side.",
})
_say, _fail = MESSAGES.say, MESSAGES.fail


# ---------------------------------------------------------------- cells

def parse_cell(cell) -> list[str] | None:
    """The items of a cell: a JSON or Python list of strings (numbers written as they read), or space-separated
    words; [] for an empty cell, None for a cell that starts like a list but is not one."""
    text = "" if cell is None or (isinstance(cell, float) and np.isnan(cell)) else str(cell).strip()
    if not text.startswith("["):
        return text.split()
    for reader in (json.loads, ast.literal_eval):
        try:
            items = reader(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(items, (list, tuple)) and all(isinstance(item, (str, int, float)) for item in items):
            return [item if isinstance(item, str) else str(item) for item in items]
    return None


def _tag_like(cells: pd.Series) -> bool:
    """Whether most non-empty cells of a column are several IOB2 tags (a class label is one), one being B-."""
    parsed = [items for items in map(parse_cell, cells) if items]
    valid = [items for items in parsed if all(map(is_tag, items))]
    return (bool(parsed) and len(valid) >= TAG_SHARE * len(parsed) and np.mean([len(i) for i in valid]) > 1
            and any(tag.startswith("B-") for items in valid for tag in items))


def _same_counts(words: pd.Series, tags: pd.Series) -> bool:
    counts = [(len(w or []), len(t or [])) for w, t in zip(map(parse_cell, words), map(parse_cell, tags)) if t]
    return bool(counts) and sum(a == b for a, b in counts) >= TAG_SHARE * len(counts)


# ---------------------------------------------------------------- columns

def guess_roles(frame: pd.DataFrame, chosen: dict | None = None) -> dict:
    """Tokens and tags columns: those in `chosen` kept, the others found by header name, then by content (a column
    of IOB2 tags; the column with as many words on most rows). None where neither tells."""
    roles = columns.match_headers(frame, {role: (chosen or {}).get(role) or None for role in ROLE_HINTS},
                                  ROLE_HINTS)
    head = frame.head(columns.GUESS_ROWS)
    if roles["label_column"] is None:
        free = [column for column in frame.columns if column not in roles.values()]
        roles["label_column"] = next((column for column in free if _tag_like(head[column])), None)
    if roles["text_column"] is None and roles["label_column"] is not None:
        free = [column for column in frame.columns if column not in roles.values()]
        tags = head[roles["label_column"]]
        roles["text_column"] = next((column for column in free if _same_counts(head[column], tags)), None)
    return roles


def looks_like_tokens(frame: pd.DataFrame) -> bool:
    """Whether a table reads as token classification: a column of IOB2 tags (named tags, ner_tags, labels... or
    found by content) and a column of words (tokens, words... or found by content) with as many items on most rows.
    A "tags" column of topic words (multi-label) does not look so: its cells are not IOB2 tags."""
    roles = guess_roles(frame)
    if not all(roles.values()):
        return False
    head = frame.head(columns.GUESS_ROWS)
    return _tag_like(head[roles["label_column"]]) and _same_counts(head[roles["text_column"]],
                                                                   head[roles["label_column"]])


def choose_roles(spec, frame: pd.DataFrame, name: str) -> dict:
    """The user's column choices, checked and completed from the headers and the content."""
    available = ", ".join(map(str, frame.columns))
    chosen = {role: getattr(spec, role) for role in ROLE_HINTS}
    for column in filter(None, chosen.values()):
        if column not in frame.columns:
            raise columns.MESSAGES.fail("no_such_column", name=name, column=column, columns=available)
    roles = guess_roles(frame, chosen)
    missing = next((ROLE_NAMES[role] for role in ROLE_HINTS if roles[role] is None), None)
    if missing:
        raise _fail("roles_unknown", missing=missing, columns=available)
    if roles["text_column"] == roles["label_column"]:
        raise _fail("column_twice", column=roles["text_column"])
    return roles


# ---------------------------------------------------------------- rows

def read_row(tokens_cell, tags_cell) -> tuple[str, list[str], list[str], dict]:
    """(outcome, words, tags, details for the message) of one row; outcomes in KEPT keep the row, the tags then
    repaired (`repair_tags`)."""
    words, tags = parse_cell(tokens_cell), parse_cell(tags_cell)
    if words is None or tags is None:
        bad = tokens_cell if words is None else tags_cell
        return "bad_list", [], [], {"value": _shortened(str(bad).strip())}
    if not words or not tags:
        return "empty", [], [], {}
    if len(words) != len(tags):
        return "mismatch", [], [], {"token_count": len(words), "tag_count": len(tags)}
    bad = next((tag for tag in tags if not is_tag(tag)), None)
    if bad is not None:
        return ("other_scheme" if bad[:2] in OTHER_SCHEMES else "bad_tag"), [], [], {"value": _shortened(bad)}
    repaired, changed = repair_tags(tags)
    if changed:
        first = changed[0]
        return "repaired", words, repaired, {"value": tags[first], "word": _shortened(words[first]),
                                             "count": len(changed)}
    return "ok", words, tags, {}


def read_rows(frame: pd.DataFrame, roles: dict, name: str) -> tuple[pd.DataFrame, list[str], dict[str, int]]:
    """The usable rows as `tokens` and `tags` (lists of str, tags repaired), with the table's index kept so a row
    can be named; a warning per kind of row left out or changed; and the count of rows per outcome."""
    _check_numeric_tags(frame[roles["label_column"]], roles["label_column"], name)
    results = [read_row(*cells) for cells in zip(frame[roles["text_column"]], frame[roles["label_column"]])]
    outcomes = np.array([result[0] for result in results], dtype=object).astype(str)
    rows = pd.DataFrame({"tokens": [result[1] for result in results], "tags": [result[2] for result in results]},
                        index=frame.index)
    names = {"name": name, "tokens": roles["text_column"], "tags": roles["label_column"]}
    warnings = []
    for outcome in [key for key in MESSAGES if key in set(outcomes)]:  # in the order of MESSAGES
        hits = np.flatnonzero(outcomes == outcome)
        details = dict(results[int(hits[0])][3])
        if outcome == "repaired":
            details["count"] = sum(results[hit][3]["count"] for hit in hits)
        warnings.append(_say(outcome, rows=_rows(len(hits)), row=int(hits[0]) + FIRST_DATA_ROW, **names, **details))
    counts = {str(key): int(count) for key, count in zip(*np.unique(outcomes, return_counts=True))}
    return rows[np.isin(outcomes, KEPT)], warnings, counts


def _check_numeric_tags(cells: pd.Series, column: str, name: str) -> None:
    """Tags exported as ids ([3, 0, 7]) need their names first; no row could be read without them."""
    parsed = [items for items in map(parse_cell, cells.head(columns.GUESS_ROWS)) if items]
    if parsed and all(tag.lstrip("-").isdigit() for items in parsed for tag in items):
        raise _fail("numeric_tags", tags=column, name=name, value=_shortened(str(cells[cells.str.strip() != ""]
                                                                                  .iloc[0]).strip()))


def _shortened(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 1] + "…"


def _left_out(counts: dict[str, int]) -> str:
    return ", ".join(f"{_rows(counts[key])} {reason}" for key, reason in LEFT_OUT.items() if counts.get(key))


def has_entities(rows: pd.DataFrame) -> bool:
    return any(tag != OUTSIDE for tags in rows["tags"] for tag in tags)


def entity_types(rows: pd.DataFrame) -> set[str]:
    return {tag_type(tag) for tags in rows["tags"] for tag in tags if tag != OUTSIDE}


def labels_for(types) -> list[str]:
    """The model's tags: O first, then B- and I- of each entity type, types sorted (so a type seen only as
    one-word entities still gets its I- tag, which a longer entity of it needs)."""
    return [OUTSIDE] + [f"{prefix}{kind}" for kind in sorted(types) for prefix in ("B-", "I-")]


def tag_counts(rows: pd.DataFrame, labels: list[str]) -> dict[str, int]:
    """Words per tag, in label order."""
    counts = Counter(tag for tags in rows["tags"] for tag in tags)
    return {label: int(counts.get(label, 0)) for label in labels}


# ---------------------------------------------------------------- splits and the report

def load_splits(spec, table, kind) -> Splits:
    """Training and evaluation sentences of a table read by `reading.read_table`, and the report (naming `kind`);
    deterministic for a spec. Frames: tokens (list[str]), tags (list[str], repaired IOB2); labels: `labels_for`."""
    name = Path(spec.train_csv).name
    roles = choose_roles(spec, table.frame, name)
    rows, train, evaluation, split, warnings, tally = checks.train_and_eval(
        spec, table, roles, read_rows, _check_usable, _read_eval, split_sentences)
    labels = _check_sides(train, evaluation, table.frame, name, warnings)
    duplicates, leaked = _repeats(rows, train, evaluation, name, warnings)
    train, evaluation = train.reset_index(drop=True), evaluation.reset_index(drop=True)
    report = ValidationReport(
        rows=len(train), eval_rows=len(evaluation), text_column=roles["text_column"], text_pair_column=None,
        label_column=roles["label_column"], task=kind.name, task_name=kind.title, labels=labels,
        label_counts=tag_counts(train, labels), eval_label_counts=tag_counts(evaluation, labels), label_stats=None,
        split=split, warnings=warnings, ragged_rows=tally["ragged_rows"], dropped_rows=tally["dropped_rows"],
        duplicate_rows=duplicates, leaked_rows=leaked, **table_facts(table),
    )
    return Splits(train, evaluation, kind.name, labels, report)


def _check_usable(rows: pd.DataFrame, counts: dict[str, int], name: str) -> None:
    if rows.empty:
        raise _fail("nothing_usable", name=name, reasons=_left_out(counts))
    if not has_entities(rows):
        raise _fail("no_entities", name=name)


def _read_eval(path: str, roles: dict, warnings: list, tally: dict) -> pd.DataFrame:
    """The validation CSV, read and checked like the training CSV, with the same columns."""
    rows, counts, name = checks.read_validation(path, roles, read_rows, warnings, tally)
    if rows.empty:
        raise _fail("nothing_usable", name=name, reasons=_left_out(counts))
    return rows


def split_sentences(rows: pd.DataFrame, fraction: float, seed: int, name: str):
    """Hold out the nearest whole `fraction` of the sentences (at least one, never all) at random with a fixed seed.
    Returns train, eval and the sentence the report shows."""
    if len(rows) < 2:
        raise _fail("too_few_to_split", name=name, count=len(rows))
    held = int(min(len(rows) - 1, max(1, np.floor(len(rows) * fraction + 0.5))))
    in_eval = np.zeros(len(rows), dtype=bool)
    in_eval[np.random.RandomState(seed).permutation(len(rows))[:held]] = True
    split = f"random hold-out of {held:,} of the {len(rows):,} sentences of {name} ({fraction:.0%}, seed {seed})"
    return rows[~in_eval], rows[in_eval], split


def _check_sides(train: pd.DataFrame, evaluation: pd.DataFrame, frame: pd.DataFrame, name: str,
                 warnings: list) -> list[str]:
    """The labels training learns; training needs an entity, and a tag seen once or an evaluation type training
    lacks deserves a word."""
    if not has_entities(train):
        raise _fail("split_no_entities", name=name)
    if not has_entities(evaluation):
        warnings.append(_say("eval_no_entities"))
    counts = Counter(tag for tags in train["tags"] for tag in tags)
    rare = [tag for tag, count in sorted(counts.items()) if count == 1]
    if rare:
        where = {tag: next(i for i, tags in zip(train.index, train["tags"]) if tag in tags) for tag in rare}
        shown = ", ".join(f"'{tag}' (row {frame.index.get_loc(where[tag]) + FIRST_DATA_ROW})" for tag in rare[:5])
        more = f" and {len(rare) - 5:,} more" if len(rare) > 5 else ""
        warnings.append(_say("rare_tags", name=name, tags=shown + more))
    types = entity_types(train)
    unseen = sorted(entity_types(evaluation) - types)
    if unseen:
        warnings.append(_say("unseen_types", types=", ".join(f"'{kind}'" for kind in unseen)))
    return labels_for(types)


def sentence_keys(rows: pd.DataFrame) -> pd.Series:
    return rows["tokens"].map(" ".join)


def _repeats(rows: pd.DataFrame, train: pd.DataFrame, evaluation: pd.DataFrame, name: str, warnings: list):
    """Rows repeating the tokens of an earlier row, and evaluation rows whose tokens training also has."""
    keys = sentence_keys(rows)
    repeated = int(keys.duplicated().sum())
    if repeated:
        clashing = int((rows["tags"].map(" ".join).groupby(keys).nunique() > 1).sum())
        clash = f" ({clashing:,} of those with different tags)" if clashing else ""
        warnings.append(_say("duplicates", name=name, rows=_rows(repeated), clash=clash))
    return repeated, checks.count_leaked(sentence_keys(train), sentence_keys(evaluation), warnings, MESSAGES)
