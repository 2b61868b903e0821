"""Where a finished run goes wrong: its validation rows predicted once (cached in the run folder), then the confusion
matrix, per-class scores, confident mistakes and confidence histogram; residuals and worst errors for regression.

The rows are those the trainer evaluated on: `data.load_splits(spec.data).eval` is deterministic for a spec.
Everything `error_analysis` returns is plain JSON-safe data (str, int, float, list, dict, None).
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from backend.data.checks import load_splits
from backend.models.files import safetensors_files
from backend.schemas import StudioError
from backend.serving import inference
from backend.tasks.multi_label import analysis as multilabel_analysis
from backend.tasks.qa import analysis as qa_analysis
from backend.training import runs

CACHE = "eval_predictions.jsonl"
MAX_EXAMPLES = 50
MAX_POINTS = 2_000  # predicted-vs-gold points for a scatter plot; more only slows the browser down
HISTOGRAM_BINS = 10
DIGITS = 4
# Task kinds with validation rows and a report of their own: (loaded run, eval frame) -> rows; (rows, max) -> report.
TASK_ROWS = {"extractive_qa": qa_analysis.eval_rows, "multi_label_classification": multilabel_analysis.eval_rows}
TASK_REPORTS = {"extractive_qa": qa_analysis.error_report,
                "multi_label_classification": multilabel_analysis.error_report}


# ---------------------------------------------------------------- the validation rows, predicted


def eval_predictions(run_dir) -> pd.DataFrame:
    """One row per validation row: text, text_pair (pair runs), gold, predicted, and confidence, correct and scores
    ({label: probability}) for classification or error (predicted - gold) for regression; extractive QA rows are
    qa_analysis.eval_rows' (text: the question, text_pair: the context), multi-label rows multilabel_analysis's.

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
    frame = load_splits(data).eval
    if loaded.task in TASK_ROWS:
        return TASK_ROWS[loaded.task](loaded, frame)
    if loaded.labels is not None and not set(frame["label"]) <= set(loaded.labels):
        raise StudioError(f"{Path(data.train_csv).name} has labels the model of {loaded.run_dir.name} does not know, "
                          "so it changed after training; put the original file back or train again.")
    texts = frame["text"].tolist()
    pairs = frame["text_pair"].tolist() if "text_pair" in frame else None
    scores = inference.predict_scores(loaded.run_dir, texts, pairs)
    rows = [{"text": text} | ({"text_pair": pairs[i]} if pairs else {}) for i, text in enumerate(texts)]
    labels = loaded.labels
    for row, gold, score in zip(rows, frame["label"].tolist(), scores):
        row |= _regression_row(gold, score) if labels is None else _classification_row(labels, gold, score)
    return rows


def _classification_row(labels: list[str], gold: str, score: np.ndarray) -> dict:
    best = int(score.argmax())
    return {"gold": gold, "predicted": labels[best], "confidence": round(float(score[best]), 6),
            "correct": labels[best] == gold, "scores": {label: round(float(p), 6) for label, p in zip(labels, score)}}


