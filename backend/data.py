"""CSV files -> checked tables -> train/eval frames, with every problem as one sentence a person can act on.

`read_table` turns bytes into a table of strings (encoding, delimiter, ragged rows); `guess_columns` and
`detect_task` decide what the columns mean; `validate` and `load_splits` clean the rows, check the labels,
hold out the evaluation rows and report what they found. Nothing here writes to the user's files.
"""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd

from backend.schemas import TASK_KINDS, DataSpec, StudioError

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
MAX_COLUMNS = 1_000
MAX_ROWS = 1_000_000
SNIFF_CHARS = 64 * 1024  # delimiter and binary checks look at this much text, never at the whole file
SNIFF_ROWS = 50
GUESS_ROWS = 2_000  # column roles are guessed from this many rows
SAMPLE_ROWS = 5
MAX_INTEGER_CLASSES = 20  # integer labels with more distinct values than this are a regression target
ID_CHECK_MIN_ROWS = 10  # below this, a label that differs on every row may just be a tiny file

# What a file that is not CSV text starts with: (magic bytes, what it looks like, what to do).
BINARY_SIGNATURES = (
    (b"\x1f\x8b", "a gzip archive", "unpack it (gunzip) and upload the CSV inside"),
    (b"PK\x03\x04", "a zip archive or an Excel .xlsx workbook", "unzip it, or in Excel use Save As > CSV UTF-8"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook", "in Excel use Save As > CSV UTF-8"),
    (b"%PDF", "a PDF document", "export the table itself as CSV"),
    (b"\x89PNG", "a PNG image", "upload the table as CSV instead"),
    (b"PAR1", "a Parquet file", "convert it with pandas.read_parquet(...).to_csv(...)"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table as CSV"),
)
# Byte-order marks, longest first (a UTF-32 LE mark starts like a UTF-16 LE one).
BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
FALLBACK_ENCODINGS = ("cp1252", "latin-1")  # tried in order when UTF-8 fails; latin-1 accepts any byte
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}  # ties go to the first
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
# Every sentence a person may read, in one place: what is wrong, where, and what to do.
MESSAGES = {
    "folder": "{path} is a folder, not a CSV file; choose a file inside it.",
    "unreadable": "{name} could not be read ({reason}); check the path and that you may read the file.",
    "too_big": "{name} is {size}, above the {limit} limit; use a sample of its rows or raise the limit.",
    "empty": "{name} is empty; save it again with a header row and data rows.",
    "binary_kind": "{name} looks like {kind}, not a CSV text file; {fix}.",
    "bad_bom": "{name} starts with a {codec} byte-order mark but is not valid {codec}; save it as CSV UTF-8.",
    "utf16_no_bom": "{name} looks like UTF-16 text without a byte-order mark; save it again as CSV UTF-8.",
    "nul": "{name} contains NUL bytes, so it is a binary file rather than CSV text; export the table as CSV.",
    "control": "{name} is full of control characters, so it is not CSV text; export the table as CSV.",
    "fallback_encoding": "{name} is not valid UTF-8 (first bad byte at position {position:,}), so it was read as "
                         "{codec}; check that accented letters look right, or save it as CSV UTF-8.",
    "no_header": "{name} has no column names in its first row; save it again with a header row.",
    "header_only": "{name} has a header ({header}) but no data rows; add rows below the header.",
    "too_many_columns": "{name} has {count:,} columns, more than the {limit:,} allowed; keep the text and label "
                        "columns.",
    "too_many_rows": "{name} has more than {limit:,} rows; use a sample of them (fine-tuning rarely needs more).",
    "huge_cell": "A cell on line {line:,} of {name} is longer than {limit:,} characters; shorten it.",
    "runaway_quote": "A quoted cell from line {line:,} of {name} runs on for {lines:,} lines and {limit:,}+ "
                     "characters; add its missing closing quote (\") or shorten it.",
    "unclosed_quote": "A quoted cell from line {line:,} of {name} never closes; add the missing closing quote (\").",
    "stray_quote": "Line {line:,} of {name} has text right after a closing quote; quote the whole cell and double "
                   "the quotes inside it (\"\").",
    "csv_error": "{name} could not be read as CSV near line {line:,} ({error}); check that row.",
    "mostly_ragged": "Most rows of {name} ({count:,} of {total:,}) do not have the {width} cells of its header; "
                     "check the delimiter, and quote texts that contain a {delimiter}.",
    "ragged": "Left out {rows} of {name} (first on line {line:,}) without the {width} cells of its header; "
              "quote texts that contain a {delimiter}.",
    "blank_header": "Column {number} of {name} has no name in the header, so it is called '{title}' here.",
    "repeated_header": "The column name '{title}' appears twice in {name}, so column {number} is called "
                       "'{renamed}' here; rename it in the file to be sure which one is used.",
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
    "nothing_usable": "No row of {name} has both a text in {texts} and a label in '{label}'; fill them in.",
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
}


def _say(key: str, **values) -> str:
    return MESSAGES[key].format(**values)


def _fail(key: str, **values) -> StudioError:
    return StudioError(_say(key, **values))


@dataclass
class Table:
    """A CSV as read: every cell a str ("" when missing), plus how it was read."""

    frame: pd.DataFrame
    encoding: str
    delimiter: str
    ragged_rows: int = 0
    notes: list[str] = field(default_factory=list)


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

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Splits:
    """Normalised frames with columns `text`, optional `text_pair`, `label` (str class name or float)."""

    train: pd.DataFrame
    eval: pd.DataFrame
    task: str
    labels: list[str] | None
    report: ValidationReport


# ---------------------------------------------------------------- reading

def read_table(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Table:
    """Read a CSV of any common encoding and delimiter into a table of strings, or raise StudioError."""
    path = Path(path)
    name = path.name
    data = _read_bytes(path, max_bytes)
    sample, encoding, notes = _decode(name, data)
    if sum(char < " " and char not in "\t\r\n" for char in sample) > len(sample) / 100:
        raise _fail("control", name=name)
    delimiter = _sniff_delimiter(sample)
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")  # decoded in chunks as csv reads
    header, rows, (count, first) = _parse_rows(name, stream, delimiter)
    where = dict(name=name, width=len(header), delimiter=DELIMITERS[delimiter])
    if count > len(rows):
        raise _fail("mostly_ragged", count=count, total=count + len(rows), **where)
    if count:
        notes.append(_say("ragged", rows=_rows(count), line=first, **where))
    frame, header_notes = _frame(name, header, rows)
    return Table(frame, encoding, delimiter, count, header_notes + notes)


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, checked for size and for being some other kind of file before anything is decoded."""
    if path.is_dir():
        raise _fail("folder", path=path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _fail("too_big", name=path.name, size=_megabytes(size), limit=_megabytes(max_bytes))
        with path.open("rb") as handle:  # read what stat promised, never more: a growing or special file stays bounded
            data = handle.read(size)
    except OSError as exc:
        raise _fail("unreadable", name=path.name, reason=exc.strerror or exc) from None
    if not data or data.isspace():  # isspace stops at the first other byte, so a big file is not copied
        raise _fail("empty", name=path.name)
    for magic, kind, fix in BINARY_SIGNATURES:
        if data.startswith(magic):
            raise _fail("binary_kind", name=path.name, kind=kind, fix=fix)
    return data


def _decode(name: str, data: bytes) -> tuple[str, str, list[str]]:
    """The first SNIFF_CHARS of text, the codec that decodes all of it, and a note when UTF-8 did not."""
    marked = next((codec for mark, codec in BOMS if data.startswith(mark)), None)
    if marked in (None, "utf-8-sig") and b"\x00" in data:
        sample = data[:SNIFF_CHARS]
        utf16 = max(sample[0::2].count(0), sample[1::2].count(0)) > len(sample) / 4
        raise _fail("utf16_no_bom" if utf16 else "nul", name=name)
    position = None  # of the first byte that is not UTF-8
    for codec in (marked,) if marked else ("utf-8", *FALLBACK_ENCODINGS):
        try:
            sample = data.decode(codec)[:SNIFF_CHARS]
        except UnicodeDecodeError as exc:
            if marked:
                raise _fail("bad_bom", name=name, codec=marked.removesuffix("-sig").upper()) from None
            position = exc.start if position is None else position
            continue
        notes = [_say("fallback_encoding", name=name, position=position, codec=codec)] if position is not None else []
        return sample, codec, notes
    raise AssertionError("latin-1 decodes any bytes")


def _sniff_delimiter(sample: str) -> str:
    """The candidate that splits the first rows into the most consistent number (more than one) of cells."""
    def score(delimiter: str) -> tuple[float, int]:
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
        try:
            rows = [row for row in islice(reader, SNIFF_ROWS) if row]
        except csv.Error:
            return (0.0, 0)
        rows = rows[:-1] if len(rows) > 1 else rows  # the last row may be cut off by the sample's end
        if not rows or len(rows[0]) < 2:
            return (0.0, 0)
        return (sum(len(row) == len(rows[0]) for row in rows) / len(rows), len(rows[0]))
    return max(DELIMITERS, key=score)


def _parse_rows(name: str, text, delimiter: str):
    """Header, rows with as many cells as the header, and (count, first line) of the others. Parsing is strict, so
    a quote that never closes is an error here instead of a row that swallows the rest of the file."""
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    header, rows, ragged, first_ragged, line = None, [], 0, 0, 1
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                pass  # a blank line
            elif header is None:
                header = row
                if len(header) > MAX_COLUMNS:  # checked before any row is kept, so memory stays small
                    raise _fail("too_many_columns", name=name, count=len(header), limit=MAX_COLUMNS)
            elif len(row := _trimmed(row, len(header))) != len(header):
                ragged, first_ragged = ragged + 1, first_ragged or line
            elif len(rows) < MAX_ROWS:
                rows.append(row)
            else:
                raise _fail("too_many_rows", name=name, limit=MAX_ROWS)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise _reading_error(name, str(exc), line, reader.line_num) from None
    if header is None:
        raise _fail("no_header", name=name)
    if not rows and not ragged:
        raise _fail("header_only", name=name, header=", ".join(header))
    return header, rows, (ragged, first_ragged)


def _trimmed(row: list[str], width: int) -> list[str]:
    """Drop empty cells past the header's width (a trailing delimiter); keep anything else as it is."""
    return row[:width] if len(row) > width and not any(cell.strip() for cell in row[width:]) else row


def _reading_error(name: str, error: str, line: int, last_line: int) -> StudioError:
    """The csv module's complaint as a sentence; the cell-size limit is csv's own (131,072 characters by default)."""
    limit = csv.field_size_limit()
    if "expected after" in error:
        return _fail("stray_quote", line=line, name=name)
    if "field larger" in error and last_line == line:
        return _fail("huge_cell", line=line, name=name, limit=limit)
    if "field larger" in error:
        return _fail("runaway_quote", line=line, name=name, lines=last_line - line + 1, limit=limit)
    if "unexpected end" in error:
        return _fail("unclosed_quote", line=line, name=name)
    return _fail("csv_error", name=name, line=line, error=error)


def _frame(name: str, header: list[str], rows: list[list[str]]) -> tuple[pd.DataFrame, list[str]]:
    """Name the columns (blank and repeated header names get a stand-in and a note) and build the frame."""
    cells_by_column = list(zip(*rows)) if rows else [()] * len(header)
    columns, notes = {}, []
    for number, (raw, cells) in enumerate(zip(header, cells_by_column), start=1):
        title = raw.strip()
        if not title:
            if not any(cell.strip() for cell in cells):
                continue  # a trailing delimiter, not a column
            title = f"column_{number}"
            notes.append(_say("blank_header", number=number, name=name, title=title))
        if title in columns:
            renamed = next(f"{title}_{k}" for k in range(2, len(header) + 2) if f"{title}_{k}" not in columns)
            notes.append(_say("repeated_header", title=title, name=name, number=number, renamed=renamed))
            title = renamed
        columns[title] = list(cells)
    return pd.DataFrame(columns, dtype=str), notes


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


def _normalized(frame: pd.DataFrame, columns: dict, name: str, warnings: list, tally: dict) -> pd.DataFrame:
    """Columns text, text_pair, label with cells stripped; rows without a text or a label left out and counted."""
    roles = {"text": columns["text_column"], "text_pair": columns["text_pair_column"], "label": columns["label_column"]}
    data = pd.DataFrame({new: frame[old].str.strip() for new, old in roles.items() if old})
    texts = " or ".join(f"'{roles[role]}'" for role in ("text", "text_pair") if roles[role])
    empty_text = (data.drop(columns="label") == "").any(axis=1)
    no_label = (data["label"] == "") & ~empty_text
    for mask, key in ((empty_text, "empty_texts"), (no_label, "missing_labels")):
        if mask.any():
            warnings.append(_say(key, rows=_rows(int(mask.sum())), name=name, texts=texts, label=roles["label"]))
    tally["dropped_rows"] += int((empty_text | no_label).sum())
    data = data[~(empty_text | no_label)].reset_index(drop=True)
    if data.empty:
        raise _fail("nothing_usable", name=name, texts=texts, label=roles["label"])
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
    leaked = int(keys(evaluation).isin(keys(train)).sum())
    if leaked:
        warnings.append(_say("leaked", rows=_rows(leaked)))
    return repeated, leaked


def _rows(count: int) -> str:
    return f"{count:,} row{'s' * (count != 1)}"


def _listed(counts: pd.Series, limit: int = 5) -> str:
    shown = ", ".join(f"'{label}' ({_rows(int(count))})" for label, count in islice(counts.items(), limit))
    return shown + (f" and {len(counts) - limit:,} more" if len(counts) > limit else "")


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:,.1f} MB"


def _counts(data: pd.DataFrame, labels: list[str] | None) -> dict[str, int]:
    counts = data["label"].value_counts() if labels else {}
    return {label: int(counts.get(label, 0)) for label in labels or []}


