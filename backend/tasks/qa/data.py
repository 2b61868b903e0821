"""Extractive QA tables (SQuAD 2.0 style) -> checked train/eval frames of questions, contexts and answer spans.

A row is a question about a context with its answer: the answer's text and the character offset where it starts in
the context. Offsets are Python string indices, so an accented letter or an emoji counts as one character. An empty
answer marks a question the context does not answer. Warnings name rows as a spreadsheet shows them: the header is
row 1, the first data row is row 2 (blank lines and rows left out for a wrong number of cells are not counted).

The roles are those of a text pair as the model reads them (DataSpec): text_column = question, text_pair_column =
context, label_column = answer text, answer_start_column = answer start. Roles not chosen are found by header name
(ROLE_HINTS). ExtractiveQA.load_splits reads a table here when the task is extractive QA or `looks_like_qa` says so.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit

from backend.data import checks, columns
from backend.data.reading import Messages, _rows
from backend.data.records import Splits, ValidationReport, table_facts

TASK = "extractive_qa"  # what previews say they show
FIRST_DATA_ROW = 2  # what a spreadsheet calls the first row below the header
SHOWN_ANSWER_CHARS = 40

# Header names that tell a role, tried in order (exact names first, then names containing a hint of 4+ letters).
# The start comes first, so that "answer_start" is never taken for the answer text.
ROLE_HINTS = {
    "answer_start_column": ("answer_start", "answer_start_char", "answer_char_start", "start_char", "start",
                            "answer_offset", "offset"),
    "text_pair_column": ("context", "passage", "paragraph"),
    "text_column": ("question", "query"),
    "label_column": ("answer_text", "answer", "answers", "text_answer"),
}
SPAN_ROLES = ("text_column", "text_pair_column", "label_column")  # needed; without a start column it is searched for
ROLE_NAMES = {"text_column": "question", "text_pair_column": "context", "label_column": "answer text",
              "answer_start_column": "answer start"}
KEPT = ("answered", "unanswerable", "filled", "start_only")  # row outcomes that keep the row; the others leave it out
# Why rows were left out, as a count reads in an error: "12 rows with ...".
LEFT_OUT = {
    "empty": "with an empty question or context",
    "not_a_number": "with a start that is not a whole number",
    "outside": "with a start outside the context",
    "misplaced": "with the answer not at its start",
    "not_found": "with an answer that is not in the context",
    "ambiguous": "with an answer found several times and no start",
}
# Every sentence a QA table may get, keyed by row outcome or check: what is wrong, where, and what to do.
MESSAGES = Messages({
    "empty": "Left out {rows} of {name} with an empty question in '{question}' or context in '{context}' "
             "(first: row {row}); fill those cells in to use them.",
    "not_a_number": "Left out {rows} of {name} whose '{start}' is not a whole number (first: row {row}, '{value}'); "
                    "write the answer's character offset in the context, like 57.",
    "outside": "Left out {rows} of {name} whose '{start}' lies outside the context (first: row {row}, {value} in a "
               "context of {length:,} characters); offsets count characters from 0.",
    "misplaced": "Left out {rows} of {name} whose answer is not at its '{start}' (first: row {row}, '{answer}' is "
                 "not at {given} {where}); correct the start or the answer text on those rows.",
    "not_found": "Left out {rows} of {name} whose answer does not occur in its context (first: row {row}, "
                 "'{answer}'); copy the answer exactly as the context writes it.",
    "ambiguous": "Left out {rows} of {name} whose answer occurs several times in its context with no start to say "
                 "which (first: row {row}, '{answer}' {count} times); fill in '{start}' for them.",
    "filled": "Filled in the start of {rows} of {name} without one in '{start}' from the only place their answer "
              "occurs in the context (first: row {row}); check them if that place could be wrong.",
    "start_only": "Read {rows} of {name} with a start but no answer in '{answer_column}' as questions the context "
                  "does not answer (first: row {row}); fill in the answer text if they have one.",
    "no_context": "Extractive QA needs a context column to find the answers in; choose one of: {columns}.",
    "roles_unknown": "Could not tell which column holds the {missing} for extractive QA (columns: {columns}); "
                     "choose it.",
    "column_twice": "'{column}' is chosen for two roles; the question, context, answer and answer start columns "
                    "must differ.",
    "squad_records": "The answer column '{column}' of {name} holds SQuAD records like {example}; write the first "
                     "answer's text and start into two columns, answer_text and answer_start.",
    "nothing_usable": "No row of {name} can be used ({reasons}); fix those rows or choose other columns.",
    "no_answers": "No question of {name} has an answer found in its context{reasons}, so there is no answer span "
                  "to learn from; add questions whose answer text occurs in their context.",
    "no_unanswerable": "{name} has no question without an answer (SQuAD 1.1 style), so the model seldom learns to "
                       "abstain and the no-answer metrics stay empty; that is fine, or add questions the context "
                       "does not answer.",
    "one_context": "Every question of {name} is about the same context, so none is left to evaluate on unseen text; "
                   "add questions about other contexts or upload a validation CSV.",
    "split_no_answers": "The hold-out of {name} left no answered question in training; choose another split seed "
                        "or upload a validation CSV.",
    "eval_no_answers": "The evaluation rows hold no answered question, so the has-answer metrics stay empty; choose "
                       "another split seed or add answered questions to the validation CSV.",
    "duplicates": "{name} has {rows} repeating the question and context of an earlier row{clash}; remove the "
                  "accidental ones.",
    "leaked": "The evaluation data has {rows} with the same question and context as a training row, which flatters "
              "its scores; remove the repeats from one side.",
})
_say, _fail = MESSAGES.say, MESSAGES.fail


# ---------------------------------------------------------------- columns

def guess_roles(frame: pd.DataFrame, chosen: dict | None = None) -> dict:
    """Question, context, answer and answer start columns: those in `chosen` kept, the others found by header name
    (None when no header says)."""
    return columns.match_headers(frame, {role: (chosen or {}).get(role) or None for role in ROLE_HINTS}, ROLE_HINTS)


def looks_like_qa(frame: pd.DataFrame) -> bool:
    """Whether a table reads as extractive QA by its headers: a question (question, query), a context (context,
    passage, paragraph) and an answer (answer_text, answer, answers), plus either an answer start (answer_start,
    answer_start_char, start, start_char, offset...) or answers that mostly occur in their contexts, so that a
    yes/no "answer" column beside a passage (BoolQ) is not taken for spans."""
    roles = guess_roles(frame)
    if not all(roles[role] for role in SPAN_ROLES):
        return False
    if roles["answer_start_column"]:
        return True
    head = frame.head(columns.GUESS_ROWS)
    answers, contexts = head[roles["label_column"]].str.strip(), head[roles["text_pair_column"]]
    given = answers != ""
    found = [answer in context for answer, context in zip(answers[given], contexts[given])]
    return bool(found) and 2 * sum(found) >= len(found)


def choose_roles(spec, frame: pd.DataFrame, name: str) -> dict:
    """The user's column choices, checked, completed from the headers; the start column may stay None."""
    available = ", ".join(map(str, frame.columns))
    chosen = {role: getattr(spec, role) for role in ROLE_HINTS}
    if chosen["text_pair_column"] == "":  # the user's "no second text": QA cannot do without
        raise _fail("no_context", columns=available)
    for column in filter(None, chosen.values()):
        if column not in frame.columns:
            raise columns.MESSAGES.fail("no_such_column", name=name, column=column, columns=available)
    roles = guess_roles(frame, chosen)
    missing = next((ROLE_NAMES[role] for role in SPAN_ROLES if roles[role] is None), None)
    if missing:
        raise _fail("roles_unknown", missing=missing, columns=available)
    used = [column for column in roles.values() if column]
    repeated = next((column for column in used if used.count(column) > 1), None)
    if repeated:
        raise _fail("column_twice", column=repeated)
    return roles


