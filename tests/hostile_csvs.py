"""A corpus of malformed and hostile "CSV" files, each with the sentence a person must get for it.

Every file is written at test time (`Hostile.write(folder)`), so nothing binary is committed. Each case says what
the app must answer:

- outcome "error": validation fails with a StudioError whose sentence contains `message`;
- outcome "warning": the file is used, and one of the report's warnings contains `message`;
- outcome "accepted": the file is used as it is, with no warning (`message` is then empty).

`report` lists fields the validation report must have when the file is used. `limits` are read_table's keyword
limits that a server may set lower than the defaults (a row cap of 50 proves the row check without a million rows).

Used by tests/data/test_hostile_csvs.py (backend: one case per fresh process, time and peak memory measured) and
tests/ui/test_hostile_uploads.py (the same files through the running server's API).
"""
from __future__ import annotations

import gzip
import io
import json
import random
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

MB = 1024 * 1024


@dataclass(frozen=True)
class Hostile:
    """One hostile file: how to make its bytes and what the person must read about it."""

    id: str
    content: Callable[[], bytes]
    message: str
    outcome: str = "error"  # "error" | "warning" | "accepted"
    report: dict = field(default_factory=dict)
    limits: dict = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{self.id}.csv"

    def write(self, folder: Path) -> Path:
        path = Path(folder) / self.file_name
        path.write_bytes(self.content())
        return path

    def check(self, error: str | None, report: dict | None) -> None:
        """Assert what the person got, the error's sentence or the validation report: this case's own sentence,
        never a generic one or a traceback; or a report with this case's warning (or none) and fields."""
        if self.outcome == "error":
            assert error is not None, f"{self.id} was accepted, with warnings {report['warnings']}"
            assert self.message in error, error
            assert error.endswith(".") and "\n" not in error and "could not be read" not in error
            return
        assert report is not None, f"{self.id} was refused: {error}"
        if self.outcome == "warning":
            assert any(self.message in warning for warning in report["warnings"]), report["warnings"]
        else:
            assert report["warnings"] == []
        assert {key: report[key] for key in self.report} == self.report


def rows(count: int, classes=("positive", "negative", "neutral"), header: str = "text,label") -> str:
    """A usable CSV: a header and `count` short reviews spread over `classes`."""
    return header + "\n" + "".join(f"review {i} of the film,{classes[i % len(classes)]}\n" for i in range(count))


def utf8(text: str) -> Callable[[], bytes]:
    return lambda: text.encode("utf-8")


def xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    return buffer.getvalue()


def garbage(size: int, nul: bool) -> bytes:
    """Seeded random bytes, with or without NUL bytes among them."""
    data = random.Random(5).randbytes(size)
    return data if nul else data.replace(b"\x00", b"\x01")


