"""Token previews: statistics over every row, sample rows as tokens, and comparing two tokenizers."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from backend.data import preview as tokenization
from backend.schemas import StudioError
from tests.tiny_model import packaged_minilm_dir

LONG = "the quick brown fox jumps over the lazy dog " * 40  # about 360 word pieces


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(packaged_minilm_dir())


@pytest.fixture
def frame():
    return pd.DataFrame({
        "text": ["Hello world!", "An emoji 😀 here", LONG, "short", "", "Unbelievably tokenizable words"],
        "other": ["a pair", "another", "x", "y", "z", "w"],
        "label": ["a", "b", "a", "b", "a", "b"],
    })


def vocab_only_tokenizer(tmp_path, lowercase=True, extra_tokens=()):
    """A BertTokenizer built from vocab.txt alone, the way a plain BERT checkpoint ships it."""
    from transformers import AutoTokenizer

    shutil.copy(packaged_minilm_dir() / "vocab.txt", tmp_path / "vocab.txt")
    with open(tmp_path / "vocab.txt", "a", encoding="utf-8") as vocab:
        vocab.writelines(f"{token}\n" for token in extra_tokens)
    config = {"tokenizer_class": "BertTokenizer", "do_lower_case": lowercase, "model_max_length": 512}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    return AutoTokenizer.from_pretrained(tmp_path)


def expected_lengths(tokenizer, texts, pairs=None):
    pairs = pairs or [None] * len(texts)
    return np.array([len(tokenizer(text, pair)["input_ids"]) for text, pair in zip(texts, pairs)])


def test_statistics_cover_every_row(tokenizer, frame):
    result = tokenization.preview(frame, "text", None, tokenizer, max_length=32, sample_rows=2)
    lengths = expected_lengths(tokenizer, frame["text"].tolist())
    assert result["rows"] == 6 and result["pair"] is False
    assert result["mean"] == round(lengths.mean(), 2)
    assert result["max"] == lengths.max() > 300  # tokenizer.json's own truncation at 128 is ignored
    assert result["p50"] == int(np.percentile(lengths, 50, method="higher"))
    assert result["truncated_rows"] == 1 and result["truncated_share"] == round(1 / 6, 4)
    assert result["suggested_max_length"] == -(-lengths.max() // 8) * 8  # with 6 rows, p95 is the long row
    assert sum(result["histogram"]["counts"]) == 6
    assert len(result["histogram"]["edges"]) == len(result["histogram"]["counts"]) + 1
    assert result["tokenizer"] == {"name": "BertTokenizer", "vocab_size": 30522, "lowercase": True}
    assert any("longer than 32 tokens" in warning for warning in result["warnings"])
    json.dumps(result)


def test_unknown_tokens_are_counted_among_word_pieces_only(tokenizer):
    frame = pd.DataFrame({"text": ["hello 😀", "world"]})
    result = tokenization.preview(frame, "text", None, tokenizer, max_length=16)
    assert result["unk_tokens"] == 1
    assert result["unk_rate"] == round(1 / 3, 5)  # hello, [UNK], world; [CLS]/[SEP] are not counted
    assert any("[UNK]" in warning for warning in result["warnings"])


def test_samples_show_what_the_model_sees(tokenizer, frame):
    result = tokenization.preview(frame, "text", None, tokenizer, max_length=16, sample_rows=3)
    first, emoji, long = result["samples"]
    assert [token["token"] for token in first["tokens"]] == ["[CLS]", "hello", "world", "!", "[SEP]"]
    assert [token["kind"] for token in first["tokens"]] == ["special", "normal", "normal", "normal", "special"]
    assert first["input_ids"] == tokenizer("Hello world!")["input_ids"]
    assert first["attention_mask"] == [1] * 5 and "token_type_ids" not in first
    assert "unk" in [token["kind"] for token in emoji["tokens"]]
    assert len(long["input_ids"]) == 16 and long["tokens"][-1]["token"] == "[SEP]"
    assert long["truncated"] and long["length"] == result["max"]
    assert not first["truncated"] and len(first["input_ids"]) == 5  # no padding to tokenizer.json's 128


def test_pairs_are_encoded_as_pairs(tokenizer, frame):
    result = tokenization.preview(frame, "text", "other", tokenizer, max_length=24, sample_rows=1)
    lengths = expected_lengths(tokenizer, frame["text"].tolist(), frame["other"].tolist())
    assert result["pair"] and result["max"] == lengths.max() and result["mean"] == round(lengths.mean(), 2)
    sample = result["samples"][0]
    assert sample["token_type_ids"] == [0] * 5 + [1] * 3  # [CLS] hello world ! [SEP] | a pair [SEP]
    assert [token["token"] for token in sample["tokens"]][-3:] == ["a", "pair", "[SEP]"]
    # one more special token per row than single texts, which the [UNK] rate must not count
    assert result["unk_rate"] == round(1 / (lengths.sum() - 3 * 6), 5)


def test_a_max_length_above_the_model_positions_is_cut_there(tokenizer):
    frame = pd.DataFrame({"text": [LONG * 2, "short"]})  # about 720 word pieces
    result = tokenization.preview(frame, "text", None, tokenizer, max_length=1024)
    assert result["truncated_rows"] == 1 and result["suggested_max_length"] == 512
    assert len(result["samples"][0]["input_ids"]) == 512
    assert any("above the model's 512 positions" in warning for warning in result["warnings"])


def test_missing_cells_are_empty_texts(tokenizer):
    frame = pd.DataFrame({"text": ["hello", None]})
    result = tokenization.preview(frame, "text", None, tokenizer, max_length=16)
    assert result["samples"][1]["input_ids"] == [101, 102]


def test_the_slow_path_counts_the_same(tokenizer, frame, monkeypatch):
    texts, pairs = frame["text"].tolist(), frame["other"].tolist()
    fast = tokenization.count_tokens(tokenizer, texts, pairs)
    monkeypatch.setattr(tokenization, "_untruncated_backend", lambda tokenizer: None)
    slow = tokenization.count_tokens(tokenizer, texts, pairs)
    assert [array.tolist() for array in fast] == [array.tolist() for array in slow]


def test_chunks_cover_every_row(tokenizer, monkeypatch):
    monkeypatch.setattr(tokenization, "CHUNK_ROWS", 3)
    texts = [f"row {index}" + " word" * index for index in range(10)]
    lengths, _ = tokenization.count_tokens(tokenizer, texts, None)
    assert lengths.tolist() == expected_lengths(tokenizer, texts).tolist()


@pytest.mark.parametrize("p95, limit, expected", [(3, 512, 16), (17, 512, 24), (64, 512, 64), (600, 512, 512)])
def test_suggested_max_length(p95, limit, expected):
    assert tokenization.suggest_max_length(p95, limit) == expected


def test_histogram_bins_are_whole_tokens():
    histogram = tokenization.length_histogram(np.array([5, 5, 6, 9]))
    assert histogram == {"edges": [5, 6, 7, 8, 9, 10], "counts": [2, 1, 0, 0, 1]}
    wide = tokenization.length_histogram(np.arange(2, 400))
    assert len(wide["counts"]) <= tokenization.HISTOGRAM_BINS and sum(wide["counts"]) == 398
    assert wide["edges"][0] == 2 and wide["edges"][-1] > 399


def test_bad_requests_are_readable(tokenizer, frame):
    with pytest.raises(StudioError, match="no column 'txt'"):
        tokenization.preview(frame, "txt", None, tokenizer)
    with pytest.raises(StudioError, match="no rows"):
        tokenization.preview(frame.iloc[:0], "text", None, tokenizer)
    with pytest.raises(StudioError, match="at least 8"):
        tokenization.preview(frame, "text", None, tokenizer, max_length=0)


def test_minilm_and_a_plain_bert_vocab_tokenize_alike(tokenizer, tmp_path):
    same, why = tokenization.compare_tokenizers(tokenizer, vocab_only_tokenizer(tmp_path))
    assert same and "uncased 30,522-token vocabulary" in why


def test_different_tokenizers_are_told_apart(tokenizer, tmp_path):
    (tmp_path / "cased").mkdir()
    (tmp_path / "bigger").mkdir()
    cased = vocab_only_tokenizer(tmp_path / "cased", lowercase=False)
    same, why = tokenization.compare_tokenizers(tokenizer, cased)
    assert not same and "normalisation" in why
    bigger = vocab_only_tokenizer(tmp_path / "bigger", extra_tokens=["zzqx"])
    same, why = tokenization.compare_tokenizers(tokenizer, bigger)
    assert not same and "30,523-token" in why


def test_a_comparison_gives_both_sides(tokenizer, frame, tmp_path):
    cased = vocab_only_tokenizer(tmp_path, lowercase=False)
    result = tokenization.preview_comparison(frame, "text", None, tokenizer, cased, max_length=32)
    assert not result["same_tokenizer"] and result["difference"]
    assert result["bert"]["tokenizer"]["lowercase"] is False
    # a cased tokenizer over an uncased vocabulary does not know "Hello"
    assert result["bert"]["samples"][0]["tokens"][1]["kind"] == "unk"
    assert result["bert"]["unk_tokens"] > result["minilm"]["unk_tokens"]
    same = tokenization.preview_comparison(frame, "text", None, tokenizer, tokenizer, max_length=32)
    assert same["same_tokenizer"] and same["bert"]["mean"] == same["minilm"]["mean"]
    json.dumps(result)