# ---------------------------------------------------------------- rows

def read_row(question: str, context: str, answer: str, start_cell: str) -> tuple[str, int, str, dict]:
    """(outcome, answer start, answer text, details for the message) of one row; outcomes in KEPT keep the row.

    An answer with no start is looked for in the context and kept when it occurs exactly once. A start with no
    answer is read as unanswerable: the answer text is what the model learns to point at, and a start alone gives
    no span; tools that write -1 (or another start) for a missing answer thus keep their unanswerable questions.
    """
    if not question.strip() or not context.strip():
        return "empty", -1, "", {}
    text, cell = answer.strip(), start_cell.strip()
    if not text:
        return ("unanswerable" if cell in ("", "-1") else "start_only"), -1, "", {}
    if not cell:
        count = context.count(text)
        if count == 1:
            return "filled", context.index(text), text, {}
        return ("not_found" if count == 0 else "ambiguous"), -1, "", {"count": count}
    start = _whole_number(cell)
    if start is None:
        return "not_a_number", -1, "", {"value": cell}
    if not 0 <= start < len(context):
        return "outside", -1, "", {"value": start, "length": len(context)}
    if context.startswith(answer, start):  # the cell as written, spaces and all: its start moves past the spaces
        return "answered", start + len(answer) - len(answer.lstrip()), text, {}
    if context.startswith(text, start):
        return "answered", start, text, {}
    found = _nearest(context, text, start)
    where = "and occurs nowhere in its context" if found is None else f"but found at {found}"
    return "misplaced", -1, "", {"given": start, "where": where}


