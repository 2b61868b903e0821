"""Cells written to a CSV that people open in a spreadsheet: a cell that starts like a formula is shown, not run."""
from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets read as the start of a formula


def escape_cell(value: str) -> tuple[str, bool]:
    """The cell as a spreadsheet may show it safely, and whether it had to change."""
    return ("'" + value, True) if value.startswith(FORMULA_STARTS) else (value, False)
