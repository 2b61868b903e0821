"""SQuAD 2.0 scoring of extractive answers: exact match and token F1 after the official normalisation, with the
has-answer / no-answer breakdown. An empty string is the answer "no answer" (an unanswerable question).

Follows the definitions of the SQuAD 2.0 evaluation script (lower case, no punctuation, no articles a/an/the,
single spaces; F1 over the bag of tokens; a question with several gold answers takes the best of them).
"""
from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not predicted or not expected:  # "no answer" on either side: right only if both are
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def squad_v2_scores(predictions: list[str], golds: list[list[str]]) -> dict[str, float]:
    """Percentages as SQuAD 2.0 reports them: exact and f1 over all questions, then over answerable (has_ans_*)
    and unanswerable (no_ans_*) ones, with their counts. `golds[i]` lists question i's gold answers ([""] or []
    when it has none)."""
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} questions")
    rows = []
    for prediction, answers in zip(predictions, golds):
        answers = [answer for answer in answers if normalize_answer(answer)] or [""]
        rows.append((answers != [""], max(exact_match(prediction, a) for a in answers),
                     max(token_f1(prediction, a) for a in answers)))

    def mean(values: list[float]) -> float:
        return round(100 * sum(values) / len(values), 4) if values else 0.0

    scores = {"exact": mean([r[1] for r in rows]), "f1": mean([r[2] for r in rows]), "total": len(rows)}
    for name, wanted in (("has_ans", True), ("no_ans", False)):
        subset = [r for r in rows if r[0] is wanted]
        scores.update({f"{name}_exact": mean([r[1] for r in subset]), f"{name}_f1": mean([r[2] for r in subset]),
                       f"{name}_total": len(subset)})
    return scores
