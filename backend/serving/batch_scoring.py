"""A whole CSV scored by a finished run: predictions appended to every row, safe to open in a spreadsheet."""
from __future__ import annotations

import csv
import os
import tempfile
import time
from itertools import chain
from pathlib import Path

import numpy as np

from backend.data.reading import read_table
from backend.schemas import StudioError
from backend.serving.inference import (DIGITS, MULTI_LABEL, LoadedRun, checked_threshold, load_run, predict,
                                       predict_scores)
from backend.training import runs

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets read as the start of a formula


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
    threshold; its label_counts are rows given each label).
    """
    started = time.perf_counter()
    loaded = load_run(run_dir)
    # Only label sets are read at a threshold; other tasks leave it unused.
    options = {"threshold": checked_threshold(threshold)} if loaded.task == MULTI_LABEL else {}
    if Path(output_path).resolve() == Path(csv_path).resolve():
        raise StudioError("The output file would overwrite the CSV being scored; choose another output name.")
    table = read_table(csv_path)
    frame, name = table.frame, Path(csv_path).name
    text_column, text_pair_column = _score_columns(loaded, list(frame.columns), name, text_column, text_pair_column)
    texts = frame[text_column].tolist()
    pairs = frame[text_pair_column].tolist() if text_pair_column else None
    usable = [i for i, text in enumerate(texts) if text.strip() and (pairs is None or pairs[i].strip())]
    fill = PREDICTION_CELLS.get(loaded.task, _label_cells)
    added, new_cells, totals = fill(loaded, texts, pairs, usable, **options)
    kept = [column for column in frame.columns if column not in added]  # a re-scored file gets fresh predictions
    escaped = _write_csv(output_path, kept, added, frame[kept].itertuples(index=False), new_cells)
    seconds = time.perf_counter() - started
    summary = {"output": str(output_path), "rows": len(texts), "scored_rows": len(usable),
               "skipped_rows": len(texts) - len(usable), "text_column": text_column,
               "text_pair_column": text_pair_column, "task": loaded.task, "columns_added": added,
               "escaped_cells": escaped, "seconds": round(seconds, 3),
               "rows_per_second": round(len(usable) / max(seconds, 1e-9), 1), "notes": list(table.notes)}
    return summary | totals


def _label_cells(loaded: LoadedRun, texts: list[str], pairs: list[str] | None, usable: list[int]) -> tuple:
    """Classification and regression: (columns added, cells per row, label_counts or value_stats)."""
    scores = predict_scores(loaded.run_dir, [texts[i] for i in usable],
                            None if pairs is None else [pairs[i] for i in usable])
    added = ["predicted_value"] if loaded.labels is None else \
        ["predicted_label", "confidence"] + [f"p_{label}" for label in loaded.labels]
    new_cells = [[""] * len(added) for _ in texts]
    for i, row in zip(usable, scores):
        new_cells[i] = _prediction_cells(loaded, row)
    return added, new_cells, _score_totals(loaded, scores)


ANSWER_COLUMNS = ["predicted_answer", "answer_start", "answer_score", "no_answer"]


def _answer_cells(loaded: LoadedRun, questions: list[str], contexts: list[str], usable: list[int]) -> tuple:
    """Extractive QA: the answer ("" when the model abstains), its character offset in the context, the probability
    of what was returned (the answer, or no answer) and whether it abstained; answer_counts {answered, no answer}."""
    answers = predict(loaded.run_dir, [questions[i] for i in usable], [contexts[i] for i in usable])
    new_cells = [[""] * len(ANSWER_COLUMNS) for _ in questions]
    for i, answer in zip(usable, answers):
        start = "" if answer["start"] is None else str(answer["start"])
        new_cells[i] = [escape_cell(answer["answer"])[0], start, f"{answer['score']:.4f}",
                        str(answer["no_answer"]).lower()]
    answered = sum(not answer["no_answer"] for answer in answers)
    return ANSWER_COLUMNS, new_cells, {"answer_counts": {"answered": answered, "no answer": len(answers) - answered}}


def _label_set_cells(loaded: LoadedRun, texts: list[str], pairs: list[str] | None, usable: list[int],
                     threshold: float) -> tuple:
    """Multi-label: the labels at or above the threshold joined by the run's separator (| when it had none), then
    each label's probability; label_counts {label: rows given it} and the threshold."""
    scores = predict_scores(loaded.run_dir, [texts[i] for i in usable],
                            None if pairs is None else [pairs[i] for i in usable])
    given = scores >= threshold
    joiner = loaded.spec.data.label_separator or "|"
    new_cells = [[""] * (1 + len(loaded.labels)) for _ in texts]
    for i, row, picks in zip(usable, scores, given):
        names = joiner.join(label for label, pick in zip(loaded.labels, picks) if pick)
        new_cells[i] = [escape_cell(names)[0]] + [f"{p:.4f}" for p in row]
    added = ["predicted_labels"] + [f"p_{label}" for label in loaded.labels]
    counts = dict(zip(loaded.labels, map(int, given.sum(axis=0))))  # scores are (rows, labels), also with no rows
    return added, new_cells, {"label_counts": counts, "threshold": threshold}


# Task kinds whose predictions fill other columns than a label or a value.
PREDICTION_CELLS = {"extractive_qa": _answer_cells, MULTI_LABEL: _label_set_cells}


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


def _prediction_cells(loaded: LoadedRun, row: np.ndarray) -> list[str]:
    if loaded.labels is None:
        return [f"{float(row):.{DIGITS}g}"]
    best = int(row.argmax())
    return [escape_cell(loaded.labels[best])[0], f"{row[best]:.4f}"] + [f"{p:.4f}" for p in row]


def _score_totals(loaded: LoadedRun, scores: np.ndarray) -> dict:
    if loaded.labels is None:
        stats = {"min": scores.min(), "max": scores.max(), "mean": scores.mean()} if len(scores) else {}
        return {"value_stats": {key: round(float(value), 4) for key, value in stats.items()}}
    counts = np.bincount(scores.argmax(axis=1), minlength=len(loaded.labels)) if len(scores) else np.zeros(
        len(loaded.labels), dtype=int)
    return {"label_counts": {label: int(count) for label, count in zip(loaded.labels, counts)}}


def escape_cell(value: str) -> tuple[str, bool]:
    """The cell as a spreadsheet may show it safely, and whether it had to change."""
    return ("'" + value, True) if value.startswith(FORMULA_STARTS) else (value, False)


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
