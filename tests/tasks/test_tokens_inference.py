"""Entities from raw text with character offsets, through the tiny model with its head set to say one tag; and the
error report on hand-made predictions."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer

from backend.schemas import StudioError
from backend.tasks.tokens import analysis, features, inference

LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
TEXT = "Dr. Ann O'Brien flew to New-York, then (briefly) to São Paulo."


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return AutoModelForTokenClassification.from_pretrained(tiny_model_dir, **features.head_config(LABELS))


def saying(model, tag: str):
    """The model with its head set so that every word gets `tag`, whatever the words."""
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([10.0 if label == tag else 0.0 for label in LABELS]))
    return model


def test_split_words_keeps_offsets():
    words = inference.split_words(TEXT)
    assert [word for word, _, _ in words] == ["Dr", ".", "Ann", "O'Brien", "flew", "to", "New-York", ",", "then",
                                              "(", "briefly", ")", "to", "São", "Paulo", "."]
    assert all(TEXT[start:end] == word for word, start, end in words)


def test_as_entities_point_into_the_text():
    words = inference.split_words(TEXT)
    tags = ["O", "O", "B-PER", "I-PER", "O", "O", "B-LOC", "O", "O", "O", "O", "O", "O", "B-LOC", "I-LOC", "O"]
    scores = [1.0] * 3 + [0.5] + [1.0] * 12
    assert inference.as_entities(TEXT, words, tags, scores) == [
        {"text": "Ann O'Brien", "type": "PER", "start": 4, "end": 15, "score": 0.75},
        {"text": "New-York", "type": "LOC", "start": 24, "end": 32, "score": 1.0},
        {"text": "São Paulo", "type": "LOC", "start": 52, "end": 61, "score": 1.0}]


def test_every_word_an_entity_through_the_model(model, tokenizer):
    found = inference.predict_entities(saying(model, "B-PER"), tokenizer, [TEXT, "  ", "Ann"], model.config.id2label,
                                       max_length=8, stride=2)
    assert [(e["text"], e["start"], e["end"]) for e in found[0]] == inference.split_words(TEXT)
    assert found[1] == [] and [e["text"] for e in found[2]] == ["Ann"]
    assert all(e["type"] == "PER" and 0.99 < e["score"] <= 1 for e in found[0])


def test_inside_tags_repaired_into_one_entity_across_windows(model, tokenizer):
    text = "  " + " ".join(["Marrowick Ravensmere"] * 20) + " ."
    tagged = inference.predict_text(saying(model, "I-LOC"), tokenizer, text, model.config.id2label, max_length=16,
                                    stride=4)
    assert len(tagged["words"]) == 41 and tagged["words"][0]["tag"] == "B-LOC"
    [entity] = tagged["entities"]
    assert (entity["start"], entity["end"], entity["type"]) == (2, len(text), "LOC")
    assert entity["text"] == text[2:]
    assert json.loads(inference.entities_cell(tagged["entities"])) == tagged["entities"]
    with pytest.raises(StudioError, match="Type a sentence"):
        inference.predict_text(model, tokenizer, " ", model.config.id2label, 16, 4)


def test_eval_rows_then_error_report(model, tokenizer):
    frame = pd.DataFrame({"tokens": [["Ann", "met", "Bo", "in", "Rome"], ["We", "saw", "New", "York"]],
                          "tags": [["B-PER", "O", "B-PER", "O", "B-LOC"], ["O", "O", "B-LOC", "I-LOC"]]})
    rows = inference.eval_rows(saying(model, "O"), tokenizer, frame, model.config.id2label, 32, 8)
    assert rows["predicted"].tolist() == [["O"] * 5, ["O"] * 4]
    rows["predicted"] = [["B-PER", "O", "B-LOC", "O", "B-LOC"], ["O", "B-PER", "B-LOC", "O"]]
    rows["scores"] = [[0.9] * 5, [0.6, 0.8, 0.7, 0.9]]
    report = analysis.error_report(rows, max_examples=5)
    # Found: Ann, Rome. Missed: Bo (tagged LOC: wrong type), New York (LOC on New only: wrong boundary).
    # Spurious: Bo as LOC, "saw" as PER, New as LOC.
    assert report["outcomes"] == {"found": 2, "missed": 2, "spurious": 3, "not_found": 0, "wrong_type": 1,
                                  "wrong_boundary": 1}
    assert report["per_type"]["PER"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert [(m["text"], m["predicted"], m["miss"]) for m in report["missed"]] == [
        ("Bo", "B-LOC", "wrong_type"), ("New York", "B-LOC O", "wrong_boundary")]
    assert report["spurious"][0] == {"sentence": "Ann met Bo in Rome", "text": "Bo", "type": "LOC", "gold": "B-PER",
                                     "score": 0.9}
    assert report["confusion"]["labels"] == ["O", "B-LOC", "I-LOC", "B-PER"]
    assert sum(map(sum, report["confusion"]["matrix"])) == 9
    assert report["f1"] == report["per_type"]["micro"]["f1"]
