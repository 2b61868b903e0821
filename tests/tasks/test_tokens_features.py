"""Word pieces in windows: the first piece of each word labelled, the rest -100; every word read exactly once; a
few training steps through the loaders on the tiny model."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer

from backend.data.reading import read_table
from backend.schemas import DataSpec
from backend.tasks.tokens import data as tokens_data
from backend.tasks.tokens import features
from tests.conftest import SAMPLE_DATA

# What the data module reads of its kind (the registry's kind is tests/tasks/test_tokens_kind.py's).
KIND = SimpleNamespace(name="token_classification", title="Token classification (named entities)")

LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
LONG = ("Ada Lovelace visited unbelievably beautiful Zürich again , and then Ostbrook with Tomas Brandvold .".split()
        * 5)
LONG_TAGS = "B-PER I-PER O O O B-LOC O O O O B-LOC O B-PER I-PER O".split() * 5


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_plan_windows_share_whole_words_and_always_move_on():
    assert features.plan_windows([1] * 10, room=4, stride=2) == [(0, 4), (2, 6), (4, 8), (6, 10)]
    assert features.plan_windows([1, 10, 1], room=4, stride=2) == [(0, 1), (1, 2), (2, 3)]  # a word too long alone
    assert features.plan_windows([2, 2], room=8, stride=2) == [(0, 2)]


def test_first_piece_labelled_the_rest_ignored(tokenizer):
    frame = pd.DataFrame({"tokens": [["Ann", "visited", "unbelievably", "Zürich"]],
                          "tags": [["B-PER", "O", "O", "B-LOC"]]})
    encoded = features.training_set(frame, tokenizer, 32, 8, LABELS)
    tokens = tokenizer.convert_ids_to_tokens(encoded.features["input_ids"][0])
    labels = encoded.labels[0]
    assert len(labels) == len(tokens) and tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    labelled = [(token, LABELS[label]) for token, label in zip(tokens, labels) if label != features.IGNORED]
    assert labelled == [("ann", "B-PER"), ("visited", "O"), ("un", "O"), ("zurich", "B-LOC")]
    assert all(labels[i] == features.IGNORED for i, token in enumerate(tokens) if token.startswith("##"))


def test_long_sentence_every_word_read_exactly_once(tokenizer):
    max_length, stride = 24, 6
    windows = features.encode_windows(tokenizer, [LONG, ["Short", "one"]], max_length, stride)
    assert (windows.rows == 0).sum() > 3 and (windows.rows == 1).sum() == 1
    assert max(len(ids) for ids in windows.encoding["input_ids"]) <= max_length
    counts = features.piece_counts(tokenizer, [LONG])[0]
    held = {}  # word -> windows holding its first piece
    for window in np.flatnonzero(windows.rows == 0):
        found = windows.first_pieces(window)
        for word, position in found.items():
            pieces = windows.encoding.word_ids(window).count(word - windows.starts[window])
            assert pieces == counts[word]  # windows end on word boundaries: no word is cut
            held.setdefault(word, []).append(window)
    assert sorted(held) == list(range(len(LONG)))
    assert any(len(places) > 1 for places in held.values())  # neighbouring windows overlap
    chosen = windows.chosen[0]
    assert all(place is not None for place in chosen) and len(chosen) == len(LONG)
    # Logits that say each word's gold tag only where it is read, and "O" everywhere else: decoding finds the tags.
    logits = np.zeros((len(windows.rows), max_length, len(LABELS)))
    logits[..., 0] = 1.0
    for word, (window, position) in enumerate(chosen):
        logits[window, position] = 0.0
        logits[window, position, LABELS.index(LONG_TAGS[word])] = 5.0
    tags = features.predicted_tags(logits, windows, dict(enumerate(LABELS)))
    assert tags[0] == LONG_TAGS and tags[1] == ["O", "O"]


def test_the_chosen_window_is_the_most_central(tokenizer):
    windows = features.encode_windows(tokenizer, [LONG], 24, 6)
    for word, (window, position) in enumerate(windows.chosen[0]):
        def centrality(k: int, at: int) -> int:
            words = [i for i, w in enumerate(windows.encoding.word_ids(k)) if w is not None]
            return min(at - words[0], words[-1] - at)
        others = [(k, windows.first_pieces(k)[word]) for k in range(len(windows.rows))
                  if word in windows.first_pieces(k)]
        assert centrality(window, position) == max(centrality(k, at) for k, at in others)
        assert window == min(k for k, at in others if centrality(k, at) == centrality(window, position))


def test_a_few_training_steps_through_the_loaders(tiny_model_dir, tokenizer):
    path = SAMPLE_DATA / "ner_people_places.csv"
    splits = tokens_data.load_splits(DataSpec(train_csv=str(path), eval_fraction=0.1), read_table(path), KIND)
    everything = pd.concat([splits.train, splits.eval], ignore_index=True)
    long = everything[everything["tokens"].map(len) > 100]  # the long sentences, so windows meet the loop
    splits.train = pd.concat([splits.train.head(24), long], ignore_index=True)
    splits.eval = pd.concat([splits.eval.head(8), long.head(2)], ignore_index=True)
    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_pretrained(tiny_model_dir, **features.head_config(splits.labels))
    spec = SimpleNamespace(max_length=64, doc_stride=16, batch_size=8, seed=0)
    train_dl, eval_dl, evaluation = features.tokens_dataloaders(spec, splits, tokenizer, model)
    assert len(train_dl.dataset) > len(splits.train) and len(eval_dl.dataset) > len(splits.eval)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for step, batch in zip(range(3), train_dl):
        batch.pop("index")
        assert batch["labels"].shape == batch["input_ids"].shape
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        assert torch.isfinite(loss)
    model.eval()
    outputs, rows, index = [], [], []
    with torch.inference_mode():
        for batch in eval_dl:
            index.append(batch.pop("index"))
            rows.append(batch.pop("labels"))
            outputs.append(evaluation.outputs(model(**batch)))
    order = torch.cat(index).argsort()
    outputs, rows = torch.cat(outputs)[order].numpy(), torch.cat(rows)[order].numpy()
    assert outputs.shape[1:] == (spec.max_length, len(splits.labels))
    scores = evaluation.score(outputs, rows)
    assert {"loss", "precision", "recall", "f1", "token_accuracy", "PER_f1", "LOC_f1", "ORG_f1"} <= set(scores)
    assert 0 <= scores["f1"] <= 1 and scores["loss"] > 0