def _whole_number(cell: str) -> int | None:
    """57, or 57.0 as spreadsheets write it; None for anything else."""
    try:
        number = float(cell)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _nearest(context: str, text: str, start: int) -> int | None:
    """The occurrence of text in context nearest to start: a start that is off by a little is easiest to fix."""
    places, at = [], context.find(text)
    while at >= 0:
        places.append(at)
        at = context.find(text, at + 1)
    return min(places, key=lambda place: abs(place - start)) if places else None


def read_rows(frame: pd.DataFrame, roles: dict, name: str) -> tuple[pd.DataFrame, list[str], dict[str, int]]:
    """The usable rows as question, context (as written: the offsets point into it), answer_text, answer_start,
    with the table's index kept so a row can be named; a warning per kind of row left out or changed; and the
    count of rows per outcome."""
    _check_answer_cells(frame, roles["label_column"], name)
    question, context, answer = (frame[roles[role]].fillna("") for role in SPAN_ROLES)
    starts = frame[roles["answer_start_column"]].fillna("") if roles["answer_start_column"] else [""] * len(frame)
    results = [read_row(*cells) for cells in zip(question, context, answer, starts)]
    outcomes = np.array([result[0] for result in results], dtype=object)
    rows = pd.DataFrame({"question": question.str.strip(), "context": context,
                         "answer_text": [result[2] for result in results],
                         "answer_start": np.array([result[1] for result in results], dtype=np.int64)},
                        index=frame.index)
    names = {"name": name, "question": roles["text_column"], "context": roles["text_pair_column"],
             "answer_column": roles["label_column"], "start": roles["answer_start_column"] or "answer_start"}
    warnings = []
    for outcome in [key for key in MESSAGES if key in set(outcomes)]:  # in the order of MESSAGES
        hits = np.flatnonzero(outcomes == outcome)
        first = int(hits[0])
        warnings.append(_say(outcome, rows=_rows(len(hits)), row=first + FIRST_DATA_ROW,
                             answer=_shortened(answer.iloc[first].strip()), **names, **results[first][3]))
    counts = {str(key): int(count) for key, count in zip(*np.unique(outcomes.astype(str), return_counts=True))}
    return rows[np.isin(outcomes.astype(str), KEPT)], warnings, counts


def _shortened(text: str) -> str:
    return text if len(text) <= SHOWN_ANSWER_CHARS else text[:SHOWN_ANSWER_CHARS - 1] + "…"


def _check_answer_cells(frame: pd.DataFrame, column: str, name: str) -> None:
    """SQuAD exports keep every answer in one record per cell; those need unpacking first."""
    given = frame[column][frame[column].str.strip() != ""]
    example = given.iloc[0].strip() if len(given) else ""
    if example.startswith("{") and "answer_start" in example:
        raise _fail("squad_records", column=column, name=name, example=_shortened(example))


def _left_out(counts: dict[str, int]) -> str:
    """"12 rows with the answer not at its start, 3 rows with ..." for the rows an error is about."""
    return ", ".join(f"{_rows(counts[key])} {reason}" for key, reason in LEFT_OUT.items() if counts.get(key))


# ---------------------------------------------------------------- splits and the report

def load_splits(spec, table, kind) -> Splits:
    """Training and evaluation rows of a QA table read by `reading.read_table`, and the report (naming `kind`);
    deterministic for a spec. Frames: question, context, answer_text ("" when unanswerable), answer_start (int, -1
    then)."""
    name = Path(spec.train_csv).name
    roles = choose_roles(spec, table.frame, name)
    rows, train, evaluation, split, warnings, tally = checks.train_and_eval(
        spec, table, roles, read_rows, _check_usable, _read_eval, split_by_context)
    _check_sides(rows, train, evaluation, name, warnings)
    duplicates, leaked = _repeats(rows, train, evaluation, name, warnings)
    train, evaluation = train.reset_index(drop=True), evaluation.reset_index(drop=True)
    report = ValidationReport(
        rows=len(train), eval_rows=len(evaluation), text_column=roles["text_column"],
        text_pair_column=roles["text_pair_column"], label_column=roles["label_column"], task=kind.name,
        task_name=kind.title, labels=None, label_counts=answer_counts(train),
        eval_label_counts=answer_counts(evaluation), label_stats=None, split=split, warnings=warnings,
        ragged_rows=tally["ragged_rows"], dropped_rows=tally["dropped_rows"], duplicate_rows=duplicates,
        leaked_rows=leaked, answer_start_column=roles["answer_start_column"], **table_facts(table),
    )
    return Splits(train, evaluation, kind.name, None, report)


