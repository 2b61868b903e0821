"""Extractive QA with a finished run: the answer to a question in a context, where it is, and how sure the model is.

A context longer than the run's max_length is read in overlapping windows, as in training (backend.tasks.qa.features);
the windows of all questions go through the model sorted by length and padded per batch. The answer is the best span
over a question's windows unless its no-answer score beats it (qa_features.decide); the probabilities are those of
qa_features.probabilities. Functions take a loaded run (backend.serving.inference.LoadedRun); the QA kind
(backend.tasks.qa.kind) calls them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from backend.data.batching import Collator
from backend.data.cells import escape_cell
from backend.schemas import StudioError
from backend.tasks import attribution
from backend.tasks.qa import features as qa_features

BATCH_SIZE = 32
CANDIDATES = 3  # alternatives worth showing: the best spans of the window the answer came from
DIGITS = 6


@dataclass(frozen=True)
class Reading:
    """What the model made of some questions: the questions as read (cut to fit a window), their windows (the
    tokenizer's encoding), each window's start and end logits (windows, tokens, 2) and one Decision per question."""

    questions: list[str]
    encoding: object
    logits: np.ndarray
    decisions: list[qa_features.Decision]


def checked_inputs(question, context) -> tuple[str, str]:
    question, context = ("" if value is None else str(value) for value in (question, context))
    if not context.strip():
        raise StudioError("This model answers a question from a context; give the context (the text the answer is "
                          "taken from) as the second text.")
    if not question.strip():
        raise StudioError("Type a question to answer from the context.")
    return question, context


def predict_answer(loaded, question: str, context: str) -> dict:
    """One question: the `predict_answers` record plus `latency_ms` (tokenize, forward, pick the span)."""
    started = time.perf_counter()
    answer = predict_answers(loaded, [question], [context])[0]
    return answer | {"latency_ms": round((time.perf_counter() - started) * 1000, 3)}


def predict_answers(loaded, questions: list[str], contexts: list[str], batch_size: int = BATCH_SIZE) -> list[dict]:
    """Per question: {"answer": text or "", "start", "end" (character offsets in the context, end exclusive; None
    without an answer), "score" (the probability of what was returned: the span, or no answer), "no_answer": bool,
    "no_answer_score", "candidates": up to CANDIDATES [{answer, start, end, score}], the best spans of the window the
    answer came from, also when the model abstains}."""
    if len(questions) != len(contexts):
        raise StudioError(f"Got {len(questions)} questions but {len(contexts)} contexts; give one context per "
                          "question.")
    checked = [checked_inputs(question, context) for question, context in zip(questions, contexts)]
    if not checked:
        return []
    questions, contexts = (list(column) for column in zip(*checked))
    reading = read(loaded, questions, contexts, batch_size)
    return [as_answer(decision, context) for decision, context in zip(reading.decisions, contexts)]


def read(loaded, questions: list[str], contexts: list[str], batch_size: int = BATCH_SIZE) -> Reading:
    """Every window of every question through the model; questions too long for a window are cut as in training."""
    stride = qa_features.checked_stride(loaded.max_length, loaded.spec.doc_stride)
    fitted = qa_features.fit_questions(loaded.tokenizer, questions, loaded.max_length, stride)
    encoding = qa_features.encode_windows(loaded.tokenizer, fitted, contexts, loaded.max_length, stride)
    logits = window_logits(loaded, encoding, batch_size)
    found = qa_features.decisions(logits, encoding["overflow_to_sample_mapping"],
                                  qa_features.context_offsets(encoding), len(contexts))
    return Reading(fitted, encoding, logits, found)


def window_logits(loaded, encoding, batch_size: int) -> np.ndarray:
    """(windows, longest window, 2): start and end logits, the windows sorted by length and padded per batch to its
    own longest, as the trainer evaluates. Positions past a window's end hold padding, which postprocessing skips."""
    features = {name: encoding[name] for name in loaded.input_names}
    lengths = [len(ids) for ids in features["input_ids"]]
    logits = np.full((len(lengths), max(lengths), 2), qa_features.PAD_LOGIT, dtype=np.float32)
    order = np.argsort([-length for length in lengths], kind="stable")
    collate = Collator(loaded.tokenizer.pad_token_id or 0, float_labels=True)
    with torch.inference_mode():
        for first in range(0, len(order), batch_size):
            rows = order[first:first + batch_size].tolist()
            batch = collate([(i, {name: values[i] for name, values in features.items()}, 0.0) for i in rows])
            output = loaded.model(**{name: batch[name].to(loaded.device) for name in loaded.input_names})
            stacked = torch.stack((output.start_logits, output.end_logits), dim=-1).float().cpu().numpy()
            logits[rows, :stacked.shape[1]] = stacked
    return logits


def as_answer(decision: qa_features.Decision, context: str) -> dict:
    span_probabilities, null_probability = qa_features.probabilities(decision)
    candidates = [{"answer": context[span.start:span.end], "start": span.start, "end": span.end,
                   "score": round(float(p), DIGITS)}
                  for span, p in zip(decision.spans[:CANDIDATES], span_probabilities)]
    if decision.answered:
        chosen = dict(candidates[0])
    else:
        chosen = {"answer": "", "start": None, "end": None, "score": round(null_probability, DIGITS)}
    return chosen | {"no_answer": not decision.answered, "no_answer_score": round(null_probability, DIGITS),
                     "candidates": candidates}


def answer_scores(loaded, questions: list[str], contexts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
    """The probability of each question's answer (of no answer when the model abstains), in question order: the
    array inference.predict_scores gives for a QA run."""
    answers = predict_answers(loaded, questions, contexts, batch_size)
    return np.array([answer["score"] for answer in answers], dtype=np.float32)


def contexts(questions: list[str], given: list[str] | None) -> list:
    """Contexts, one per question; missing ones stay None, so the answer says the context is needed."""
    return [None] * len(questions) if given is None else given


ANSWER_COLUMNS = ["predicted_answer", "answer_start", "answer_score", "no_answer"]


def answer_cells(loaded, questions: list[str], given: list[str] | None, usable: list[int]) -> tuple:
    """Batch scoring: the answer ("" when the model abstains), its character offset in the context, the probability
    of what was returned (the answer, or no answer) and whether it abstained; answer_counts {answered, no answer}."""
    picked = None if given is None else [given[i] for i in usable]
    answers = loaded.predict([questions[i] for i in usable], picked)
    cells = [[""] * len(ANSWER_COLUMNS) for _ in questions]
    for i, answer in zip(usable, answers):
        start = "" if answer["start"] is None else str(answer["start"])
        cells[i] = [escape_cell(answer["answer"])[0], start, f"{answer['score']:.4f}", str(answer["no_answer"]).lower()]
    answered = sum(not answer["no_answer"] for answer in answers)
    return ANSWER_COLUMNS, cells, {"answer_counts": {"answered": answered, "no answer": len(answers) - answered}}


# ---------------------------------------------------------------- explaining


def explain_answer(loaded, question: str, context: str, steps: int) -> dict:
    """Which question and context words raise the answer's start + end logit (for an abstention: the [CLS] score of
    the window most sure an answer is there), by Integrated Gradients as inference.explain does for labels. Only the
    window the answer came from is explained; `truncated` says when the context had more.
    Keys: label (None), method, steps, prediction, target ("answer" or "no answer"), truncated, window, windows,
    tokens [{token, score, segment, special}], words [{word, score, segment, start, end}] (segment 0: question,
    1: context; character offsets into their text); scores scaled to [-1, 1].
    """
    question, context = checked_inputs(question, context)
    reading = read(loaded, [question], [context])
    decision = reading.decisions[0]
    if decision.answered:
        window, first, last = decision.window, decision.spans[0].first, decision.spans[0].last
    else:
        window, first, last = int(np.argmin(reading.logits[:, 0].sum(axis=1))), 0, 0
    encoding = reading.encoding
    inputs = {name: torch.tensor([encoding[name][window]], device=loaded.device) for name in loaded.input_names}
    special = torch.tensor([[segment is None for segment in encoding.sequence_ids(window)]])
    attributions = attribution.integrated_gradients(
        loaded.model, loaded.tokenizer.pad_token_id or 0, inputs, special,
        lambda output: output.start_logits[:, first] + output.end_logits[:, last], steps)[0].cpu()
    texts = (reading.questions[0], context)
    return {"label": None, "method": "integrated_gradients", "steps": steps,
            "prediction": as_answer(decision, context), "target": "answer" if decision.answered else "no answer",
            "truncated": len(reading.logits) > 1, "window": window, "windows": len(reading.logits),
            "tokens": attribution.token_scores(loaded.tokenizer, encoding, attributions, window),
            "words": attribution.word_scores(encoding, attributions, texts, window)}
