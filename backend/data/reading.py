"""CSV bytes -> a table of strings: any common encoding and delimiter, ragged rows and odd headers handled, and
every problem as one sentence a person can act on.

`read_table` is the one entry point; `Table` is what it returns. Also here: `Messages`, the small table-of-sentences
pattern that `data` uses for its own sentences. Nothing here writes to the user's files.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import traceback
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path

import pandas as pd

from backend.schemas import StudioError

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
MAX_COLUMNS = 1_000
MAX_ROWS = 1_000_000  # data rows; empty lines have a cap of the same size, so neither kind can run on for long
MAX_LINE_DELIMITERS = 100 * MAX_COLUMNS  # a line with more is refused before csv splits it (each cell costs ~60 bytes)
LINE_PIECE = 1024 * 1024  # lines are read this many characters at a time, so an enormous line is never whole
DECODE_CHUNK = 4 * 1024 * 1024  # the encoding is checked this many bytes at a time, not on a decoded copy of the file
SNIFF_CHARS = 64 * 1024  # delimiter and binary checks look at this much text, never at the whole file
SNIFF_ROWS = 50
NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")

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
# What a text file that is not CSV starts with: (pattern of its start, what it looks like, what to do).
TEXT_SIGNATURES = (
    (re.compile(r"\s*<(!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE),
     "an HTML web page (often an error page saved in place of the file)", "download the CSV file itself again"),
    (re.compile(r"\s*<\?xml\b"), "an XML document", "export the table as CSV"),
    (re.compile(r'\s*(\[\s*[\[{"\]]|\{\s*["}])'), "JSON",
     "convert it with pandas.read_json(...).to_csv(...), adding lines=True for JSON lines"),
)
# Byte-order marks, longest first (a UTF-32 LE mark starts like a UTF-16 LE one).
BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
FALLBACK_ENCODINGS = ("cp1252", "latin-1")  # tried in order when UTF-8 fails; latin-1 accepts any byte
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}  # ties go to the first


class Messages(dict):
    """Sentences a person may read, by key: what is wrong, where, and what to do."""

    def say(self, key: str, **values) -> str:
        return self[key].format(**values)

    def fail(self, key: str, **values) -> StudioError:
        return StudioError(self.say(key, **values))


# Every sentence reading may show, in one place.
MESSAGES = Messages({
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
    "empty_lines": "{name} has more than {limit:,} empty lines; remove them and upload it again.",
    "wide_line": "Line {line:,} of {name} has more than {limit:,} {delimiter}s, far more than the {columns:,} columns "
                 "allowed; keep the text and label columns, one row per line.",
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
    "numeric_header": "The first row of {name} ({header}) is read as column names, but '{number}' is a number; if "
                      "that row is data, add a header row above it (for example text,label).",
    "blank_header": "Column {number} of {name} has no name in the header, so it is called '{title}' here.",
    "repeated_header": "The column name '{title}' appears twice in {name}, so column {number} is called "
                       "'{renamed}' here; rename it in the file to be sure which one is used.",
})
_say, _fail = MESSAGES.say, MESSAGES.fail


@dataclass
class Table:
    """A CSV as read: every cell a str ("" when missing), plus how it was read."""

    frame: pd.DataFrame
    encoding: str
    delimiter: str
    ragged_rows: int = 0
    notes: list[str] = field(default_factory=list)


def read_table(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES, max_rows: int = MAX_ROWS) -> Table:
    """Read a CSV of any common encoding and delimiter into a table of strings, or raise StudioError.

    `max_bytes` and `max_rows` let a server take less than the defaults allow."""
    try:
        return _read_table(Path(path), max_bytes, max_rows)
    except StudioError as exc:
        # The failed read's frames (also those of the csv error behind it) hold the file's bytes: a server that keeps
        # the error a while, or a reference cycle waiting for the garbage collector, must not keep them alive.
        error: BaseException | None = exc
        while error is not None:
            traceback.clear_frames(error.__traceback__)
            error = error.__context__
        raise


def _read_table(path: Path, max_bytes: int, max_rows: int) -> Table:
    name = path.name
    data = _read_bytes(path, max_bytes)
    sample, encoding, notes = _decode(name, data)
    _check_text(name, sample)
    delimiter = _sniff_delimiter(sample)
    with io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="") as stream:  # decoded as csv reads
        header, rows, (count, first) = _parse_rows(name, _Lines(name, stream, delimiter), delimiter, max_rows)
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
            sample = _decoded_sample(data, codec)
        except UnicodeDecodeError as exc:
            if marked:
                raise _fail("bad_bom", name=name, codec=marked.removesuffix("-sig").upper()) from None
            position = exc.start if position is None else position
            continue
        notes = [_say("fallback_encoding", name=name, position=position, codec=codec)] if position is not None else []
        return sample, codec, notes
    raise AssertionError("latin-1 decodes any bytes")


def _decoded_sample(data: bytes, codec: str) -> str:
    """The first SNIFF_CHARS characters, once all of `data` is known to decode; decoded DECODE_CHUNK bytes at a time,
    so no decoded copy of the whole file (up to 4 bytes a character) is ever made. An error's start is in `data`."""
    decoder, view, sample = codecs.getincrementaldecoder(codec)(), memoryview(data), ""
    for start in range(0, len(data), DECODE_CHUNK):
        pending = len(decoder.getstate()[0])  # bytes of a character cut by the previous chunk
        try:
            text = decoder.decode(view[start:start + DECODE_CHUNK], final=start + DECODE_CHUNK >= len(data))
        except UnicodeDecodeError as exc:
            exc.start += start - pending
            raise
        sample += text[:SNIFF_CHARS - len(sample)]
    return sample


