"""backend.tasks.qa.preview: QA pair lengths, windows over long contexts, and whether every answer fits in one."""
from __future__ import annotations

import json
from itertools import groupby

import pandas as pd
import pytest

from backend.tasks import loading
from backend.models import catalog
from backend.schemas import DataSpec, StudioError
from backend.tasks.qa import data as qa_data, features as qa_features, preview as qa_preview
from tests.conftest import SAMPLE_DATA

WORDS = " ".join(f"Item {number} lies in crate {number * 7}." for number in range(60))  # ~480 word pieces
ANSWER = "crate 287"  # item 41's crate: deep inside the context, in a later window


@pytest.fixture(scope="module", params=["all-minilm-l6", "mpnet-base"])
def tokenizer(request):
    return catalog.load_tokenizer(request.param)


@pytest.fixture(scope="module")
def minilm():
    return catalog.load_tokenizer("all-minilm-l6")


def qa_rows(*rows) -> pd.DataFrame:
    """question, context, answer_text, answer_start rows, as qa_data reads them."""
    frame = pd.DataFrame(rows, columns=["question", "context", "answer_text", "answer_start"])
    return frame.astype({"answer_start": "int64"})


def long_row(question: str = "Which crate holds item 41?", answer: str = ANSWER):
    return question, WORDS, answer, WORDS.index(answer)


def test_windows_overlap_by_the_stride_and_cover_the_context(tokenizer):
    result = qa_preview.preview(qa_rows(long_row()), tokenizer, max_length=64, doc_stride=16, sample_rows=1)
    windows = result["samples"][0]["windows"]
    assert len(windows) == result["windows"]["max"] > 5
    assert [window["overlap_tokens"] for window in windows] == [0] + [16] * (len(windows) - 1)
    assert windows[0]["context_chars"][0] == 0 and windows[-1]["context_chars"][1] == len(WORDS)
    starts = [window["context_chars"][0] for window in windows]
    assert starts == sorted(starts)
    assert all(len(window["tokens"]) <= 64 for window in windows)
    assert result["doc_stride"] == 16 and result["truncated_rows"] == 1 and result["windows"]["multi_window_share"] == 1


def test_the_answer_span_decodes_back_to_the_answer_in_every_window_that_holds_it(tokenizer):
    result = qa_preview.preview(qa_rows(long_row()), tokenizer, max_length=64, doc_stride=16, sample_rows=1)
    holding = [window for window in result["samples"][0]["windows"] if window["answer_tokens"]]
    assert holding and result["answers_in_window_share"] == 1.0
    for window in holding:
        start, end = window["answer_tokens"]
        assert tokenizer.decode(window["input_ids"][start:end + 1]).strip() == ANSWER
        assert [t["kind"] for t in window["tokens"]].count("answer") == end - start + 1
        assert all(t["kind"] == "answer" for t in window["tokens"][start:end + 1])
        low, high = window["context_chars"]
        assert low <= WORDS.index(ANSWER) and WORDS.index(ANSWER) + len(ANSWER) <= high


def test_tokens_are_marked_by_segment_and_mpnet_has_two_separators_between(tokenizer):
    rows = qa_rows(("Where was she born?", "Marie Curie was born in Warsaw.", "Warsaw", 24))
    sample = qa_preview.preview(rows, tokenizer, max_length=64, sample_rows=1)["samples"][0]
    kinds = [token["kind"] for token in sample["windows"][0]["tokens"]]
    runs = [(kind, len(list(group))) for kind, group in groupby(kinds)]
    separators = 2 if "MPNet" in type(tokenizer).__name__ else 1
    assert [kind for kind, _ in runs] == ["special", "question", "special", "context", "answer", "context", "special"]
    assert (runs[0][1], runs[2][1], runs[4][1], runs[6][1]) == (1, separators, 1, 1)
    assert sample["tokens"] == sample["windows"][0]["tokens"]  # the first window, for one-sequence views
    assert sample["truncated"] is False and sample["length"] == len(kinds)
    assert (sample["answer_text"], sample["answer_start"]) == ("Warsaw", 24)


