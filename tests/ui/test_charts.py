"""The pure formatting of ui/charts.py and ui/compare_view.py for the task kinds of issue 6 (no browser needed)."""
from __future__ import annotations

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
    assert list(frame.columns) == ["question", "context", "true", "A", "B"]
    assert frame.iloc[0].tolist() == ["Who?", "Ana did.", "Ana", "Ana ✓", "no answer"]


def test_a_job_downloading_its_model_says_so_before_its_first_step():
    status = {"progress": {"step": 0, "total_steps": 0, "fraction": 0.0, "epoch": None, "elapsed_s": 4.0,
                           "remaining_s": None, "samples_per_second": None, "loss": None, "eval": {}},
              "state": "running", "name": "MiniLM-L12-H384 · reviews.csv", "job_id": "abc",
              "download": "Downloading MiniLM-L12-H384: 40 of 133 MB"}
    assert "Downloading MiniLM-L12-H384: 40 of 133 MB · " in charts.progress_html(status)