def _check_text(name: str, sample: str) -> None:
    """Refuse text that is not a table: mostly control characters, or a web page, XML or JSON."""
    if sum(char < " " and char not in "\t\r\n" for char in sample) > len(sample) / 100:
        raise _fail("control", name=name)
    for pattern, kind, fix in TEXT_SIGNATURES:
        if pattern.match(sample):
            raise _fail("binary_kind", name=name, kind=kind, fix=fix)


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


class _Lines:
    """The text's lines for csv.reader, a long one read LINE_PIECE characters at a time and refused as soon as it
    shows more than MAX_LINE_DELIMITERS delimiters or a stretch without one longer than any cell may be, so neither a
    flood of delimiters nor one enormous cell is ever whole in memory. The stretch is counted as written (csv's limit
    plus two quotes and the line end), so only a cell made mostly of doubled quotes ("") could be refused a little
    before csv itself would. `number` is the line last read, as csv's line_num counts."""

    def __init__(self, name: str, text: io.TextIOBase, delimiter: str):
        self.name, self.text, self.delimiter, self.number = name, text, delimiter, 0
        self.longest = csv.field_size_limit() + 4

    def __iter__(self):
        short = min(self.longest, MAX_LINE_DELIMITERS, LINE_PIECE - 1)  # a whole line, too short to break a limit
        for piece in iter(partial(self.text.readline, LINE_PIECE), ""):
            self.number += 1
            yield piece if len(piece) <= short else self._whole_line(piece)

    def _whole_line(self, piece: str) -> str:
        """The rest of a long line read piece by piece, each piece checked before the next is read."""
        pieces, delimiters, stretch = [], 0, 0
        while piece:
            pieces.append(piece)
            delimiters += piece.count(self.delimiter)
            if delimiters > MAX_LINE_DELIMITERS:
                raise _fail("wide_line", line=self.number, name=self.name, limit=MAX_LINE_DELIMITERS,
                            delimiter=DELIMITERS[self.delimiter], columns=MAX_COLUMNS)
            stretch = self._stretch(stretch, piece)
            if len(piece) < LINE_PIECE or piece.endswith(("\n", "\r")):
                break
            piece = self.text.readline(LINE_PIECE)
        return "".join(pieces)

    def _stretch(self, open_before: int, piece: str) -> int:
        """The stretch without a delimiter left open at the end of `piece`; csv's own error when one is too long."""
        lengths = [len(part) for part in piece.split(self.delimiter)]
        lengths[0] += open_before
        if max(lengths) > self.longest:
            raise csv.Error(f"field larger than field limit ({csv.field_size_limit()})")
        return lengths[-1]


def _parse_rows(name: str, lines: _Lines, delimiter: str, max_rows: int):
    """Header, rows with as many cells as the header, and (count, first line) of the others. Parsing is strict, so
    a quote that never closes is an error here instead of a row that swallows the rest of the file. Ragged rows
    count towards `max_rows`, and empty lines have a cap of their own, so every file is read in bounded time."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    header, width, rows, ragged, first_ragged, empty, line = None, 0, [], 0, 0, 0, 1
    try:
        for row in reader:  # this loop runs once a row: kept lean, since a file may have a million
            if not any(map(str.strip, row)):
                empty += 1
                if empty > max_rows:
                    raise _fail("empty_lines", name=name, limit=max_rows)
            elif header is None:
                header, width = row, len(row)
                if width > MAX_COLUMNS:  # checked before any row is kept, so memory stays small
                    raise _fail("too_many_columns", name=name, count=width, limit=MAX_COLUMNS)
            elif len(rows) + ragged >= max_rows:
                raise _fail("too_many_rows", name=name, limit=max_rows)
            elif len(row) == width or len(row := _trimmed(row, width)) == width:
                rows.append(row)
            else:
                ragged, first_ragged = ragged + 1, first_ragged or line
            line = lines.number + 1
    except csv.Error as exc:
        raise _reading_error(name, str(exc), line, lines.number) from None
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
    numeric = next((title.strip() for title in header if NUMBER.fullmatch(title.strip())), None)
    if numeric is not None:
        shown = ", ".join(header[:5]) + (", ..." if len(header) > 5 else "")
        notes.append(_say("numeric_header", name=name, header=shown, number=numeric))
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


def _rows(count: int) -> str:
    return f"{count:,} row{'s' * (count != 1)}"


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:,.1f} MB"