def usable_rows(frame: pd.DataFrame, report) -> pd.DataFrame:
    """The rows of a checked table that training would use, in the table's order (the index is the table's), for
    previews; `report` is what `load_splits` said about that table."""
    roles = {role: getattr(report, role) for role in ROLE_HINTS}
    return read_rows(frame, roles, "")[0]


def answer_counts(rows: pd.DataFrame) -> dict[str, int]:
    answered = int((rows["answer_start"] >= 0).sum())
    return {"has answer": answered, "no answer": len(rows) - answered}


def _check_usable(rows: pd.DataFrame, counts: dict[str, int], name: str) -> None:
    if rows.empty:
        raise _fail("nothing_usable", name=name, reasons=_left_out(counts))
    if not (rows["answer_start"] >= 0).any():
        reasons = _left_out(counts)
        raise _fail("no_answers", name=name, reasons=f" (left out: {reasons})" if reasons else "")


def _read_eval(path: str, roles: dict, warnings: list, tally: dict) -> pd.DataFrame:
    """The validation CSV, read and checked like the training CSV, with the same columns."""
    rows, counts, name = checks.read_validation(path, roles, read_rows, warnings, tally)
    if rows.empty:
        raise _fail("nothing_usable", name=name, reasons=_left_out(counts))
    return rows


def split_by_context(rows: pd.DataFrame, fraction: float, seed: int, name: str):
    """Hold out the nearest whole `fraction` of the contexts (at least one, never all) at random with a fixed seed,
    with every question about them: evaluation then asks about text the model has not read in training, as its
    users will. Returns train, eval and the sentence the report shows."""
    keys = rows["context"].str.strip()
    contexts = keys.nunique()
    if contexts < 2:
        raise _fail("one_context", name=name)
    held = int(min(contexts - 1, max(1, np.floor(contexts * fraction + 0.5))))
    splitter = GroupShuffleSplit(n_splits=1, test_size=held, random_state=seed)  # held: a count of contexts
    _, eval_positions = next(splitter.split(rows, groups=keys))
    in_eval = np.zeros(len(rows), dtype=bool)
    in_eval[eval_positions] = True
    split = (f"hold-out of {held:,} of the {contexts:,} contexts of {name} ({fraction:.0%}, seed {seed}), "
             "grouped by context: all questions about a context are on one side, so evaluation contexts are unseen "
             "in training")
    return rows[~in_eval], rows[in_eval], split


def _check_sides(rows: pd.DataFrame, train: pd.DataFrame, evaluation: pd.DataFrame, name: str, warnings: list):
    """Training needs an answered question; a side without one kind of question leaves those metrics empty."""
    if not (train["answer_start"] >= 0).any():
        raise _fail("split_no_answers", name=name)
    if not (evaluation["answer_start"] >= 0).any():
        warnings.append(_say("eval_no_answers"))
    if (rows["answer_start"] >= 0).all() and (evaluation["answer_start"] >= 0).all():
        warnings.append(_say("no_unanswerable", name=name))


def _repeats(rows: pd.DataFrame, train: pd.DataFrame, evaluation: pd.DataFrame, name: str, warnings: list):
    """Rows repeating the question and context of an earlier row, and evaluation rows that training also has."""
    def keys(frame: pd.DataFrame) -> pd.Series:
        return frame["question"] + "\x1f" + frame["context"].str.strip()
    repeated = int(keys(rows).duplicated().sum())
    if repeated:
        answers = rows["answer_text"] + "\x1f" + rows["answer_start"].astype(str)
        clashing = int((answers.groupby(keys(rows)).nunique() > 1).sum())
        clash = f" ({clashing:,} of those with a different answer)" if clashing else ""
        warnings.append(_say("duplicates", name=name, rows=_rows(repeated), clash=clash))
    return repeated, checks.count_leaked(keys(train), keys(evaluation), warnings, MESSAGES)
