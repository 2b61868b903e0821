"""IOB2 tags as entities, and how right a tagging is: seqeval's entity scores, token accuracy beside them.

Entities are scored by seqeval in strict IOB2 mode (`mode="strict", scheme=IOB2`): an entity is a B-X followed by
its I-X tags, and it counts as found only when the predicted entity has the same type and the same first and last
word. Tags come here repaired (`repair_tags`): an I-X that follows neither B-X nor I-X starts an entity, as CoNLL's
conlleval reads it. The data check repairs the gold tags so, and decoding repairs the predicted tags the same way, so
the entities scored are exactly those `entity_spans` finds and the Playground shows.
"""
from __future__ import annotations

import warnings

from seqeval.metrics import accuracy_score, classification_report
from seqeval.scheme import IOB2

OUTSIDE = "O"
PREFIXES = ("B-", "I-")
DIGITS = 6
MICRO = "micro avg"


def tag_type(tag: str) -> str | None:
    """X of B-X or I-X; None for O."""
    return None if tag == OUTSIDE else tag[2:]


def is_tag(tag: str) -> bool:
    """Whether a tag has an IOB2 shape: O, B-X or I-X with a type X of at least one character and no space."""
    return tag == OUTSIDE or (tag[:2] in PREFIXES and len(tag) > 2 and not any(c.isspace() for c in tag))


def repair_tags(tags: list[str]) -> tuple[list[str], list[int]]:
    """The tags with every I-X that follows neither B-X nor I-X turned into B-X (conlleval's reading), and the
    positions changed."""
    repaired, changed, previous = list(tags), [], OUTSIDE
    for position, tag in enumerate(tags):
        if tag.startswith("I-") and previous not in (f"B-{tag[2:]}", tag):
            repaired[position] = f"B-{tag[2:]}"
            changed.append(position)
        previous = tag
    return repaired, changed


def entity_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """(type, first word, last word) of each entity in repaired IOB2 tags: a B-X and the I-X tags after it."""
    spans = []
    for position, tag in enumerate(tags):
        if tag.startswith("B-"):
            spans.append([tag[2:], position, position])
        elif tag.startswith("I-") and spans and spans[-1][0] == tag[2:] and spans[-1][2] == position - 1:
            spans[-1][2] = position
    return [tuple(span) for span in spans]


def per_type_scores(pred_tags: list[list[str]], gold_tags: list[list[str]]) -> dict[str, dict[str, float]]:
    """{type: {precision, recall, f1, support}} and the pooled row under "micro", all from seqeval (strict IOB2);
    support counts the gold entities."""
    with warnings.catch_warnings():  # seqeval's macro average of no type at all is an empty mean: not reported here
        warnings.simplefilter("ignore")
        report = classification_report(gold_tags, pred_tags, mode="strict", scheme=IOB2, output_dict=True,
                                       zero_division=0)
    rows = {name: values for name, values in report.items() if not name.endswith(" avg")} | {"micro": report[MICRO]}
    return {name: {"precision": round(float(values["precision"]), DIGITS),
                   "recall": round(float(values["recall"]), DIGITS),
                   "f1": round(float(values["f1-score"]), DIGITS), "support": int(values["support"])}
            for name, values in rows.items()}


def token_metrics(pred_tags: list[list[str]], gold_tags: list[list[str]]) -> dict[str, float]:
    """Entity precision, recall and F1 pooled over types (micro; `f1` is the main metric), the same per type as
    `<TYPE>_precision`, `<TYPE>_recall`, `<TYPE>_f1`, the gold entity count `entities`, and `token_accuracy`: the
    share of words whose tag is right, O included (high even for a model that tags nothing, hence not the main one)."""
    if len(pred_tags) != len(gold_tags) or any(len(p) != len(g) for p, g in zip(pred_tags, gold_tags)):
        raise ValueError("Predicted and gold tags must have one tag per word of every sentence.")
    scores = per_type_scores(pred_tags, gold_tags)
    micro = scores.pop("micro")
    flat = {"precision": micro["precision"], "recall": micro["recall"], "f1": micro["f1"],
            "entities": micro["support"],
            "token_accuracy": round(float(accuracy_score(gold_tags, pred_tags)), DIGITS) if gold_tags else 0.0}
    for kind, values in sorted(scores.items()):
        flat |= {f"{kind}_{name}": values[name] for name in ("precision", "recall", "f1")}
    return flat
