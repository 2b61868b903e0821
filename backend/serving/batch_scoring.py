"""A whole CSV scored by a finished run: predictions appended to every row, safe to open in a spreadsheet."""
from __future__ import annotations

import csv
import os
import tempfile
import time
from itertools import chain
from pathlib import Path

from backend.data.cells import escape_cell
from backend.data.reading import read_table
from backend.schemas import StudioError
from backend.serving.inference import LoadedRun, load_run
from backend.training import runs


def score_csv(run_dir, csv_path, output_path, text_column: str | None = None,
              text_pair_column: str | None = None, threshold: float | None = None) -> dict:
    """Every row of a CSV with predictions appended: `predicted_label`, `confidence`, `p_<label>` per class (or
    `predicted_value`; for multi-label `predicted_labels`, the labels at or above `threshold` (None: 0.5) joined by
    the run's separator or |, then `p_<label>` per label; for extractive QA `predicted_answer`, `answer_start`,
    `answer_score`, `no_answer`, with the question as the text and the context as the second text). Rows without a
    text keep empty prediction cells.

    Cells (headers included) starting with = + - @ tab or CR get a leading ' so a spreadsheet shows them instead of
    running them; the numbers written here are left as they are, since a number cannot carry a formula.
    Returns {output, rows, scored_rows, skipped_rows, text_column, text_pair_column, task, columns_added,
    label_counts | value_stats | answer_counts, escaped_cells, seconds, rows_per_second, notes} (multi-label also
    threshold; its label_counts are rows given each label). The columns added are the run's kind's
    (`kind.batch_cells`).
    """
    started = time.perf_counter()
    loaded = load_run(run_dir)
    if Path(output_path).resolve() == Path(csv_path).resolve():
        raise StudioError("The output file would overwrite the CSV being scored; choose another output name.")
    table = read_table(csv_path)
    frame, name = table.frame, Path(csv_path).name
    text_column, text_pair_column = _score_columns(loaded, list(frame.columns), name, text_column, text_pair_column)
    texts = frame[text_column].tolist()
    pairs = frame[text_pair_column].tolist() if text_pair_column else None
    usable = [i for i, text in enumerate(texts) if text.strip() and (pairs is None or pairs[i].strip())]
    # Only label sets are read at a threshold (their kind checks it); other kinds leave it unused.
    added, new_cells, totals = loaded.kind.batch_cells(loaded, texts, pairs, usable, threshold)
    kept = [column for column in frame.columns if column not in added]  # a re-scored file gets fresh predictions
    escaped = _write_csv(output_path, kept, added, frame[kept].itertuples(index=False), new_cells)
    seconds = time.perf_counter() - started
    summary = {"output": str(output_path), "rows": len(texts), "scored_rows": len(usable),
               "skipped_rows": len(texts) - len(usable), "text_column": text_column,
               "text_pair_column": text_pair_column, "task": loaded.task, "columns_added": added,
               "escaped_cells": escaped, "seconds": round(seconds, 3),
               "rows_per_second": round(len(usable) / max(seconds, 1e-9), 1), "notes": list(table.notes)}
    return summary | totals


def _score_columns(loaded: LoadedRun, columns: list[str], name: str, text_column, text_pair_column) -> tuple:
    """The columns to read: those given, else the run's training columns; each checked against the file."""
    try:
        trained = loaded.columns
    except StudioError:  # guessed at training and the training CSV is gone: only the user's choice is left
        trained = {}
    text_column = text_column or trained.get("text_column")
    text_pair_column = text_pair_column or (trained.get("text_pair_column") if loaded.uses_pairs else None)
    if text_column is None:
        raise StudioError(f"Choose the text column of {name}; its columns are: {', '.join(columns)}.")
    for role, column in (("text", text_column), ("second text", text_pair_column)):
        if column is not None and column not in columns:
            raise StudioError(f"{name} has no {role} column '{column}'; choose one of its columns: "
                              f"{', '.join(columns)}.")
    if text_pair_column and loaded.uses_pairs is False:
        raise StudioError("This model reads one text; leave the second text column empty.")
    if not text_pair_column and loaded.uses_pairs:
        raise StudioError(f"This model compares two texts; choose the second text column of {name} "
                          f"({', '.join(columns)}).")
    return text_column, text_pair_column


def _write_csv(path, header: list[str], added: list[str], rows, new_cells: list[list[str]]) -> int:
    """The original cells escaped, then the prediction cells (already safe); written to a temp file and renamed, so
    a reader never sees half a file. Returns how many cells were escaped."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=runs.TEMP_PREFIX, suffix=".csv", dir=path.parent)
    escaped = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            for original, extra in zip(chain([header], rows), chain([added], new_cells)):
                safe = [escape_cell(cell) for cell in original]
                escaped += sum(changed for _, changed in safe)
                writer.writerow([cell for cell, _ in safe] + extra)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return escaped
