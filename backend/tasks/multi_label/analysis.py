"""Multi-label runs examined: the validation rows predicted once, per-label precision/recall/F1, the pooled and
averaged scores, the rows whose label set is wrong, and the rows two runs label differently.

backend.serving.analysis and backend.serving.compare reach these through the multi-label kind. A row's labels are lists
in the model's label order (JSON has no tuples); a label is given at DEFAULT_THRESHOLD, as the trainer
scores. Everything returned is plain JSON-safe data.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backend.schemas import StudioError
from backend.tasks.multi_label.data import label_cardinality, multi_hot
from backend.tasks.sequence_inference import DEFAULT_THRESHOLD

DIGITS = 4


def eval_rows(loaded, frame: pd.DataFrame) -> list[dict]:
    """One record per validation row: text, text_pair (pair runs), gold and predicted (label lists), scores
    {label: probability} and correct (the very same set)."""
    unknown = set().union(*frame["label"]) - set(loaded.labels)
    if unknown:
        raise StudioError(f"{Path(loaded.spec.data.train_csv).name} has labels the model of {loaded.run_dir.name} "
                          "does not know, so it changed after training; put the original file back or train again.")
    texts = frame["text"].tolist()
    pairs = frame["text_pair"].tolist() if "text_pair" in frame else None
    scores = loaded.predict_scores(texts, pairs)
    rows = []
    for i, (text, names, row) in enumerate(zip(texts, frame["label"], scores)):
        gold = [label for label in loaded.labels if label in names]
        predicted = [label for label, p in zip(loaded.labels, row) if p >= DEFAULT_THRESHOLD]
        rows.append({"text": text} | ({"text_pair": pairs[i]} if pairs else {}) |
                    {"gold": gold, "predicted": predicted, "correct": gold == predicted,
                     "scores": {label: round(float(p), 6) for label, p in zip(loaded.labels, row)}})
    return rows


def error_report(frame: pd.DataFrame, max_examples: int) -> dict:
    """micro_f1, macro_f1 and subset_accuracy as the trainer scores them; threshold; label_cardinality {gold,
    predicted} (labels per row); per_label [{label, precision, recall, f1, support, predicted}] (support: rows
    with the label, predicted: rows given it); misclassified, the rows with a wrong label set, furthest from their
    gold first [{text, text_pair, gold, predicted, missing, extra, scores}]; misclassified_count."""
    labels = list(frame["scores"].iloc[0]) if len(frame) else []  # every row's scores are in the model's order
    gold, pred = multi_hot(frame["gold"].tolist(), labels), multi_hot(frame["predicted"].tolist(), labels)
    hits, wrong_given, missed = (pred * gold).sum(0), (pred * (1 - gold)).sum(0), ((1 - pred) * gold).sum(0)
    per_label = [_label_scores(*values) for values in zip(labels, hits, wrong_given, missed)]
    pooled = 2 * hits.sum() + wrong_given.sum() + missed.sum()
    wrong = frame[~frame["correct"].astype(bool)]
    return {
        "micro_f1": _round(2 * hits.sum() / pooled) if pooled else 0.0,
        "macro_f1": _round(np.mean([row["f1"] for row in per_label])) if per_label else 0.0,
        "subset_accuracy": _round(frame["correct"].astype(bool).mean()) if len(frame) else 0.0,
        "threshold": DEFAULT_THRESHOLD,
        "label_cardinality": {side: label_cardinality(frame[side]) for side in ("gold", "predicted")},
        "per_label": per_label,
        "misclassified": _worst_sets(wrong, labels, max_examples),
        "misclassified_count": len(wrong),
    }


def _label_scores(label: str, hits: float, wrong_given: float, missed: float) -> dict:
    """Precision and recall are 0 when undefined (never given, never there), as scikit-learn's zero_division=0."""
    given, support = hits + wrong_given, hits + missed
    precision, recall = (hits / given if given else 0.0), (hits / support if support else 0.0)
    f1 = 2 * hits / (2 * hits + wrong_given + missed) if hits + wrong_given + missed else 0.0
    return {"label": label, "precision": _round(precision), "recall": _round(recall), "f1": _round(f1),
            "support": int(support), "predicted": int(given)}


def _worst_sets(wrong: pd.DataFrame, labels: list[str], max_examples: int) -> list[dict]:
    """Rows with a wrong label set, the largest total gap between probability and truth over the labels first."""
    if wrong.empty:
        return []
    scores = np.array([[row[label] for label in labels] for row in wrong["scores"]])
    distance = np.abs(scores - multi_hot(wrong["gold"].tolist(), labels)).sum(axis=1)
    shown = wrong.assign(_distance=distance).sort_values("_distance", ascending=False, kind="stable")
    return [{"text": row.text, "text_pair": row.text_pair, "gold": list(row.gold), "predicted": list(row.predicted),
             "missing": [label for label in row.gold if label not in row.predicted],
             "extra": [label for label in row.predicted if label not in row.gold], "scores": row.scores}
            for row in shown.head(max_examples).itertuples(index=False)]


def disagreements(rows: pd.DataFrame, limit: int) -> dict:
    """Validation rows the two runs give different label sets, those exactly one of them gets right first:
    {compared, count, a_right, b_right, neither_right, examples [{text, text_pair, gold, a: {labels, correct},
    b: {labels, correct}}]}. `rows` is compare.aligned's frame."""
    same = [list(a) == list(b) for a, b in zip(rows["predicted_a"], rows["predicted_b"])]
    differ = rows[~np.array(same, dtype=bool)] if len(rows) else rows
    right_a, right_b = differ["correct_a"].astype(bool), differ["correct_b"].astype(bool)
    shown = differ.assign(_one=right_a != right_b).sort_values("_one", ascending=False, kind="stable").head(limit)
    return {"compared": len(rows), "count": len(differ), "a_right": int((right_a & ~right_b).sum()),
            "b_right": int((right_b & ~right_a).sum()), "neither_right": int((~right_a & ~right_b).sum()),
            "examples": [_example(row) for row in shown.to_dict("records")]}


def _example(row: dict) -> dict:
    sides = {side: {"labels": list(row[f"predicted_{side}"]), "correct": bool(row[f"correct_{side}"])}
             for side in ("a", "b")}
    return {"text": row["text"], "text_pair": row.get("text_pair"), "gold": list(row["gold"])} | sides


def _round(value) -> float:
    return round(float(value), DIGITS)
