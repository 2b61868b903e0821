"""Scoring a whole CSV: predictions appended, formulas defused, columns checked."""
from __future__ import annotations

import pytest

from backend.schemas import StudioError
from backend.serving import batch_scoring, inference
# The finished runs are the inference tests' fixtures, shared rather than built a second way.
from tests.serving.test_inference import classifier_run, multilabel_run, regression_run  # noqa: F401
from tests.serving.test_inference import read_csv, similarity_rows, ticket_rows, write_rows


def test_score_csv_appends_predictions_and_defuses_formulas(classifier_run, tmp_path):
    source = write_rows(tmp_path / "in.csv", ["id", "text", "=note"], [
        ("1", "a great movie", "=1+2"), ("2", "", "+SUM(A1)"), ("3", "-awful plot", "@cmd"), ("4", "nice", "\tx"),
        ("5", "poor", "-3"),
    ])
    summary = batch_scoring.score_csv(classifier_run, source, tmp_path / "out.csv")
    assert summary["rows"] == 5 and summary["scored_rows"] == 4 and summary["skipped_rows"] == 1
    assert summary["text_column"] == "text" and summary["text_pair_column"] is None
    assert summary["columns_added"] == ["predicted_label", "confidence", "p_neg", "p_pos"]
    assert sum(summary["label_counts"].values()) == 4
    header, *rows = read_csv(tmp_path / "out.csv")
    assert header == ["id", "text", "'=note", "predicted_label", "confidence", "p_neg", "p_pos"]
    assert [row[2] for row in rows] == ["'=1+2", "'+SUM(A1)", "'@cmd", "'\tx", "'-3"]
    assert rows[2][1] == "'-awful plot" and summary["escaped_cells"] == 7
    assert rows[1][3:] == ["", "", "", ""]  # no text, no prediction
    expected = inference.predict(classifier_run, ["a great movie", "-awful plot", "nice", "poor"])
    for row, prediction in zip([rows[0], *rows[2:]], expected):
        assert row[3] == prediction["label"]
        assert float(row[6]) == pytest.approx(prediction["scores"]["pos"], abs=1e-4)
        assert float(row[4]) == pytest.approx(max(float(row[5]), float(row[6])))


def test_score_csv_names_the_columns_it_can_use(classifier_run, tmp_path):
    source = write_rows(tmp_path / "in.csv", ["review", "id"], [("a lovely film", "1")])
    with pytest.raises(StudioError, match="no text column 'text'.*review, id"):
        batch_scoring.score_csv(classifier_run, source, tmp_path / "out.csv")
    summary = batch_scoring.score_csv(classifier_run, source, tmp_path / "out.csv", text_column="review")
    assert summary["scored_rows"] == 1
    with pytest.raises(StudioError, match="overwrite"):
        batch_scoring.score_csv(classifier_run, source, source, text_column="review")


def test_score_csv_of_pairs_with_values(regression_run, tmp_path):
    source = write_rows(tmp_path / "in.csv", ["sentence1", "sentence2"], [r[:2] for r in similarity_rows(5, seed=3)])
    summary = batch_scoring.score_csv(regression_run, source, tmp_path / "out.csv")
    assert summary["text_pair_column"] == "sentence2" and summary["columns_added"] == ["predicted_value"]
    header, *rows = read_csv(tmp_path / "out.csv")
    assert header[-1] == "predicted_value"
    values = inference.predict(regression_run, [r[0] for r in rows], [r[1] for r in rows])
    assert [float(r[-1]) for r in rows] == pytest.approx([v["value"] for v in values], abs=1e-4)
    texts = [row[:2] for row in rows]  # a file with its own name for the first column
    renamed = write_rows(tmp_path / "renamed.csv", ["first", "sentence2"], texts)
    assert batch_scoring.score_csv(regression_run, renamed, tmp_path / "out2.csv", text_column="first")["scored_rows"] == 5
    with pytest.raises(StudioError, match="no second text column 'sentence2'.*first, other"):
        batch_scoring.score_csv(regression_run, write_rows(tmp_path / "other.csv", ["first", "other"], texts),
                            tmp_path / "out3.csv", text_column="first")


def test_score_csv_of_label_sets_joins_them_with_the_runs_separator(multilabel_run, tmp_path):
    rows = [row[:2] for row in ticket_rows(6, seed=4)] + [("ticket without a body", "")]
    source = write_rows(tmp_path / "in.csv", ["subject", "body"], rows)
    summary = batch_scoring.score_csv(multilabel_run, source, tmp_path / "out.csv")
    labels = ["billing", "delivery", "urgent"]
    assert summary["columns_added"] == ["predicted_labels"] + [f"p_{label}" for label in labels]
    assert summary["threshold"] == 0.5 and (summary["scored_rows"], summary["skipped_rows"]) == (6, 1)
    header, *written = read_csv(tmp_path / "out.csv")
    assert header == ["subject", "body", *summary["columns_added"]] and written[-1][2:] == [""] * 4
    expected = inference.predict(multilabel_run, [r[0] for r in rows[:6]], [r[1] for r in rows[:6]])
    for row, prediction in zip(written, expected):
        assert row[2] == ";".join(prediction["labels"])  # the run's own separator
        assert [float(p) for p in row[3:]] == pytest.approx(list(prediction["scores"].values()), abs=1e-4)
    assert summary["label_counts"] == {label: sum(label in p["labels"] for p in expected) for label in labels}
    everything = batch_scoring.score_csv(multilabel_run, source, tmp_path / "all.csv", threshold=0)
    assert everything["label_counts"] == {label: 6 for label in labels}


# ---------------------------------------------------------------- speed and the command line