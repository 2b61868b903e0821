"""The pure formatting of ui/charts.py and ui/compare_view.py for the task kinds of issue 6 (no browser needed)."""
from __future__ import annotations

import pandas as pd

from ui import charts, compare_view

QA = {"answer": "Paris", "start": 13, "end": 18, "score": 0.8, "no_answer": False, "no_answer_score": 0.1,
      "candidates": [{"answer": "in Paris", "start": 10, "end": 18, "score": 0.05}], "latency_ms": 3.0}
ABSTAINS = {"answer": "", "start": None, "end": None, "score": 0.0, "no_answer": True, "no_answer_score": 0.9,
            "latency_ms": 2.0}
TAGS = {"labels": ["billing"], "scores": {"billing": 0.91, "urgent": 0.42, "refund": 0.05}, "threshold": 0.5,
        "latency_ms": 1.0}


def test_qa_answer_is_marked_in_its_context():
    context = "She lives in Paris now."
    assert charts.answer_spans(context, QA) == [("She lives in ", None), ("Paris", 1.0), (" now.", None)]
    assert charts.answer_spans(context, ABSTAINS) == [(context, None)]


def test_qa_label_lists_the_answer_its_alternatives_and_no_answer():
    assert charts.label_value(QA) == {"(no answer)": 0.1, "Paris": 0.8, "in Paris": 0.05}
    assert charts.answer_text(ABSTAINS).startswith("no answer")


def test_multi_label_threshold_decides_the_labels_shown():
    assert charts.answer_text(TAGS).startswith("billing (91%) at threshold 0.50")
    assert charts.answer_text(TAGS, threshold=0.4).startswith("billing (91%), urgent (42%)")
    assert charts.answer_text(TAGS, threshold=0.95).startswith("no label")


def test_two_models_agree_on_the_same_label_set_or_answer():
    other = dict(TAGS, scores={"billing": 0.7, "urgent": 0.45, "refund": 0.1})
    answers = [{"name": "a", "prediction": TAGS}, {"name": "b", "prediction": other}]
    assert "agree" in charts.verdict_html(answers, threshold=0.4)
    assert "disagree" in charts.verdict_html(answers, threshold=0.44)
    qa = [{"name": "a", "prediction": QA}, {"name": "b", "prediction": ABSTAINS}]
    assert "disagree" in charts.verdict_html(qa)


def test_disagreement_cells_for_answers_and_label_sets():
    assert compare_view.side_text({"answer": "", "correct": True}) == "no answer ✓"
    assert compare_view.side_text({"labels": ["a", "b"], "correct": False}) == "a, b"
    assert compare_view.side_text({"label": "x", "confidence": 0.5}) == "x (50%)"


def test_qa_disagreements_name_the_question_and_the_context():
    result = {"task": "extractive_qa", "a": {"name": "A"}, "b": {"name": "B"}, "disagreements": {"examples": [
        {"text": "Who?", "text_pair": "Ana did.", "gold": "Ana", "a": {"answer": "Ana", "correct": True},
         "b": {"answer": "", "correct": False}}]}}
    frame = compare_view.disagreements_frame(result)
    assert list(frame.columns) == ["true", "A", "B", "question", "context"]
    assert frame.iloc[0].tolist() == ["Ana", "Ana ✓", "no answer", "Who?", "Ana did."]


def test_a_job_downloading_its_model_says_so_before_its_first_step():
    status = {"progress": {"step": 0, "total_steps": 0, "fraction": 0.0, "epoch": None, "elapsed_s": 4.0,
                           "remaining_s": None, "samples_per_second": None, "loss": None, "eval": {}},
              "state": "running", "name": "MiniLM-L12-H384 · reviews.csv", "job_id": "abc",
              "download": "Downloading MiniLM-L12-H384: 40 of 133 MB"}
    assert "Downloading MiniLM-L12-H384: 40 of 133 MB · " in charts.progress_html(status)


def test_a_curve_of_one_point_is_drawn_as_a_short_dash_on_an_axis_from_step_zero():
    frame = charts.curves_frame([{"step": 19, "eval_accuracy": 0.8, "loss": 0.5}, {"step": 40, "loss": 0.3}],
                                ["eval_accuracy", "loss"])
    dash = frame[frame["series"] == "accuracy"]
    assert len(dash) == 2 and dash["step"].min() < 19 < dash["step"].max() and set(dash["value"]) == {0.8}
    assert list(frame[frame["series"] == "loss"]["step"]) == [19, 40]
    assert charts.step_range(frame)[0] == 0 and charts.step_range(frame)[1] > 40


def test_identical_token_histograms_share_one_named_line():
    same = {"edges": [1, 9, 17], "counts": [3, 1]}
    frame = charts.histogram_frame({"MiniLM": {"histogram": same}, "BERT": {"histogram": dict(same)}})
    assert set(frame["tokenizer"]) == {"MiniLM = BERT (same lengths)"}
    other = charts.histogram_frame({"MiniLM": {"histogram": same}, "BERT": {"histogram": {**same, "counts": [2, 2]}}})
    assert set(other["tokenizer"]) == {"MiniLM", "BERT"}


def test_the_first_rows_show_the_label_before_the_long_texts():
    report = {"label_column": "label", "samples": [{"text": "a long review", "notes": "n", "label": "pos"}]}
    assert list(charts.samples_frame(report).columns) == ["label", "text", "notes"]


def test_compare_tables_name_the_sides_a_and_b_and_give_the_points_room():
    result = {"a": {"name": "all-MiniLM-L6-v2 · reviews.csv"}, "b": {"name": "bert-base · reviews.csv"},
              "differences": {"metrics": {"accuracy": {"name": "accuracy", "a": 0.8, "b": 0.9, "points": -10.0,
                                                       "better": "b"}}}}
    assert compare_view.quality_frame(result).iloc[0].tolist() == ["accuracy", "0.8000", "0.9000", "-10.0 points", "B"]
    assert "A = all-MiniLM-L6-v2 · reviews.csv · B = bert-base" in compare_view.sides_label("Quality", result)
    x_lim, y_lim = compare_view.tradeoff_limits(pd.DataFrame({"latency_ms": [3.0, 9.0], "score": [0.8, 0.9]}))
    assert x_lim[0] == 0 < 9.0 < x_lim[1] and y_lim[0] < 0.8 and y_lim[1] > 0.9


def test_a_run_list_keeps_a_chosen_run_and_fills_an_empty_one():
    from ui.tabs.playground_tab import offered

    choices = [("new", "j3"), ("old", "j1")]
    assert "value" not in offered(choices, "j1", "j3")  # chosen and still offered: untouched
    assert offered(choices, None, "j3")["value"] == "j3"
    assert offered(choices, "gone", "j3")["value"] == "j3"
