"""Error analysis of finished runs of the tiny model: the validation rows the trainer used, predicted once."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pandas as pd
import pytest

from backend.tasks import loading as data
from backend.schemas import DataSpec, StudioError
from backend.serving import analysis, inference
from backend.tasks import sequence_reports
from backend.tasks.multi_label import analysis as multilabel_analysis
from backend.training import runs
from tests.serving.test_inference import multilabel_run  # noqa: F401  (its finished run, built for this module too)
from tests.serving.test_inference import sentiment_rows, similarity_rows, train_run, write_rows

FLIP = {"neg": "pos", "pos": "neg"}


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory, tiny_model_dir):
    """Trained on clean rows, validated on rows of which every fourth has the wrong label: mistakes to analyse."""
    folder = tmp_path_factory.mktemp("analysis-classifier")
    train_csv = write_rows(folder / "train.csv", ["text", "label"], sentiment_rows(80, seed=1))
    rows = [(text, FLIP[label] if i % 4 == 0 else label) for i, (text, label) in enumerate(sentiment_rows(24, seed=5))]
    eval_csv = write_rows(folder / "eval.csv", ["text", "label"], rows)
    return train_run(folder / "run", train_csv, tiny_model_dir, max_steps=40,
                     data=DataSpec(train_csv=str(train_csv), eval_csv=str(eval_csv)))


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("analysis-regression")
    csv_path = write_rows(folder / "similarity.csv", ["sentence1", "sentence2", "score"], similarity_rows())
    return train_run(folder / "run", csv_path, tiny_model_dir)


def touch_later(path, seconds=60):
    """As if the file were written again, a little in the future (beyond any file written so far)."""
    later = time.time() + seconds
    os.utime(path, (later, later))


def test_eval_predictions_are_the_training_split_and_cached(classifier_run, monkeypatch):
    frame = analysis.eval_predictions(classifier_run)
    splits = data.load_splits(runs.read_spec(classifier_run).data)
    assert frame["text"].tolist() == splits.eval["text"].tolist()
    assert frame["gold"].tolist() == splits.eval["label"].tolist()
    assert {"predicted", "confidence", "correct", "scores"} <= set(frame.columns)
    assert len(frame) == runs.read_results(classifier_run)["eval_rows"]
    assert (classifier_run / analysis.CACHE).is_file()

    def refuse(*args, **kwargs):
        raise AssertionError("predicted again although the cache is fresh")

    monkeypatch.setattr(inference, "predict_scores", refuse)
    cached = analysis.eval_predictions(classifier_run)
    assert cached.to_dict("records") == frame.to_dict("records")
    touch_later(classifier_run / "model" / "model.safetensors")  # a newer model makes the cache stale
    with pytest.raises(AssertionError, match="predicted again"):
        analysis.eval_predictions(classifier_run)


def test_error_analysis_agrees_with_the_metrics_of_training(classifier_run):
    report = analysis.error_analysis(classifier_run)
    json.dumps(report, allow_nan=False)  # JSON-safe as it is
    metrics = runs.read_results(classifier_run)["metrics"]
    assert report["task"] == "text_classification" and report["labels"] == ["neg", "pos"]
    assert report["accuracy"] == pytest.approx(metrics["accuracy"], abs=1e-4)
    assert report["macro_f1"] == pytest.approx(metrics["macro_f1"], abs=1e-4)

    matrix = np.array(report["confusion_matrix"])
    assert matrix.sum() == report["rows"] and matrix.shape == (2, 2)
    assert [row["support"] for row in report["per_class"]] == matrix.sum(axis=1).tolist()
    assert report["misclassified_count"] == matrix.sum() - np.trace(matrix)
    mistakes = report["misclassified"]
    assert len(mistakes) == min(report["misclassified_count"], analysis.MAX_EXAMPLES)
    assert [m["confidence"] for m in mistakes] == sorted((m["confidence"] for m in mistakes), reverse=True)
    assert mistakes and all(m["gold"] != m["predicted"] and m["text_pair"] is None for m in mistakes)
    assert all(m["gold_probability"] == pytest.approx(1 - m["confidence"], abs=1e-3) for m in mistakes)

    bins = report["confidence_histogram"]
    assert bins[0]["low"] == 0.5 and bins[-1]["high"] == 1.0 and len(bins) == 5
    assert sum(b["correct"] for b in bins) == np.trace(matrix)
    assert sum(b["wrong"] for b in bins) == report["misclassified_count"]


def test_per_class_scores_follow_the_confusion_matrix():
    # Gold rows, predicted columns: class "b" is never predicted, so its precision is 0, not an error.
    matrix = np.array([[3, 0, 1], [2, 0, 0], [0, 0, 4]])
    cells = [(g, p) for (g, p), count in np.ndenumerate(matrix) for _ in range(count)]
    gold, pred = (np.array(side) for side in zip(*cells))
    rows = sequence_reports.per_class(gold, pred, ["a", "b", "c"])
    assert rows[0] == {"label": "a", "precision": 0.6, "recall": 0.75, "f1": pytest.approx(0.6667, abs=1e-4),
                       "support": 4}
    assert rows[1] == {"label": "b", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert rows[2]["precision"] == 0.8 and rows[2]["recall"] == 1.0


def test_regression_reports_residuals_and_worst_errors(regression_run):
    report = analysis.error_analysis(regression_run, max_examples=5)
    json.dumps(report, allow_nan=False)
    assert report["task"] == "regression" and report["labels"] is None
    metrics = runs.read_results(regression_run)["metrics"]
    assert report["rmse"] ** 2 == pytest.approx(metrics["mse"], rel=1e-3)
    worst = report["worst"]
    assert len(worst) == 5 and all(w["text_pair"] for w in worst)
    assert [abs(w["error"]) for w in worst] == sorted((abs(w["error"]) for w in worst), reverse=True)
    assert len(report["points"]) == report["rows"]
    assert sum(b["count"] for b in report["residual_histogram"]) == report["rows"]
    assert report["mae"] <= report["rmse"]


def test_multi_label_analysis_agrees_with_the_metrics_of_training(multilabel_run):
    report = analysis.error_analysis(multilabel_run, max_examples=5)
    json.dumps(report, allow_nan=False)
    results = runs.read_results(multilabel_run)
    assert report["task"] == "multi_label_classification" and report["labels"] == ["billing", "delivery", "urgent"]
    assert report["rows"] == results["eval_rows"] and report["threshold"] == 0.5
    for name in ("micro_f1", "macro_f1", "subset_accuracy"):
        assert report[name] == pytest.approx(results["metrics"][name], abs=1e-4), name
    frame = analysis.eval_predictions(multilabel_run)
    gold = data.load_splits(runs.read_spec(multilabel_run).data).eval["label"]
    assert [tuple(row) for row in frame["gold"]] == gold.tolist() and "text_pair" in frame
    support = [sum(label in names for names in gold) for label in report["labels"]]
    assert [row["support"] for row in report["per_label"]] == support
    assert report["misclassified_count"] == int((~frame["correct"]).sum())
    assert report["label_cardinality"]["gold"] == pytest.approx(np.mean([len(g) for g in gold]), abs=1e-4)
    for mistake in report["misclassified"]:
        assert mistake["gold"] != mistake["predicted"] and mistake["text_pair"]
        assert set(mistake["missing"]) == set(mistake["gold"]) - set(mistake["predicted"])
        assert set(mistake["extra"]) == set(mistake["predicted"]) - set(mistake["gold"])


def test_multi_label_report_puts_the_furthest_label_sets_first():
    rows = [{"text": "a", "text_pair": None, "gold": ["x"], "predicted": ["x"], "correct": True,
             "scores": {"x": 0.9, "y": 0.1}},
            {"text": "b", "text_pair": None, "gold": ["x", "y"], "predicted": ["x"], "correct": False,
             "scores": {"x": 0.8, "y": 0.45}},
            {"text": "c", "text_pair": None, "gold": [], "predicted": ["y"], "correct": False,
             "scores": {"x": 0.3, "y": 0.95}}]
    report = multilabel_analysis.error_report(pd.DataFrame(rows), max_examples=5)
    assert [m["text"] for m in report["misclassified"]] == ["c", "b"]  # 0.3 + 0.95 away, then 0.2 + 0.55
    assert report["misclassified"][1] | {"scores": None} == {"text": "b", "text_pair": None, "gold": ["x", "y"],
                                                              "predicted": ["x"], "missing": ["y"], "extra": [],
                                                              "scores": None}
    assert report["per_label"] == [
        {"label": "x", "precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2, "predicted": 2},
        {"label": "y", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 1}]
    assert (report["micro_f1"], report["macro_f1"], report["subset_accuracy"]) == (0.6667, 0.5, 0.3333)


def test_a_vanished_csv_is_named_unless_the_predictions_are_cached(tmp_path, tiny_model_dir):
    csv_path = write_rows(tmp_path / "reviews.csv", ["text", "label"], sentiment_rows(40, seed=2))
    run_dir = train_run(tmp_path / "run", csv_path, tiny_model_dir, max_steps=2)
    analysis.eval_predictions(run_dir)
    csv_path.unlink()
    assert analysis.error_analysis(run_dir)["rows"] == 8  # the cache still answers
    (run_dir / analysis.CACHE).unlink()
    with pytest.raises(StudioError, match="reviews.csv, which is no longer there"):
        analysis.error_analysis(run_dir)
