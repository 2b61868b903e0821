"""Extractive QA windows, their answer labels, and the postprocessing from logits to answers (hand-made logits)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoTokenizer
from transformers.modeling_outputs import QuestionAnsweringModelOutput

from backend import tasks
from backend.schemas import DataSpec, JobSpec, StudioError
from backend.tasks.qa import features as qa_features
from backend.tasks.qa.features import PAD_LOGIT, Decision, Span, decide, window_spans
from backend.training import trainer

MAX_LENGTH, STRIDE = 48, 12
FILLER = "The valley was quiet that year and the farmers spoke of rain, of prices and of the old mill by the river. "
LONG_CONTEXT = FILLER * 3 + "The bridge was built in 1887 by Ada Lovelace Smith. " + FILLER * 2


def qa_frame() -> pd.DataFrame:
    answer = "Ada Lovelace Smith"
    rows = [
        ("Who built the bridge?", LONG_CONTEXT, answer, LONG_CONTEXT.index(answer)),
        ("When was the bridge built?", LONG_CONTEXT, "1887", LONG_CONTEXT.index("1887")),
        ("What colour is the mill?", LONG_CONTEXT, "", -1),
        ("Where do cats sleep?", "Cats sleep on warm windowsills.", "on warm windowsills", 11),
    ]
    return pd.DataFrame(rows, columns=["question", "context", "answer_text", "answer_start"])


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


# ---------------------------------------------------------------- training windows


def test_training_labels_decode_back_to_the_answer(tokenizer):
    frame = qa_frame()
    windows = qa_features.training_windows(frame, tokenizer, MAX_LENGTH, STRIDE)
    encoding = qa_features.frame_windows(frame, tokenizer, MAX_LENGTH, STRIDE)
    rows = np.asarray(encoding["overflow_to_sample_mapping"])
    assert len(windows) == len(rows) > len(frame)  # the long context needs several windows
    assert max(windows.lengths) <= MAX_LENGTH
    for window, (start, end) in enumerate(windows.labels.tolist()):
        if (start, end) == (0, 0):
            continue
        offsets = encoding["offset_mapping"][window]
        row = frame.iloc[rows[window]]
        assert row.context[offsets[start][0]:offsets[end][1]] == row.answer_text
    for row in (0, 1, 3):  # every answerable question has its answer whole in at least one window
        assert any(tuple(windows.labels[k]) != (0, 0) for k in np.flatnonzero(rows == row))


def test_no_answer_and_windows_without_the_answer_point_at_cls(tokenizer):
    frame = qa_frame()
    windows = qa_features.training_windows(frame, tokenizer, MAX_LENGTH, STRIDE)
    rows = np.asarray(qa_features.frame_windows(frame, tokenizer, MAX_LENGTH, STRIDE)["overflow_to_sample_mapping"])
    assert (windows.labels[rows == 2] == 0).all()  # unanswerable: [CLS] in every window
    first_question = windows.labels[rows == 0]
    assert ((first_question == 0).all(axis=1)).any()  # windows of the long context that miss the answer


def test_evaluation_windows_keep_offsets_only_inside_the_context(tokenizer):
    frame = qa_frame()
    windows, offsets = qa_features.evaluation_windows(frame, tokenizer, MAX_LENGTH, STRIDE)
    assert sorted(set(windows.labels.tolist())) == [0, 1, 2, 3]
    for window, spans in enumerate(offsets):
        assert spans[0] is None and spans[-1] is None  # [CLS] and the last [SEP]
        context = frame.context[windows.labels[window]]
        assert all(context[start:end].strip() for start, end in filter(None, spans))


def test_a_question_longer_than_a_window_is_cut_instead_of_crashing_the_tokenizer(tokenizer):
    frame = pd.DataFrame({"question": ["why " * 60 + "?"], "context": [LONG_CONTEXT], "answer_text": ["1887"],
                          "answer_start": [LONG_CONTEXT.index("1887")]})
    windows = qa_features.training_windows(frame, tokenizer, MAX_LENGTH, STRIDE)
    assert max(windows.lengths) <= MAX_LENGTH and (windows.labels != 0).any()


def test_a_stride_of_half_the_window_or_more_is_refused():
    assert qa_features.checked_stride(128, None) == 32
    with pytest.raises(StudioError, match="doc stride"):
        qa_features.checked_stride(64, 32)


def test_training_batches_carry_start_and_end_positions(tokenizer):
    windows = qa_features.training_windows(qa_frame(), tokenizer, MAX_LENGTH, STRIDE)
    batch = qa_features.QACollator(tokenizer.pad_token_id, training=True)([windows[i] for i in range(3)])
    assert "labels" not in batch and batch["start_positions"].shape == batch["end_positions"].shape == (3,)
    assert batch["start_positions"].tolist() == windows.labels[:3, 0].tolist()


# ---------------------------------------------------------------- postprocessing on hand-made logits


def logits_for(size: int, starts: dict[int, float], ends: dict[int, float], cls: float = 0.0) -> np.ndarray:
    values = np.zeros((size, 2))
    values[0] = cls / 2
    for position, value in starts.items():
        values[position, 0] = value
    for position, value in ends.items():
        values[position, 1] = value
    return values


CONTEXT_OFFSETS = [None, None, None] + [(4 * i, 4 * i + 3) for i in range(40)] + [None]  # 3 question tokens, 40 words


def test_the_best_span_across_windows_wins():
    weak = logits_for(44, {5: 3}, {6: 3})
    strong = logits_for(44, {10: 5}, {12: 5})
    decision = decide([(weak, CONTEXT_OFFSETS), (strong, CONTEXT_OFFSETS)])
    assert decision.window == 1 and decision.answered
    assert (decision.spans[0].start, decision.spans[0].end) == (4 * 7, 4 * 9 + 3)
    assert (decision.spans[0].first, decision.spans[0].last) == (10, 12)


def test_a_span_starting_or_ending_inside_a_word_gives_the_whole_word(tokenizer):
    context = "The fair is run by Mireille Whitlock in Lisbury."
    encoding = qa_features.encode_windows(tokenizer, ["Who runs it?"], [context], MAX_LENGTH, STRIDE)
    pieces = encoding.tokens(0)
    first, last = pieces.index("##eil"), pieces.index("w")  # mid-word start, a word's first piece as end
    offsets = qa_features.context_offsets(encoding)[0]
    logits = logits_for(len(pieces), {first: 5}, {last: 5})
    decision = decide([(logits, offsets)])
    assert qa_features.answer_text(decision, context) == "Mireille Whitlock"


def test_the_null_is_the_smallest_cls_score_and_wins_over_a_weaker_span():
    span = logits_for(44, {5: 2}, {6: 2}, cls=10)  # span 4 < this window's null 10
    other = logits_for(44, {}, {}, cls=3)  # the window most sure an answer is there: null 3
    assert decide([(span, CONTEXT_OFFSETS), (other, CONTEXT_OFFSETS)]).answered  # 4 beats min(10, 3)
    doubtful = logits_for(44, {}, {}, cls=6)
    decision = decide([(span, CONTEXT_OFFSETS), (doubtful, CONTEXT_OFFSETS)])
    assert decision.null_score == 6 and not decision.answered
    assert qa_features.answer_text(decision, "x" * 200) == ""


def test_spans_outside_the_context_or_reversed_are_never_chosen():
    starts, ends = np.full(44, -100.0), np.full(44, -100.0)
    starts[[1, 43, 15]], ends[[2, 43, 10, 22]] = (50, 50, 30), (50, 50, 60, 5)
    best = window_spans(starts, ends, CONTEXT_OFFSETS)[0]
    assert (best.first, best.last) == (15, 22)  # not the question tokens, not [SEP], not an end before its start


def test_answers_longer_than_the_limit_are_left_out():
    far = qa_features.MAX_ANSWER_TOKENS + 5
    values = logits_for(44, {4: 9}, {4 + far: 9, 6: 1})
    assert [(s.first, s.last) for s in window_spans(values[:, 0], values[:, 1], CONTEXT_OFFSETS)][0] == (4, 6)


def test_padding_past_a_window_is_ignored_and_probabilities_add_up():
    values = np.vstack([logits_for(44, {8: 4}, {9: 4}), np.full((20, 2), -PAD_LOGIT)])  # huge padding logits
    decision = decide([(values, CONTEXT_OFFSETS)])
    assert (decision.spans[0].first, decision.spans[0].last) == (8, 9)
    spans, null = qa_features.probabilities(decision)
    assert spans.sum() + null == pytest.approx(1.0) and spans[0] > null


def test_a_question_without_windows_or_spans_has_no_answer():
    assert not decide([]).answered
    assert qa_features.probabilities(Decision([], 0.0, None)) == (pytest.approx([]), 1.0)
    assert Decision([Span(1.0, 0, 3, 3, 3)], 0.5, 0).answered


# ---------------------------------------------------------------- the trainer's scoring path


class PerfectModel(torch.nn.Module):
    """Looks each window up by its token ids and puts the logits on its gold start and end ([CLS] when the window
    does not hold the answer), as a model that has learned the task perfectly would."""

    def __init__(self, windows):
        super().__init__()
        self.gold = {tuple(ids): tuple(label) for ids, label in zip(windows.features["input_ids"],
                                                                     windows.labels.tolist())}

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        start, end = (torch.zeros(input_ids.shape) for _ in range(2))
        for row, (ids, mask) in enumerate(zip(input_ids.tolist(), attention_mask.tolist())):
            first, last = self.gold[tuple(ids[:sum(mask)])]
            null = 10.0 if (first, last) == (0, 0) else -10.0
            start[row, 0] = end[row, 0] = null
            start[row, first] = end[row, last] = 10.0
        return QuestionAnsweringModelOutput(start_logits=start, end_logits=end)


def test_a_perfect_model_scores_exact_match_and_f1_of_one_through_the_trainer(tokenizer, tmp_path):
    frame = qa_frame()
    spec = JobSpec(data=DataSpec("qa.csv"), model="m", max_length=MAX_LENGTH, doc_stride=STRIDE, batch_size=2)
    splits = SimpleNamespace(train=frame, eval=frame, task="extractive_qa", labels=None)
    _, eval_dl, evaluation = tasks.get(splits.task).dataloaders(spec, splits, tokenizer, None)
    model = PerfectModel(qa_features.training_windows(frame, tokenizer, MAX_LENGTH, STRIDE))
    scores = trainer.evaluate(trainer.make_accelerator(spec, tmp_path), model, eval_dl, evaluation)
    assert scores["eval_exact"] == scores["eval_f1"] == 1.0
    assert scores["eval_has_ans_f1"] == scores["eval_no_ans_f1"] == 1.0
    assert (scores["eval_total"], scores["eval_has_ans_total"], scores["eval_no_ans_total"]) == (4, 3, 1)


def test_span_logits_pad_every_batch_to_max_length():
    output = QuestionAnsweringModelOutput(start_logits=torch.ones(2, 5), end_logits=torch.zeros(2, 5))
    stacked = qa_features.span_logits(output, 8)
    assert stacked.shape == (2, 8, 2) and (stacked[:, 5:] == PAD_LOGIT).all() and (stacked[:, :5, 0] == 1).all()
