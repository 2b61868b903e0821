"""The task kinds: the registry is the only place that lists them (each kind is one module of this package).

    from backend import tasks
    kind = tasks.get(spec.task)      # a TaskKind (backend/tasks/base.py)
    tasks.names()                     # the keys, in the order detection tries them
    tasks.titles()                    # key -> what people read
"""
from __future__ import annotations

from backend.tasks.base import TaskKind, unknown_kind
from backend.tasks.multi_label.kind import MultiLabelClassification
from backend.tasks.pair import PairClassification
from backend.tasks.qa.kind import ExtractiveQA
from backend.tasks.regression import Regression
from backend.tasks.text import TextClassification
from backend.tasks.tokens.kind import TokenClassification

# In the order people see them (the Data tab's task menu, the CLI's --task).
KINDS: dict[str, TaskKind] = {kind.name: kind for kind in (
    TextClassification(), PairClassification(), Regression(), MultiLabelClassification(), ExtractiveQA(),
    TokenClassification())}
# The kinds that recognise their tables by content, asked in this order when the user names no task; a table none
# of them claims is read as one text (or a pair) and a label a row, and its label column decides between
# classification and regression.
# (A tags column reads as space-separated labels too: token classification is asked before multi-label.)
DETECTED_BY_CONTENT = ("extractive_qa", "token_classification", "multi_label_classification")


def get(name: str) -> TaskKind:
    """The kind called `name`; a StudioError naming the known kinds otherwise."""
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise unknown_kind(name, KINDS) from None


def detectable() -> list[TaskKind]:
    return [KINDS[name] for name in DETECTED_BY_CONTENT]


def names() -> list[str]:
    return list(KINDS)


def titles() -> dict[str, str]:
    return {name: kind.title for name, kind in KINDS.items()}
