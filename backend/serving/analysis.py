"""Where a finished run goes wrong: its validation rows predicted once (cached in the run folder), then its kind's
error report (backend.tasks: `kind.eval_rows`, `kind.error_report`), e.g. the confusion matrix, per-class scores,
confident mistakes and confidence histogram of a classifier; residuals and worst errors for regression.

The rows are those the trainer evaluated on: `loading.load_splits(spec.data).eval` is deterministic for a spec.
Everything `error_analysis` returns is plain JSON-safe data (str, int, float, list, dict, None).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from backend.tasks.loading import load_splits
from backend.models.files import safetensors_files
from backend.schemas import StudioError
from backend.serving import inference
from backend.training import runs

CACHE = "eval_predictions.jsonl"
MAX_EXAMPLES = 50


# ---------------------------------------------------------------- the validation rows, predicted


def eval_predictions(run_dir) -> pd.DataFrame:
    """One row per validation row: text, text_pair (pair runs), gold, predicted, and confidence, correct and scores
    ({label: probability}) for classification or error (predicted - gold) for regression; extractive QA rows are
    qa.analysis.eval_rows' (text: the question, text_pair: the context), multi-label rows multi_label.analysis's:
    the run's kind's `eval_rows`.

    Cached as eval_predictions.jsonl in the run folder, recomputed when the model, spec or CSVs are newer. Once
    cached it survives the CSV being deleted.
    """
    loaded = inference.load_run(run_dir)
    cache = loaded.run_dir / CACHE
    if _is_fresh(cache, loaded):
        with cache.open(encoding="utf-8") as handle:
            return pd.DataFrame.from_records([json.loads(line) for line in handle if line.strip()])
    records = _predict_eval_rows(loaded)
    _write_jsonl(cache, records)
    return pd.DataFrame.from_records(records)


def _is_fresh(cache: Path, loaded: inference.LoadedRun) -> bool:
    if not cache.is_file():
        return False
    data = loaded.spec.data
    model = loaded.run_dir / runs.MODEL
    sources = [*safetensors_files(model), model / "config.json", loaded.run_dir / runs.SPEC,
               *(Path(path) for path in (data.train_csv, data.eval_csv) if path)]
    newest = max(path.stat().st_mtime_ns for path in sources if path.exists())
    return cache.stat().st_mtime_ns >= newest


def _predict_eval_rows(loaded: inference.LoadedRun) -> list[dict]:
    data = loaded.spec.data
    gone = next((path for path in (data.train_csv, data.eval_csv) if path and not Path(path).is_file()), None)
    if gone:
        raise StudioError(f"The validation rows of {loaded.run_dir.name} come from {gone}, which is no longer there; "
                          "put the file back to see them.")
    return loaded.kind.eval_rows(loaded, load_splits(data).eval)


def _write_jsonl(path: Path, records: list[dict]) -> None:
    """Written to a temp file and renamed, so a reader sees all rows or none."""
    try:
        fd, temp = tempfile.mkstemp(prefix=runs.TEMP_PREFIX, dir=path.parent)
    except OSError:
        return  # a run folder that cannot be written to just goes without a cache
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
        os.replace(temp, path)
    except OSError:
        Path(temp).unlink(missing_ok=True)


# ---------------------------------------------------------------- error analysis


def error_analysis(run_dir, max_examples: int = MAX_EXAMPLES) -> dict:
    """Classification: task, labels, rows, accuracy, macro_f1, confusion_matrix (rows gold, columns predicted, in
    `labels` order), per_class [{label, precision, recall, f1, support}], misclassified (confident mistakes first)
    [{text, text_pair, gold, predicted, confidence, gold_probability}], misclassified_count and
    confidence_histogram [{low, high, correct, wrong}].
    Regression: task, labels (None), rows, mae, rmse, residuals {mean, std, min, max}, worst [{text, text_pair,
    gold, predicted, error}], residual_histogram [{low, high, count}], points [{gold, predicted}].
    Extractive QA: task, labels (None), rows and qa.analysis.error_report's keys.
    Multi-label: task, labels, rows and multi_label.analysis.error_report's keys.
    (task, labels and rows, then the kind's `error_report`: backend.tasks.sequence_reports for the first two.)
    """
    loaded = inference.load_run(run_dir)
    frame = eval_predictions(loaded.run_dir)
    if "text_pair" not in frame:
        frame = frame.assign(text_pair=None)
    head = {"task": loaded.task, "labels": loaded.labels, "rows": len(frame)}
    return head | loaded.kind.error_report(loaded, frame, max_examples)
