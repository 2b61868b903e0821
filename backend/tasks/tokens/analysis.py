"""The error report of a token-classification run on its evaluation sentences: scores per entity type, the entities
it missed and those it made up, and which tags it confuses.

Reads the frame `inference.eval_rows` gives: tokens, tags (gold, repaired IOB2), predicted (tags), scores (the
probability of each predicted tag). An entity is found when a predicted entity has its type and its first and last
word, as seqeval's strict mode counts (`metrics`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from backend.tasks.tokens.metrics import OUTSIDE, DIGITS, entity_spans, per_type_scores, tag_type, token_metrics

# How a missed entity went wrong, worst first: nothing predicted on its words, another type on exactly its words,
# or an entity of its type over other words (a boundary too early or too late).
MISSES = ("not_found", "wrong_type", "wrong_boundary")


def tag_order(tags) -> list[str]:
    """O first, then by type, B- before I-: the rows and columns of the confusion matrix."""
    return sorted(set(tags), key=lambda tag: (tag != OUTSIDE, tag_type(tag) or "", tag[:2]))


def miss_kind(span: tuple[str, int, int], predicted: list[tuple[str, int, int]]) -> str:
    kind, first, last = span
    overlapping = [p for p in predicted if p[1] <= last and p[2] >= first]
    if any(p[1:] == (first, last) for p in overlapping):
        return "wrong_type"
    return "wrong_boundary" if any(p[0] == kind for p in overlapping) else "not_found"


def sentence_errors(row: dict) -> tuple[list[dict], list[dict]]:
    """(missed, spurious) entities of one sentence, as the report lists them."""
    words, gold, predicted = list(row["tokens"]), entity_spans(list(row["tags"])), entity_spans(list(row["predicted"]))
    sentence, scores = " ".join(words), list(row["scores"])
    missed = [{"sentence": sentence, "text": " ".join(words[first:last + 1]), "type": kind,
               "predicted": " ".join(row["predicted"][first:last + 1]), "miss": miss_kind((kind, first, last),
                                                                                         predicted)}
              for kind, first, last in gold if (kind, first, last) not in predicted]
    spurious = [{"sentence": sentence, "text": " ".join(words[first:last + 1]), "type": kind,
                 "gold": " ".join(row["tags"][first:last + 1]),
                 "score": round(float(np.mean(scores[first:last + 1])), DIGITS)}
                for kind, first, last in predicted if (kind, first, last) not in gold]
    return missed, spurious


def confusion(gold: list[list[str]], predicted: list[list[str]]) -> dict:
    """{labels, matrix}: words per (gold tag row, predicted tag column), by scikit-learn, in `tag_order`."""
    flat_gold = [tag for tags in gold for tag in tags]
    flat_predicted = [tag for tags in predicted for tag in tags]
    labels = tag_order(flat_gold + flat_predicted)
    if not labels:
        return {"labels": [], "matrix": []}
    return {"labels": labels, "matrix": confusion_matrix(flat_gold, flat_predicted, labels=labels).tolist()}


def error_report(frame: pd.DataFrame, max_examples: int) -> dict:
    """The trainer's metrics (`metrics.token_metrics`), `per_type` {type: {precision, recall, f1, support}} with the
    pooled "micro" row, `outcomes` {found, missed, spurious} and missed by how (MISSES), at most `max_examples` each
    of `missed` [{sentence, text, type, predicted, miss}] (worst kind of miss first) and `spurious` [{sentence, text,
    type, gold, score}] (most confident first), and the tag `confusion` matrix."""
    gold, predicted = [list(tags) for tags in frame["tags"]], [list(tags) for tags in frame["predicted"]]
    missed, spurious = [], []
    for row in frame.to_dict("records"):
        row_missed, row_spurious = sentence_errors(row)
        missed += row_missed
        spurious += row_spurious
    missed.sort(key=lambda example: MISSES.index(example["miss"]))
    spurious.sort(key=lambda example: -example["score"])
    entities = sum(len(entity_spans(tags)) for tags in gold)
    outcomes = {"found": entities - len(missed), "missed": len(missed), "spurious": len(spurious)}
    outcomes |= {kind: sum(example["miss"] == kind for example in missed) for kind in MISSES}
    return token_metrics(predicted, gold) | {
        "per_type": per_type_scores(predicted, gold), "outcomes": outcomes,
        "missed": missed[:max_examples], "spurious": spurious[:max_examples], "confusion": confusion(gold, predicted),
    }


# ---------------------------------------------------------------- a run's validation rows, and two runs compared

def eval_rows(frame: pd.DataFrame) -> list[dict]:
    """One JSON-safe record per validation sentence from `inference.eval_rows`' frame: text (the words joined by
    spaces, what compare lines rows up by), tokens, tags, gold (the tags joined), predicted, scores, and exact
    (every entity found and none made up)."""
    rows = []
    for row in frame.to_dict("records"):
        tokens, tags, predicted = list(map(str, row["tokens"])), list(row["tags"]), list(row["predicted"])
        rows.append({"text": " ".join(tokens), "tokens": tokens, "tags": tags, "gold": " ".join(tags),
                     "predicted": predicted, "scores": [float(score) for score in row["scores"]],
                     "exact": entity_spans(tags) == entity_spans(predicted)})
    return rows


def entity_text(tokens: list[str], tags: list[str]) -> str:
    """"Ann Lee (PER), Paris (LOC)": a sentence's entities for a person to read; "(none)" without any."""
    return ", ".join(f"{' '.join(tokens[first:last + 1])} ({kind})" for kind, first, last in entity_spans(tags)) \
        or "(none)"


def disagreements(rows: pd.DataFrame, limit: int) -> dict:
    """Sentences the two runs tag with different entities, rows as compare.aligned puts them side by side; those
    only one of them gets exactly right first. {compared, count, a_right, b_right, neither_right, examples [{text,
    gold, a, b}]} with a and b {entities, correct}; entities as `entity_text` writes them."""
    def spans(side: str) -> pd.Series:
        return rows[f"predicted_{side}"].map(lambda tags: entity_spans(list(tags)))
    differ = rows[spans("a") != spans("b")]
    right_a, right_b = differ["exact_a"].astype(bool), differ["exact_b"].astype(bool)
    shown = differ.assign(_one=right_a != right_b).sort_values("_one", ascending=False, kind="stable").head(limit)

    def side(row: dict, name: str) -> dict:
        return {"entities": entity_text(list(row[f"tokens_{name}"]), list(row[f"predicted_{name}"])),
                "correct": bool(row[f"exact_{name}"])}
    return {"compared": len(rows), "count": len(differ), "a_right": int((right_a & ~right_b).sum()),
            "b_right": int((right_b & ~right_a).sum()), "neither_right": int((~right_a & ~right_b).sum()),
            "examples": [{"text": row["text"], "gold": entity_text(list(row["tokens_a"]), list(row["tags_a"])),
                          "a": side(row, "a"), "b": side(row, "b")} for row in shown.to_dict("records")]}