def test_statistics_cover_whole_pairs_and_windows_per_question(minilm):
    short = ("Where was she born?", "Marie Curie was born in Warsaw.", "Warsaw", 24)
    unanswerable = ("Who was her husband?", "Marie Curie was born in Warsaw.", "", -1)
    rows = qa_rows(short, unanswerable, long_row())
    result = qa_preview.preview(rows, minilm, max_length=128, sample_rows=0)
    lengths = [len(minilm(q, c)["input_ids"]) for q, c in zip(rows["question"], rows["context"])]
    assert (result["task"], result["rows"], result["pair"], result["max"]) == ("extractive_qa", 3, True, max(lengths))
    assert result["doc_stride"] == qa_features.stride_for(128, None) == 32
    assert result["windows"]["max"] > 1 and result["windows"]["multi_window_share"] == round(1 / 3, 4)
    assert result["answers_in_window_share"] == 1.0 and result["answers_outside_windows"] == []
    assert result["questions_cut"] == 0 and result["samples"] == []
    assert result["suggested_max_length"] <= qa_preview.QA_SUGGESTED_LENGTH
    json.dumps(result)


def test_an_answer_cut_by_window_edges_is_reported_with_why(minilm):
    question = "Which crate holds item 41?"
    edge = qa_features.encode_windows(minilm, [question], [WORDS], 48, 0)
    first, last = qa_features.context_span(edge, 0)
    cut = edge["offset_mapping"][0][last][1]  # where the first window's context ends
    start = WORDS.rfind(" ", 0, cut - 1) + 1
    answer = WORDS[start:WORDS.index(" ", cut + 1)]  # the last word of window 0 and the first of window 1
    result = qa_preview.preview(qa_rows((question, WORDS, answer, start)), minilm, max_length=48, doc_stride=0)
    assert result["answers_in_window_share"] == 0.0
    [miss] = result["answers_outside_windows"]
    assert (miss["row"], miss["answer_text"], miss["cause"]) == (0, answer, "edge")
    assert "raise doc_stride" in miss["reason"]
    assert any(w.startswith("The answers to 1 question lie wholly inside no window") and "(first: row 2," in w
               for w in result["warnings"])
    assert qa_preview.preview(qa_rows((question, WORDS, answer, start)), minilm, 48)["answers_in_window_share"] == 1


def test_an_answer_longer_than_a_window_is_reported(minilm):
    answer = WORDS[:300]
    result = qa_preview.preview(qa_rows(("Everything?", WORDS, answer, 0)), minilm, max_length=32)
    assert result["answers_outside_windows"][0]["cause"] == "long"
    assert "raise the max length" in result["answers_outside_windows"][0]["reason"]


def test_a_question_too_long_for_a_window_is_cut_as_training_cuts_it(minilm):
    long_question = "why " * 40 + "?"
    rows = qa_rows(long_row(long_question), long_row())
    result = qa_preview.preview(rows, minilm, max_length=32, sample_rows=2)  # the tokenizer would panic on it whole
    assert result["questions_cut"] == 1
    assert "1 question too long to leave a 32-token window room for context is cut to fit, as training cuts " \
           "them (first: row 2); shorten them or raise the max length." in result["warnings"]
    first, second = result["samples"]
    assert first["question_cut"] and not second["question_cut"]
    budget = (32 - 3 - 8) // 2  # as qa_features.fit_questions: half the room left by the specials and the stride
    assert [t["kind"] for t in first["windows"][0]["tokens"]].count("question") == budget
    assert result["answers_in_window_share"] == 1.0


@pytest.mark.parametrize("stride", [-1, 16, 40])
def test_a_stride_must_leave_room_in_a_window(minilm, stride):
    with pytest.raises(StudioError, match=r"The doc stride \(.*\) must be at least 0 and below half the max length"):
        qa_preview.preview(qa_rows(long_row()), minilm, max_length=32, doc_stride=stride)


def test_preview_data_gives_windows_for_both_sides_of_the_qa_sample():
    spec = DataSpec(str(SAMPLE_DATA / "qa_questions.csv"))
    result = loading.preview_data(spec, "all-minilm-l6", 128, 2, doc_stride=24)
    assert (result["task"], result["doc_stride"], result["model"]) == ("extractive_qa", 24, "all-minilm-l6")
    assert result["rows"] == 292 and result["answers_in_window_share"] == 1.0
    assert 1 < result["windows"]["max"] <= 8 and 0.05 < result["windows"]["multi_window_share"] < 0.3
    assert result["samples"][0]["question"] == data_first_question(spec)
    bert = result["bert"]
    assert bert is not None and bert["task"] == "extractive_qa" and bert["same_tokenizer"] is False
    assert bert["doc_stride"] == 24 and bert["answers_in_window_share"] == 1.0
    assert [t["token"] for t in bert["samples"][0]["windows"][0]["tokens"]].count("</s>") == 3
    json.dumps(result)


def data_first_question(spec) -> str:
    from backend.tasks import loading as data
    from backend.data.reading import read_table

    frame = read_table(spec.train_csv).frame
    return qa_data.usable_rows(frame, data.validate(spec))["question"].iloc[0]