def nul_in_the_middle() -> bytes:
    good = rows(40).encode()
    return good[: len(good) // 2] + b"\x00" + good[len(good) // 2:]


def enormous_cell() -> bytes:
    """60 MB in one cell of the first data row: no quote, no delimiter and no newline inside it."""
    return b"text,label\n" + b"word " * (12 * MB) + b",positive\nshort one,negative\n"


def enormous_emoji_cell() -> bytes:
    """A 40 MB cell that starts with an emoji: one astral character makes decoded text 4 bytes a character."""
    return "text,label\n\U0001F600".encode() + b"x" * (40 * MB) + b",positive\nshort,negative\n"


FORMULAS = ['=HYPERLINK("http://evil.test","click")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3 stars at best",
            "=1+1 is what the film taught me", "+1 would watch again"]


def formulas() -> bytes:
    """Cells a spreadsheet would run. For training they are plain text (batch scoring escapes them on output)."""
    quoted = ['"' + f"{text} ({i})".replace('"', '""') + '"' for i, text in enumerate(FORMULAS * 3)]
    return ("text,label\n" + "".join(f"{cell},{'ab'[i % 2]}\n" for i, cell in enumerate(quoted))).encode()


def formula_samples() -> list[dict]:
    return [{"text": f"{text} ({i})", "label": "ab"[i % 2]} for i, text in enumerate(FORMULAS[:5])]


# Cells as written in the file and as they must read: doubled quotes, CRLF and a bare LF inside quotes.
NESTED = [('"He said ""it was ""fine"""" and left"', 'He said "it was "fine"" and left'),
          ('"two\r\nlines, one ""quote"""', 'two\r\nlines, one "quote"'),
          ('"a\nbare newline"', "a\nbare newline"),
          ('"""quoted"" start"', '"quoted" start'),
          ("plain text", "plain text"),
          ('"end ""x"""', 'end "x"')]


def nested_quotes_crlf() -> bytes:
    cells = [f'{raw[:-1]} {i}"' if raw.endswith('"') else f"{raw} {i}" for i, (raw, _) in enumerate(NESTED * 3)]
    return ("text,label\r\n" + "".join(f"{cell},{'ab'[i % 2]}\r\n" for i, cell in enumerate(cells))).encode()


def nested_samples() -> list[dict]:
    return [{"text": f"{text} {i}", "label": "ab"[i % 2]} for i, (_, text) in enumerate(NESTED[:5])]


def html_page() -> bytes:
    return (b"\n<!DOCTYPE html>\n<html lang=\"en\"><head><title>404 Not Found</title></head>\n"
            b"<body><h1>Not Found</h1><p>The requested URL, /data.csv, was not found.</p></body></html>\n")


def json_records() -> bytes:
    return json.dumps([{"text": f"review {i}", "label": "ab"[i % 2]} for i in range(20)], indent=2).encode()


def json_lines() -> bytes:
    return "".join(json.dumps({"text": f"review {i}, with a comma", "label": "ab"[i % 2]}) + "\n"
                   for i in range(20)).encode()


def cp1252_text() -> bytes:
    return rows(30).replace("film", "café – “naïve”").encode("cp1252")


def duplicate_header() -> bytes:
    return ("text,label,text\n" + "".join(f"review {i},{'ab'[i % 2]},note {i}\n" for i in range(30))).encode()


def hundred_thousand_columns() -> bytes:
    return (",".join(f"c{i}" for i in range(100_000)) + "\n" + ",".join("x" * 100_000) + "\n").encode()


CASES = [
    # Not a CSV at all: nothing in it, or some other kind of file.
    Hostile("empty", lambda: b"", "empty.csv is empty; save it again with a header row and data rows."),
    Hostile("whitespace_only", lambda: b" \n\r\n\t\n\n   \n", "whitespace_only.csv is empty"),
    Hostile("binary_garbage", lambda: garbage(64 * 1024, nul=True), "contains NUL bytes, so it is a binary file"),
    Hostile("binary_without_nul", lambda: garbage(64 * 1024, nul=False), "is full of control characters"),
    Hostile("gzip_named_csv", lambda: gzip.compress(rows(50).encode()),
            "looks like a gzip archive, not a CSV text file; unpack it (gunzip)"),
    Hostile("xlsx_named_csv", xlsx, "looks like a zip archive or an Excel .xlsx workbook"),
    Hostile("pdf_named_csv", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
            "looks like a PDF document"),
    Hostile("html_error_page", html_page, "looks like an HTML web page (often an error page saved in place of "
            "the file)"),
    Hostile("json_named_csv", json_records, "looks like JSON, not a CSV text file"),
    Hostile("jsonl_named_csv", json_lines, "looks like JSON, not a CSV text file"),
    Hostile("xml_named_csv", utf8('<?xml version="1.0"?>\n<rows><row text="a" label="b"/></rows>\n'),
            "looks like an XML document"),
    # Encodings, and bytes that do not belong in text.
    Hostile("utf16_with_bom", lambda: rows(30).encode("utf-16"), "", "accepted",
            report={"encoding": "utf-16", "rows": 24, "eval_rows": 6}),
    Hostile("utf16_without_bom", lambda: rows(30).encode("utf-16-le"),
            "looks like UTF-16 text without a byte-order mark"),
    Hostile("nul_in_the_middle", nul_in_the_middle, "contains NUL bytes, so it is a binary file"),
    Hostile("control_characters", utf8("text,label\n" + "\x01\x02\x03\x04\x05\x06,x\n" * 40),
            "is full of control characters"),
    Hostile("windows_1252", cp1252_text, "is not valid UTF-8 (first bad byte at position 30), so it was read as "
            "cp1252", "warning", report={"encoding": "cp1252"}),
    # Broken CSV structure.
    Hostile("header_only", utf8("text,label\n"), "has a header (text, label) but no data rows"),
    Hostile("one_column", utf8("text\n" + "".join(f"review {i}\n" for i in range(20))),
            "has only one column (text); a training CSV needs a text column and a label column"),
    Hostile("only_delimiters", utf8(",,,\n" * 30), "has no column names in its first row"),
    Hostile("mostly_ragged", utf8("text,label\n" + "a,b,c\n" * 20 + "fine,x\n" * 5),
            "Most rows of mostly_ragged.csv (20 of 25) do not have the 2 cells of its header"),
    Hostile("few_ragged", utf8(rows(30) + "one,two,three\n"),
            "Left out 1 row of few_ragged.csv (first on line 32) without the 2 cells of its header", "warning"),
    Hostile("unclosed_quote", utf8(rows(10) + '"this quote never closes,positive\n'),
            "A quoted cell from line 12 of unclosed_quote.csv never closes"),
    Hostile("runaway_quote", utf8(rows(5) + '"opened here,positive\n' + rows(20_000, header="x,y")),
            "A quoted cell from line 7 of runaway_quote.csv runs on for"),
    Hostile("stray_quote", utf8(rows(5) + '"quoted" then more,positive\n'),
            "Line 7 of stray_quote.csv has text right after a closing quote"),
    Hostile("nested_quotes_crlf", nested_quotes_crlf, "", "accepted",
            report={"rows": 14, "eval_rows": 4, "samples": nested_samples()}),
    Hostile("duplicate_header", duplicate_header, "The column name 'text' appears twice in duplicate_header.csv, "
            "so column 3 is called 'text_2' here", "warning"),
    Hostile("numeric_header", utf8("0,1\n" + "".join(f"review {i} of the film,{'ab'[i % 2]}\n" for i in range(30))),
            "The first row of numeric_header.csv (0, 1) is read as column names, but '0' is a number", "warning"),
    # Too big in some direction: each must be refused fast and in bounded memory.
    Hostile("hundred_thousand_columns", hundred_thousand_columns, "has 100,000 columns, more than the 1,000 allowed"),
    Hostile("delimiter_flood", lambda: b"ab," * (20 * MB), "Line 1 of delimiter_flood.csv has more than 100,000 "
            "commas"),
    Hostile("enormous_cell", enormous_cell, "A cell on line 2 of enormous_cell.csv is longer than 131,072 characters"),
    Hostile("enormous_emoji_cell", enormous_emoji_cell,
            "A cell on line 2 of enormous_emoji_cell.csv is longer than 131,072 characters"),
    Hostile("long_line_no_newline", lambda: b"word " * (4 * MB),
            "A cell on line 1 of long_line_no_newline.csv is longer than 131,072 characters"),
    Hostile("rows_beyond_a_cap", utf8(rows(51)), "rows_beyond_a_cap.csv has more than 50 rows; use a sample",
            limits={"max_rows": 50}),
    Hostile("million_rows", lambda: b"text,label\n" + b"t,0\nu,1\n" * 500_001,
            "million_rows.csv has more than 1,000,000 rows; use a sample"),
    Hostile("million_ragged_rows", lambda: b"text,label\n" + b"a,b,c\n" * 2_000_000,
            "million_ragged_rows.csv has more than 1,000,000 rows"),
    Hostile("blank_lines_flood", lambda: b"text,label\n" + b"\n" * (30 * MB) + b"a,b\n",
            "blank_lines_flood.csv has more than 1,000,000 empty lines"),
    # Labels and texts that teach nothing.
    Hostile("labels_all_unique", utf8("text,label\n" + "".join(f"review {i} of the film,tag-{i}\n" for i in range(30))),
            "The label column 'label' of labels_all_unique.csv has a different value on every row, like an id column"),
    Hostile("numeric_labels_all_unique", utf8("text,score\n" + "".join(f"review {i},{i * 0.5}\n" for i in range(30))),
            "", "accepted", report={"task": "regression", "label_column": "score"}),
    Hostile("one_class", utf8(rows(20, classes=("positive",))), "holds only 'positive', so there is nothing to learn"),
    Hostile("labels_empty", utf8("text,label\n" + "".join(f"review {i},\n" for i in range(20))),
            "and a label in 'label' (every label is empty)"),
    Hostile("texts_empty", utf8("text,label\n" + "".join(f" ,{'ab'[i % 2]}\n" for i in range(20))),
            "and a label in 'label' (every text is empty)"),
    Hostile("formula_cells", formulas, "", "accepted", report={"rows": 14, "eval_rows": 4, "samples": formula_samples()}),
]

BY_ID = {case.id: case for case in CASES}
assert len(BY_ID) == len(CASES), "case ids must differ"
