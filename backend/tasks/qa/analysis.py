"""Extractive QA runs examined: the validation questions answered once, the SQuAD 2.0 scores with the has-answer /
no-answer breakdown, the three ways an answer goes wrong, and the questions two runs answer differently.

backend.serving.analysis and backend.serving.compare reach these through the QA kind. The validation rows keep
the columns every task shares, `text` (the question) and `text_pair` (the context), so comparing and timing runs work
as for text pairs. Everything returned is plain JSON-safe data.
"""
from __future__ import annotations

import pandas as pd

from backend.tasks.metrics import qa_metrics
from backend.tasks.qa.squad import exact_match, normalize_answer, token_f1

DIGITS = 4


def eval_rows(loaded, frame: pd.DataFrame) -> list[dict]:
    """One record per validation question: text (question), text_pair (context), gold ("" when unanswerable),
    gold_start (-1 then), predicted ("" when the model abstains), start, score, no_answer, no_answer_score,
    best_span (what it would answer if it had to, "" when no span is valid), exact and f1 (SQuAD 2.0, 0..1)."""
    questions, contexts = frame["question"].astype(str).tolist(), frame["context"].astype(str).tolist()
    answers = loaded.predict(questions, contexts)
    rows = []
    for question, context, gold, gold_start, answer in zip(questions, contexts, frame["answer_text"].astype(str),
                                                            frame["answer_start"].astype(int), answers):
        rows.append({"text": question, "text_pair": context, "gold": gold, "gold_start": int(gold_start),
                     "predicted": answer["answer"], "start": answer["start"], "score": answer["score"],
                     "no_answer": answer["no_answer"], "no_answer_score": answer["no_answer_score"],
                     "best_span": answer["candidates"][0]["answer"] if answer["candidates"] else "",
                     "exact": exact_match(answer["answer"], gold), "f1": round(token_f1(answer["answer"], gold), 6)})
    return rows


def error_report(frame: pd.DataFrame, max_examples: int) -> dict:
    """exact, f1, has_ans_exact, has_ans_f1, no_ans_exact, no_ans_f1 (0..1) and total, has_ans_total, no_ans_total as
    the trainer scores them; outcomes {right, wrong_answer, missed_answer, answered_unanswerable}; and the worst of each
    mistake, at most `max_examples` each:
    wrong_answers [{question, context, gold, predicted, score, f1}] (least overlap, then most confident, first),
    missed_answers [{question, context, gold, no_answer_score, best_span}] (abstained on an answerable question, most
    sure first), answered_unanswerable [{question, context, predicted, score, no_answer_score}] (most sure first).
    """
    metrics = qa_metrics(frame["predicted"].tolist(), [[gold] for gold in frame["gold"]])
    has_answer, answered = frame["gold"].map(normalize_answer) != "", ~frame["no_answer"].astype(bool)
    right = frame["exact"] == 1
    wrong = frame[has_answer & answered & ~right].sort_values(["f1", "score"], ascending=[True, False], kind="stable")
    missed = frame[has_answer & ~answered].sort_values("no_answer_score", ascending=False, kind="stable")
    # A "span" that normalises to nothing (an article alone) counts as an abstention, as SQuAD scores it: right.
    unanswerable = frame[~has_answer & answered & ~right].sort_values("score", ascending=False, kind="stable")
    return metrics | {
        "outcomes": {"right": int(right.sum()), "wrong_answer": len(wrong), "missed_answer": len(missed),
                     "answered_unanswerable": len(unanswerable)},
        "wrong_answers": _examples(wrong, max_examples, ("gold", "predicted", "score", "f1")),
        "missed_answers": _examples(missed, max_examples, ("gold", "no_answer_score", "best_span")),
        "answered_unanswerable": _examples(unanswerable, max_examples, ("predicted", "score", "no_answer_score")),
    }


def _examples(frame: pd.DataFrame, limit: int, fields: tuple[str, ...]) -> list[dict]:
    return [{"question": row["text"], "context": row["text_pair"]} |
            {name: round(float(row[name]), DIGITS) if isinstance(row[name], float) else row[name] for name in fields}
            for row in frame.head(limit).to_dict("records")]


def disagreements(rows: pd.DataFrame, limit: int) -> dict:
    """Questions the two runs answer differently after SQuAD's normalisation (case, punctuation, articles), rows as
    compare.aligned puts them side by side. Questions only one of them gets right come first, then the most confident.
    {compared, count, a_right, b_right, neither_right, examples [{text, text_pair, gold, a, b}]} with a and b
    {answer, score, no_answer, correct (exact match), f1}."""
    differ = rows[rows["predicted_a"].map(normalize_answer) != rows["predicted_b"].map(normalize_answer)]
    right_a, right_b = differ["exact_a"] == 1, differ["exact_b"] == 1
    order = differ.assign(_one=(right_a != right_b), _sure=differ[["score_a", "score_b"]].max(axis=1))
    shown = order.sort_values(["_one", "_sure"], ascending=False, kind="stable").head(limit)
    return {"compared": len(rows), "count": len(differ), "a_right": int((right_a & ~right_b).sum()),
            "b_right": int((right_b & ~right_a).sum()), "neither_right": int((~right_a & ~right_b).sum()),
            "examples": [{"text": row["text"], "text_pair": row["text_pair"], "gold": row["gold"], "a": _side(row, "a"),
                          "b": _side(row, "b")} for row in shown.to_dict("records")]}


def _side(row: dict, side: str) -> dict:
    return {"answer": row[f"predicted_{side}"], "score": round(float(row[f"score_{side}"]), DIGITS),
            "no_answer": bool(row[f"no_answer_{side}"]), "correct": row[f"exact_{side}"] == 1,
            "f1": round(float(row[f"f1_{side}"]), DIGITS)}
