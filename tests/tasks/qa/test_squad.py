"""SQuAD 2.0 scoring against hand-worked examples (the official script's definitions)."""
import pytest

from backend.tasks.qa.squad import exact_match, normalize_answer, squad_v2_scores, token_f1


def test_normalisation_drops_case_punctuation_articles_and_extra_spaces():
    assert normalize_answer("  The Eiffel-Tower!  ") == "eiffeltower"
    assert normalize_answer("an apple and a pear") == "apple and pear"


def test_exact_match_and_token_f1():
    assert exact_match("the Eiffel Tower", "Eiffel Tower.") == 1.0
    assert token_f1("in Paris France", "Paris") == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))  # p 1/3, r 1
    assert token_f1("Berlin", "Paris") == 0.0
    assert token_f1("", "") == 1.0 and token_f1("Paris", "") == 0.0 and token_f1("", "Paris") == 0.0


def test_squad_v2_scores_break_down_answerable_and_unanswerable():
    predictions = ["Paris", "1889", "", "Gustave"]
    golds = [["Paris", "in Paris"], ["in 1889"], [""], []]  # two answerable, two without an answer
    scores = squad_v2_scores(predictions, golds)
    assert scores["has_ans_total"] == 2 and scores["no_ans_total"] == 2 and scores["total"] == 4
    assert scores["has_ans_exact"] == 50.0  # "1889" is not exactly "in 1889"
    assert scores["has_ans_f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert scores["no_ans_exact"] == 50.0 and scores["no_ans_f1"] == 50.0  # abstained once, answered once
    assert scores["exact"] == 50.0 and scores["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1 + 0) / 4)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        squad_v2_scores(["a"], [])
