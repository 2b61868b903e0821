"""seqeval's strict IOB2 scores and the repair, checked by hand on a small case."""
from __future__ import annotations

import pytest

from backend.tasks.tokens.metrics import entity_spans, is_tag, per_type_scores, repair_tags, token_metrics

GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
PRED = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "O"]]


def test_entity_scores_by_hand():
    # Gold: PER(0-1), LOC(3) | ORG(0), PER(2): 4 entities. Predicted: PER(0-1), ORG(3) | ORG(0): 3, of which 2 right.
    scores = token_metrics(PRED, GOLD)
    assert scores["precision"] == pytest.approx(2 / 3, abs=1e-6)
    assert scores["recall"] == pytest.approx(2 / 4)
    assert scores["f1"] == pytest.approx(4 / 7, abs=1e-6)  # 2PR / (P + R) = (2/3) / (7/6)
    assert scores["entities"] == 4
    assert scores["token_accuracy"] == pytest.approx(5 / 7, abs=1e-6)  # 2 of 7 words wrong
    assert (scores["PER_precision"], scores["PER_recall"]) == (1.0, 0.5)
    assert scores["PER_f1"] == pytest.approx(2 / 3, abs=1e-6)
    assert (scores["LOC_precision"], scores["LOC_recall"], scores["LOC_f1"]) == (0.0, 0.0, 0.0)
    assert (scores["ORG_precision"], scores["ORG_recall"]) == (0.5, 1.0)
    per_type = per_type_scores(PRED, GOLD)
    assert per_type["micro"]["support"] == 4 and per_type["PER"]["support"] == 2


def test_strict_mode_wants_the_whole_span():
    scores = token_metrics([["B-PER", "O"]], [["B-PER", "I-PER"]])
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.0, 0.0, 0.0)
    assert token_metrics([["O", "O"]], [["O", "O"]])["f1"] == 0.0  # no entity anywhere: 0, not an error


def test_repair_turns_i_without_b_into_b_as_conlleval():
    tags, changed = repair_tags(["I-PER", "I-PER", "O", "I-LOC", "B-PER", "I-LOC"])
    assert tags == ["B-PER", "I-PER", "O", "B-LOC", "B-PER", "B-LOC"]
    assert changed == [0, 3, 5]
    assert entity_spans(tags) == [("PER", 0, 1), ("LOC", 3, 3), ("PER", 4, 4), ("LOC", 5, 5)]


@pytest.mark.parametrize("tag, valid", [("O", True), ("B-PER", True), ("I-MISC", True), ("B-", False),
                                        ("E-PER", False), ("o", False), ("PER", False), ("B-NEW YORK", False)])
def test_tag_shapes(tag, valid):
    assert is_tag(tag) is valid