def _regression_row(gold: float, value: float) -> dict:
    return {"gold": float(gold), "predicted": round(float(value), 6), "error": round(float(value) - float(gold), 6)}


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
    Extractive QA: task, labels (None), rows and qa_analysis.error_report's keys.
    Multi-label: task, labels, rows and multilabel_analysis.error_report's keys.
    """
    loaded = inference.load_run(run_dir)
    frame = eval_predictions(loaded.run_dir)
    if "text_pair" not in frame:
        frame = frame.assign(text_pair=None)
    head = {"task": loaded.task, "labels": loaded.labels, "rows": len(frame)}
    if loaded.task in TASK_REPORTS:
        return head | TASK_REPORTS[loaded.task](frame, max_examples)
    if loaded.labels is None:
        return head | _regression_report(frame, max_examples)
    return head | _classification_report(frame, loaded.labels, max_examples)


def _classification_report(frame: pd.DataFrame, labels: list[str], max_examples: int) -> dict:
    index = {label: i for i, label in enumerate(labels)}
    gold, pred = frame["gold"].map(index).to_numpy(int), frame["predicted"].map(index).to_numpy(int)
    k = len(labels)
    matrix = confusion_matrix(gold, pred, labels=range(k)) if len(frame) else np.zeros((k, k), dtype=np.int64)
    mistakes = frame[~frame["correct"].astype(bool)].sort_values("confidence", ascending=False, kind="stable")
    examples = [{"text": row.text, "text_pair": row.text_pair, "gold": row.gold, "predicted": row.predicted,
                 "confidence": _round(row.confidence), "gold_probability": _round(row.scores[row.gold])}
                for row in mistakes.head(max_examples).itertuples(index=False)]
    per_class = _per_class(gold, pred, labels)
    return {"accuracy": _round(np.trace(matrix) / max(len(frame), 1)),
            "macro_f1": _round(np.mean([row["f1"] for row in per_class])),
            "confusion_matrix": matrix.tolist(), "per_class": per_class, "misclassified": examples,
            "misclassified_count": len(mistakes),
            "confidence_histogram": _confidence_histogram(frame["confidence"].to_numpy(float),
                                                          frame["correct"].to_numpy(bool), k)}


def _per_class(gold: np.ndarray, pred: np.ndarray, labels: list[str]) -> list[dict]:
    """Label indices in, one row per label out; a label never predicted has precision 0 (zero_division=0)."""
    if not len(gold):
        return [{"label": label, "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0} for label in labels]
    scores = precision_recall_fscore_support(gold, pred, labels=range(len(labels)), zero_division=0)
    return [{"label": label, "precision": _round(precision), "recall": _round(recall), "f1": _round(f1),
             "support": int(support)} for label, precision, recall, f1, support in zip(labels, *scores)]


def _confidence_histogram(confidence: np.ndarray, correct: np.ndarray, num_labels: int) -> list[dict]:
    """Tenths of probability from the one below 1/num_labels (no top score can be lower) up to 1."""
    low = math.floor(HISTOGRAM_BINS / num_labels) / HISTOGRAM_BINS
    bins = max(1, round((1 - low) * HISTOGRAM_BINS))
    edges = np.linspace(low, 1.0, bins + 1)
    right, wrong = (np.histogram(np.clip(confidence[mask], low, 1.0), edges)[0] for mask in (correct, ~correct))
    return [{"low": _round(edges[i]), "high": _round(edges[i + 1]), "correct": int(right[i]), "wrong": int(wrong[i])}
            for i in range(bins)]


def _regression_report(frame: pd.DataFrame, max_examples: int) -> dict:
    errors = frame["error"].to_numpy(float)
    worst = frame.assign(size=np.abs(errors)).sort_values("size", ascending=False, kind="stable")
    step = max(1, math.ceil(len(frame) / MAX_POINTS))
    counts, edges = np.histogram(errors, HISTOGRAM_BINS) if len(errors) else (np.zeros(0), np.zeros(1))
    return {
        "mae": _round(np.mean(np.abs(errors))) if len(errors) else 0.0,
        "rmse": _round(np.sqrt(np.mean(errors**2))) if len(errors) else 0.0,
        "residuals": {name: _round(getattr(np, name)(errors)) if len(errors) else 0.0
                      for name in ("mean", "std", "min", "max")},
        "worst": [{"text": row.text, "text_pair": row.text_pair, "gold": _round(row.gold),
                   "predicted": _round(row.predicted), "error": _round(row.error)}
                  for row in worst.head(max_examples).itertuples(index=False)],
        "residual_histogram": [{"low": _round(edges[i]), "high": _round(edges[i + 1]), "count": int(counts[i])}
                               for i in range(len(counts))],
        "points": [{"gold": _round(gold), "predicted": _round(pred)}
                   for gold, pred in zip(frame["gold"][::step], frame["predicted"][::step])],
    }


def _round(value) -> float:
    return round(float(value), DIGITS)
