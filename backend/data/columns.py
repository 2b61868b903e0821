"""Column roles: which column of a table holds the text, the second text and the label, from the user's choices, the
header names and the content. The kinds with other roles (extractive QA's answer start) match headers the same way.
"""
from __future__ import annotations

import pandas as pd

from backend.data.reading import Messages

GUESS_ROWS = 2_000  # column roles are guessed from this many rows
# Free text, whatever the header: cells of several words on average, mostly different from each other. A second
# such column filled on nearly every row is read as the second text of a pair; one often left blank (notes) is not.
FREE_TEXT_WORDS = 3
FREE_TEXT_DISTINCT = 0.5
PAIR_FILLED = 0.9

# Header names that tell a column's role, tried in order: exact names first, then names containing a hint of 4+ letters.
NAME_MATCHES = (lambda name, hint: name == hint, lambda name, hint: len(hint) >= 4 and hint in name)
ROLE_HINTS = {
    "text_pair_column": ("text_b", "text_pair", "sentence2", "sentence_2", "hypothesis", "question2",
                         "question_2", "text2", "second_text", "response", "answer"),
    "label_column": ("label", "labels", "class", "target", "category", "sentiment", "score", "rating",
                     "stars", "gold_label", "is_duplicate", "intent", "topic", "similarity", "y"),
    "text_column": ("text", "text_a", "sentence", "sentence1", "sentence_1", "review", "question",
                    "question1", "question_1", "content", "premise", "body", "comment", "message",
                    "document", "tweet", "utterance", "query", "text1"),
}
# Every sentence choosing columns may show: what is wrong, where, and what to do.
MESSAGES = Messages({
    "one_column": "{name} has only one column ({columns}); a training CSV needs a text column and a label column, "
                  "separated by commas, semicolons, tabs or pipes.",
    "no_such_column": "{name} has no column '{column}'; its columns are: {columns}.",
    "pair_not_used": "Single-text classification uses no second text, but '{column}' was chosen; clear it.",
    "pair_needed": "Text-pair classification needs a second text column; choose one of: {columns}.",
    "column_twice": "'{column}' is chosen for two roles; the text, second text and label columns must differ.",
    "roles_unknown": "Could not tell the text column from the label column ({columns}); choose them.",
    "text_unused": "Column '{column}' of {name} holds text too but is not used; to use it, choose it as the second "
                   "text column (the model then reads it beside '{text}').",
})
_fail = MESSAGES.fail


def header_names(frame: pd.DataFrame) -> dict:
    """Column -> its header as hints are written: lower case, spaces and dashes as underscores."""
    return {column: str(column).strip().lower().replace(" ", "_").replace("-", "_") for column in frame.columns}


def match_headers(frame: pd.DataFrame, roles: dict, hints: dict) -> dict:
    """`roles` with each role still None filled by the first free column whose header matches one of its hints."""
    names = header_names(frame)
    for matches in NAME_MATCHES:
        for role, role_hints in hints.items():
            if roles[role] is None:
                free = [column for column in frame.columns if column not in roles.values()]
                roles[role] = next((c for hint in role_hints for c in free if matches(names[c], hint)), None)
    return roles


def guess_columns(frame: pd.DataFrame, chosen: dict | None = None) -> dict:
    """Text, second text and label columns: those in `chosen` kept, the rest guessed from header names, then by
    content: the longest texts, the fewest distinct values (at least two), and a second text when one more column
    holds free text on nearly every row (`first, second, relation` is a pair whatever its headers say)."""
    roles = match_headers(frame, {role: (chosen or {}).get(role) for role in ROLE_HINTS}, ROLE_HINTS)
    head = frame.head(GUESS_ROWS)
    free = [column for column in frame.columns if column not in roles.values()]
    by_content = roles["text_column"] is None
    if by_content and free:
        roles["text_column"] = max(free, key=lambda column: head[column].str.len().mean())
        free.remove(roles["text_column"])
    if roles["label_column"] is None and free:
        roles["label_column"] = min(reversed(free), key=lambda column: distinct_rank(head[column]))
        free.remove(roles["label_column"])
    if roles["text_column"] is None or roles["label_column"] is None:
        raise _fail("roles_unknown", columns=", ".join(frame.columns))
    if roles["text_pair_column"] is None:
        roles |= second_text(head, roles["text_column"], free, by_content)
    return roles


def second_text(head: pd.DataFrame, text: str, free: list, reorder: bool) -> dict:
    """{text_pair_column} (and {text_column} when `reorder`: the pair in the table's order) when exactly one free
    column holds free text on nearly every row beside a text column that does too; else {}."""
    texts = [column for column in free if free_text(head[column], PAIR_FILLED)]
    if len(texts) != 1 or not free_text(head[text], PAIR_FILLED):
        return {}
    first, second = text, texts[0]
    if reorder and list(head.columns).index(second) < list(head.columns).index(first):
        first, second = second, first
    return {"text_column": first, "text_pair_column": second}


def free_text(values: pd.Series, filled: float = 0.0) -> bool:
    """Whether a column holds free text: at least `filled` of its cells (and two) non-blank, of several words on
    average, mostly different from each other."""
    cells = values.str.strip()
    given = cells[cells != ""]
    if len(given) < max(2, filled * len(cells)):
        return False
    return bool(given.str.split().str.len().mean() >= FREE_TEXT_WORDS
                and given.nunique() >= FREE_TEXT_DISTINCT * len(given))


def unused_texts(frame: pd.DataFrame, columns: dict, name: str) -> list[str]:
    """A sentence for each column of free text the chosen roles leave unread: a text column is never dropped
    silently."""
    head = frame.head(GUESS_ROWS)
    used = set(columns.values())
    return [MESSAGES.say("text_unused", column=column, name=name, text=columns["text_column"])
            for column in frame.columns if column not in used and free_text(head[column])]


def distinct_rank(values: pd.Series) -> int:
    """Distinct non-blank values, or a huge number when there are fewer than two (such a column teaches nothing)."""
    distinct = values.str.strip().replace("", None).nunique()
    return distinct if distinct >= 2 else 10**9


def choose_columns(spec, frame: pd.DataFrame, name: str, reads_pairs: bool | None) -> dict:
    """The user's column choices, checked, completed by guesses and by whether the chosen kind reads two texts
    (`reads_pairs`: True always, False never, None as the table has them)."""
    available = ", ".join(frame.columns)
    if len(frame.columns) < 2:
        raise _fail("one_column", name=name, columns=available)
    chosen = {role: getattr(spec, role) for role in ROLE_HINTS}
    for column in filter(None, chosen.values()):
        if column not in frame.columns:
            raise _fail("no_such_column", name=name, column=column, columns=available)
    if reads_pairs is False and chosen["text_pair_column"]:
        raise _fail("pair_not_used", column=chosen["text_pair_column"])
    columns = guess_columns(frame, chosen)
    if reads_pairs is False or spec.text_pair_column == "":  # "" is the user's "no second text"
        columns["text_pair_column"] = None
    if reads_pairs and not columns["text_pair_column"]:
        raise _fail("pair_needed", columns=available)
    used = [column for column in columns.values() if column]
    repeated = next((column for column in used if used.count(column) > 1), None)
    if repeated:
        raise _fail("column_twice", column=repeated)
    return columns
