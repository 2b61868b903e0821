"""Extractive QA prediction: a pointing fake model for exact answers, and a tiny QA run folder for the public paths."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from transformers import AutoTokenizer, BertForQuestionAnswering
from transformers.modeling_outputs import QuestionAnsweringModelOutput

from backend.schemas import DataSpec, JobSpec, StudioError
from backend.serving import inference
from backend.tasks.qa import inference as qa_inference
from backend.training import runs

FILLER = "The valley was quiet that year and the farmers spoke of rain, of prices and of the old mill by the river. "
LONG_CONTEXT = FILLER * 3 + "The bridge was built in 1887 by Ada Lovelace Smith. " + FILLER * 2
ANSWER_KEYS = {"answer", "start", "end", "score", "no_answer", "no_answer_score", "candidates"}


class Pointer(torch.nn.Module):
    """Start logit 8 on every `start` token id, end logit 8 on every `end` token id, 0 elsewhere ([CLS] too)."""

    def __init__(self, start: int, end: int):
        super().__init__()
        self.start, self.end = start, end

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        return QuestionAnsweringModelOutput(start_logits=(input_ids == self.start).float() * 8,
                                            end_logits=(input_ids == self.end).float() * 8)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def pointing_run(tokenizer, first_word: str, last_word: str, max_length: int = 48):
    ids = tokenizer.convert_tokens_to_ids([first_word, last_word])
    return SimpleNamespace(tokenizer=tokenizer, model=Pointer(*ids), max_length=max_length,
                           spec=SimpleNamespace(doc_stride=12), device=torch.device("cpu"),
                           input_names=("input_ids", "token_type_ids", "attention_mask"))


def test_the_answer_is_found_in_a_later_window_with_its_character_offsets(tokenizer):
    loaded = pointing_run(tokenizer, "ada", "smith")
    answer = qa_inference.predict_answer(loaded, "Who built the bridge?", LONG_CONTEXT)
    assert set(answer) == ANSWER_KEYS | {"latency_ms"}
    assert answer["answer"] == "Ada Lovelace Smith" and not answer["no_answer"]
    assert LONG_CONTEXT[answer["start"]:answer["end"]] == answer["answer"]
    assert answer["start"] == LONG_CONTEXT.index("Ada")
    assert answer["score"] > answer["no_answer_score"] and 0 < answer["score"] <= 1
    assert answer["candidates"][0] == {key: answer[key] for key in ("answer", "start", "end", "score")}
    assert len(answer["candidates"]) <= qa_inference.CANDIDATES


def test_no_span_better_than_cls_means_no_answer(tokenizer):
    loaded = pointing_run(tokenizer, "zebra", "zebra")  # not in the context: every span scores 0, as [CLS] does
    answer = qa_inference.predict_answer(loaded, "Who built the bridge?", LONG_CONTEXT)
    assert (answer["answer"], answer["start"], answer["end"], answer["no_answer"]) == ("", None, None, True)
    assert answer["score"] == answer["no_answer_score"]


def test_the_batch_form_gives_what_single_questions_give(tokenizer):
    loaded = pointing_run(tokenizer, "ada", "smith")
    questions, contexts = ["Who built it?", "Where?", "Who?"], [LONG_CONTEXT, "Ada Smith lives in Oslo.", FILLER]
    many = qa_inference.predict_answers(loaded, questions, contexts, batch_size=2)
    single = [qa_inference.predict_answer(loaded, q, c) for q, c in zip(questions, contexts)]
    assert many == [{key: value for key, value in one.items() if key != "latency_ms"} for one in single]
    assert [answer["answer"] for answer in many] == ["Ada Lovelace Smith", "Ada Smith", ""]


@pytest.mark.parametrize("question, context, fragment", [
    ("Who?", None, "give the context"), ("Who?", "   ", "give the context"), ("", "A context.", "Type a question"),
])
def test_a_missing_question_or_context_is_one_sentence(tokenizer, question, context, fragment):
    with pytest.raises(StudioError, match=fragment):
        qa_inference.predict_answer(pointing_run(tokenizer, "ada", "smith"), question, context)


def test_questions_and_contexts_must_pair_up(tokenizer):
    with pytest.raises(StudioError, match="one context per question"):
        qa_inference.predict_answers(pointing_run(tokenizer, "ada", "smith"), ["a", "b"], ["c"])


# ---------------------------------------------------------------- through backend.serving.inference, on a run folder


@pytest.fixture(scope="module")
def qa_run(tmp_path_factory, tiny_model_dir):
    """A finished QA run folder as the trainer leaves it, with the tiny BERT and a fresh (untrained) QA head."""
    folder = tmp_path_factory.mktemp("qa-run")
    torch.manual_seed(0)
    BertForQuestionAnswering.from_pretrained(tiny_model_dir).save_pretrained(folder / runs.MODEL)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(folder / runs.MODEL)
    data = DataSpec("qa.csv", text_column="question", text_pair_column="context", label_column="answer_text",
                    task="extractive_qa", answer_start_column="answer_start")
    JobSpec(data=data, model=str(tiny_model_dir), max_length=48, doc_stride=12).save(folder / runs.SPEC)
    runs.write_json(folder / runs.RESULTS, {"task": "extractive_qa", "labels": None, "metrics": {"f1": 0.0}})
    return folder


def test_predict_one_answers_from_the_context_for_a_qa_run(qa_run):
    loaded = inference.load_run(qa_run)
    assert (loaded.task, loaded.labels, type(loaded.model).__name__) == ("extractive_qa", None,
                                                                           "BertForQuestionAnswering")
    answer = inference.predict_one(qa_run, "Who built the bridge?", LONG_CONTEXT)
    assert set(answer) == ANSWER_KEYS | {"latency_ms"}
    if not answer["no_answer"]:
        assert LONG_CONTEXT[answer["start"]:answer["end"]] == answer["answer"]
    with pytest.raises(StudioError, match="give the context"):
        inference.predict_one(qa_run, "Who built the bridge?")


def test_predict_and_scores_and_speed_work_for_a_qa_run(qa_run):
    questions, contexts = ["Who built the bridge?", "When?"], [LONG_CONTEXT, "It rained in 1887."]
    answers = inference.predict(qa_run, questions, contexts)
    assert [set(answer) for answer in answers] == [ANSWER_KEYS] * 2
    scores = inference.predict_scores(qa_run, questions, contexts)
    assert scores.shape == (2,) and scores.tolist() == pytest.approx([a["score"] for a in answers], abs=1e-6)
    speed = inference.measure_speed(qa_run, questions, contexts, repeats=3, batch_rows=8, batch_size=4)
    assert speed["latency_p50_ms"] > 0 and speed["throughput_rows_per_s"] > 0


def test_explain_attributes_the_answer_to_question_and_context_words(qa_run):
    explained = inference.explain(qa_run, "Who built the bridge?", LONG_CONTEXT, steps=4)
    assert explained["method"] == "integrated_gradients" and explained["target"] in ("answer", "no answer")
    assert explained["windows"] > 1 and explained["truncated"]
    assert {word["segment"] for word in explained["words"]} == {0, 1}
    texts = ("Who built the bridge?", LONG_CONTEXT)
    assert all(texts[w["segment"]][w["start"]:w["end"]] == w["word"] for w in explained["words"])
    assert max(abs(token["score"]) for token in explained["tokens"]) == pytest.approx(1.0)
