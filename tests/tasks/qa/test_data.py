"""backend.tasks.qa.data: extractive QA tables detected, every row problem as one sentence, the split grouped by
context."""
from __future__ import annotations

import csv
import json

import pandas as pd
import pytest

from backend.tasks import loading as data
from backend.data.reading import read_table
from backend.schemas import DataSpec, StudioError
from backend.tasks.qa import data as qa_data
from tests.conftest import FIXTURES, SAMPLE_DATA

HEADER = ["context", "question", "answer_text", "answer_start"]
CURIE = "Marie Curie was born in Warsaw in 1867."
NILE = "The Nile flows through Cairo and on to the sea."
TOKYO = "Tokyo is big. Tokyo is old."


def answered(context: str, question: str, answer: str) -> list[str]:
    return [context, question, answer, str(context.index(answer))]


# Good rows over three contexts: a first appended row is row 9 as a spreadsheet shows it (the header is row 1).
BASE = [
    answered(CURIE, "Where was Marie Curie born?", "Warsaw"),
    answered(CURIE, "When was she born?", "1867"),
    [CURIE, "Who was her husband?", "", ""],
    answered(NILE, "Which city does the Nile flow through?", "Cairo"),
    [NILE, "How long is the Nile?", "", ""],
    answered(TOKYO, "Which city is big?", "Tokyo"),
    [TOKYO, "How many people live there?", "", ""],
]
NEXT_ROW = len(BASE) + 2


def write_rows(path, rows, header=HEADER):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def qa_csv(tmp_path):
    def write(rows, header=HEADER, name="qa.csv"):
        return str(write_rows(tmp_path / name, rows, header))
    return write


# ---------------------------------------------------------------- detection and columns

@pytest.mark.parametrize("header", [
    HEADER,
    ["id", "title", "context", "question", "answer_text", "answer_start"],
    ["Passage", "Query", "Answer", "Start"],
    ["paragraph", "question", "answers", "answer_start_char"],
])
def test_qa_headers_are_detected(header):
    frame = pd.DataFrame([["x"] * len(header)], columns=header)
    assert qa_data.looks_like_qa(frame)


@pytest.mark.parametrize("columns", [
    {"question": ["Is it red?"], "answer": ["yes"], "label": ["1"]},  # a question-answer pair to classify
    {"question": ["Is the Nile long?"], "passage": [NILE], "answer": ["True"]},  # BoolQ: yes/no beside a passage
    {"text": ["hello"], "label": ["a"]},
])
def test_other_tables_are_not_taken_for_qa(columns):
    assert not qa_data.looks_like_qa(pd.DataFrame(columns))


def test_without_a_start_column_answers_found_in_their_contexts_mean_qa():
    frame = pd.DataFrame({"question": ["Where?", "When?"], "context": [CURIE, CURIE], "answer": ["Warsaw", "1867"]})
    assert qa_data.looks_like_qa(frame)


@pytest.mark.parametrize("name", ["sentiment_reviews.csv", "paraphrase_pairs.csv", "similarity_scores.csv"])
def test_the_other_samples_are_not_qa(name):
    assert not qa_data.looks_like_qa(read_table(SAMPLE_DATA / name).frame)
    assert data.validate(DataSpec(str(SAMPLE_DATA / name))).task != "extractive_qa"
    assert not qa_data.looks_like_qa(read_table(FIXTURES / "support_tickets.csv").frame)


def test_the_qa_sample_validates_cleanly():
    report = data.validate(DataSpec(str(SAMPLE_DATA / "qa_questions.csv")))
    assert (report.task, report.labels, report.warnings) == ("extractive_qa", None, [])
    assert (report.text_column, report.text_pair_column, report.label_column, report.answer_start_column) == (
        "question", "context", "answer_text", "answer_start")
    counts = {key: report.label_counts[key] + report.eval_label_counts[key] for key in report.label_counts}
    assert 250 <= sum(counts.values()) <= 350
    assert 0.25 <= counts["no answer"] / sum(counts.values()) <= 0.45


def test_chosen_columns_win_over_the_headers(qa_csv):
    header = ["ctx", "q", "ans", "pos"]
    path = qa_csv(BASE, header)
    spec = DataSpec(path, text_column="q", text_pair_column="ctx", label_column="ans", answer_start_column="pos")
    report = data.validate(spec)  # the headers say nothing, the answer start column says QA
    assert (report.task, report.answer_start_column, report.rows + report.eval_rows) == ("extractive_qa", "pos", 7)


@pytest.mark.parametrize("spec, fragment", [
    ({"text_pair_column": ""}, "Extractive QA needs a context column to find the answers in; choose one of: context"),
    ({"label_column": "nope"}, "qa.csv has no column 'nope'; its columns are: context, question"),
    ({"text_column": "question", "label_column": "question"}, "'question' is chosen for two roles"),
])
def test_column_choices_are_checked(qa_csv, spec, fragment):
    with pytest.raises(StudioError, match=fragment):
        data.validate(DataSpec(qa_csv(BASE), task="extractive_qa", **spec))


def test_a_role_no_header_names_must_be_chosen(qa_csv):
    path = qa_csv([row[:3] for row in BASE], ["context", "question", "reply"])
    with pytest.raises(StudioError, match=r"Could not tell which column holds the answer text for extractive QA "
                                          r"\(columns: context, question, reply\); choose it."):
        data.validate(DataSpec(path, task="extractive_qa"))


def test_squad_records_in_one_cell_are_refused_with_what_to_do(qa_csv):
    record = "{'text': array(['Warsaw'], dtype=object), 'answer_start': array([24], dtype=int32)}"
    path = qa_csv([[CURIE, "Where?", record]], ["context", "question", "answers"])
    with pytest.raises(StudioError, match="holds SQuAD records like .* into two columns, answer_text and answer_start"):
        data.validate(DataSpec(path, task="extractive_qa"))


# ---------------------------------------------------------------- rows

# (an appended row, the warning it gets or None, whether it is kept, and its answer start when kept)
ROWS = [
    ([TOKYO, "", "Tokyo", "0"], f"Left out 1 row of qa.csv with an empty question in 'question' or context in "
                                f"'context' (first: row {NEXT_ROW}); fill those cells in", False, None),
    (["  ", "Anything?", "", ""], "with an empty question", False, None),
    ([NILE, "Where?", "Cairo", "x"], f"whose 'answer_start' is not a whole number (first: row {NEXT_ROW}, 'x'); "
                                     "write the answer's character offset in the context, like 57.", False, None),
    ([NILE, "Where?", "Cairo", "2.5"], "is not a whole number", False, None),
    ([NILE, "Where?", "Cairo", "-3"], f"lies outside the context (first: row {NEXT_ROW}, -3 in a context of 47 "
                                      "characters); offsets count characters from 0.", False, None),
    ([NILE, "Where?", "Cairo", "400"], f"lies outside the context (first: row {NEXT_ROW}, 400 in", False, None),
    ([NILE, "Where?", "Cairo", "22"], f"Left out 1 row of qa.csv whose answer is not at its 'answer_start' (first: "
                                      f"row {NEXT_ROW}, 'Cairo' is not at 22 but found at 23); correct the start",
     False, None),
    ([NILE, "Where?", "Paris", "23"], "'Paris' is not at 23 and occurs nowhere in its context", False, None),
    ([NILE, "Where?", "Paris", ""], f"whose answer does not occur in its context (first: row {NEXT_ROW}, 'Paris'); "
                                    "copy the answer exactly as the context writes it.", False, None),
    ([TOKYO, "Which city?", "Tokyo", ""], f"whose answer occurs several times in its context with no start to say "
                                          f"which (first: row {NEXT_ROW}, 'Tokyo' 2 times); fill in 'answer_start'",
     False, None),
    ([NILE, "Where does it go?", "the sea", ""], f"Filled in the start of 1 row of qa.csv without one in "
                                                 f"'answer_start' from the only place their answer occurs in the "
                                                 f"context (first: row {NEXT_ROW})", True, NILE.index("the sea")),
    ([NILE, "Is it wide?", "", "5"], f"Read 1 row of qa.csv with a start but no answer in 'answer_text' as questions "
                                     f"the context does not answer (first: row {NEXT_ROW})", True, -1),
    ([NILE, "Is it wide?", "", "-1"], None, True, -1),  # -1 is a common way of writing "no answer"
    ([NILE, "Where?", " Cairo ", "22"], None, True, 23),  # the cell's spaces counted, then stripped
    ([NILE, "Where?", "Cairo", "23.0"], None, True, 23),  # as a spreadsheet may write 23
]


@pytest.mark.parametrize("row, warning, kept, start", ROWS)
def test_each_row_problem_has_one_sentence(qa_csv, row, warning, kept, start):
    splits = data.load_splits(DataSpec(qa_csv(BASE + [row]), eval_fraction=0.5))
    about_rows = [w for w in splits.report.warnings if w.startswith(("Left out", "Filled", "Read"))]
    assert len(about_rows) == (warning is not None) and all(warning in w for w in about_rows)
    rows = pd.concat([splits.train, splits.eval])
    assert len(rows) == len(BASE) + kept
    assert splits.report.dropped_rows == (not kept)
    if kept:
        last = rows[rows["question"] == row[1]].iloc[0]
        assert last["answer_start"] == start
        assert last["answer_text"] == (row[2].strip() if start >= 0 else "")
        assert start < 0 or row[0][start:start + len(last["answer_text"])] == last["answer_text"]


def test_warnings_count_rows_and_name_the_first(qa_csv):
    bad = [[NILE, f"Where {i}?", "Cairo", "22"] for i in range(3)]
    report = data.validate(DataSpec(qa_csv(BASE + bad)))
    assert f"Left out 3 rows of qa.csv whose answer is not at its 'answer_start' (first: row {NEXT_ROW}," in \
           " ".join(report.warnings)


def test_frames_hold_question_context_answer_text_and_start(qa_csv):
    splits = data.load_splits(DataSpec(qa_csv(BASE)))
    for frame in (splits.train, splits.eval):
        assert list(frame.columns) == ["question", "context", "answer_text", "answer_start"]
        assert frame["answer_start"].dtype.kind == "i"
        assert list(frame.index) == list(range(len(frame)))
    rows = pd.concat([splits.train, splits.eval])
    for _, row in rows.iterrows():
        if row["answer_start"] < 0:
            assert row["answer_text"] == ""
        else:
            assert row["context"][row["answer_start"]:].startswith(row["answer_text"])
    assert splits.task == "extractive_qa" and splits.labels is None


def test_offsets_are_python_string_indices_in_unicode_contexts(qa_csv):
    context = "Zoë moved to Köln 😀 in 2001, then to São Paulo."
    rows = [answered(context, "When did Zoë move?", "2001"), answered(context, "Where to next?", "São Paulo"),
            [context, "Why?", "", ""]] + BASE
    splits = data.load_splits(DataSpec(qa_csv(rows)))
    everything = pd.concat([splits.train, splits.eval])
    found = everything[everything["context"] == context].set_index("question")
    assert found.loc["When did Zoë move?", "answer_start"] == context.index("2001") == 23
    assert found.loc["Where to next?", "answer_text"] == "São Paulo"
    assert splits.report.warnings == []


def test_nothing_usable_says_why(qa_csv):
    path = qa_csv([[NILE, "Where?", "Cairo", "x"], [NILE, "", "", ""]])
    with pytest.raises(StudioError, match=r"No row of qa.csv can be used \(1 row with an empty question or context, "
                                          r"1 row with a start that is not a whole number\); fix those rows"):
        data.validate(DataSpec(path))


def test_without_any_answer_there_is_no_span_to_learn(qa_csv):
    rows = [[NILE, "How long?", "", ""], [CURIE, "Husband?", "", ""], [NILE, "Where?", "Cairo", "22"]]
    with pytest.raises(StudioError, match=r"No question of qa.csv has an answer found in its context \(left out: "
                                          r"1 row with the answer not at its start\), so there is no answer span"):
        data.validate(DataSpec(qa_csv(rows)))


def test_only_answered_questions_are_fine_but_said(qa_csv):
    report = data.validate(DataSpec(qa_csv([row for row in BASE if row[2]])))
    assert report.label_counts["no answer"] == report.eval_label_counts["no answer"] == 0
    assert any("no question without an answer (SQuAD 1.1 style)" in w and "no-answer metrics stay empty" in w
               for w in report.warnings)


def test_repeated_questions_on_one_context_are_counted(qa_csv):
    report = data.validate(DataSpec(qa_csv(BASE + [BASE[0], answered(CURIE, BASE[0][1], "1867")])))
    assert report.duplicate_rows == 2
    assert "qa.csv has 2 rows repeating the question and context of an earlier row (1 of those with a different " \
           "answer); remove the accidental ones." in report.warnings


# ---------------------------------------------------------------- the split

def many_contexts(count: int = 20) -> list[list[str]]:
    rows = []
    for number in range(count):
        context = f"Town {number} was founded in {1700 + number} by Ana {number}."
        rows += [answered(context, f"When was town {number} founded?", str(1700 + number)),
                 answered(context, f"Who founded town {number}?", f"Ana {number}"),
                 [context, f"How big is town {number}?", "", ""]]
    return rows


def test_the_hold_out_keeps_each_context_on_one_side(qa_csv):
    splits = data.load_splits(DataSpec(qa_csv(many_contexts()), eval_fraction=0.25, split_seed=7))
    train, evaluation = set(splits.train["context"]), set(splits.eval["context"])
    assert not train & evaluation
    assert (len(train), len(evaluation)) == (15, 5)
    assert (splits.report.rows, splits.report.eval_rows) == (45, 15)
    assert "hold-out of 5 of the 20 contexts of qa.csv (25%, seed 7), grouped by context" in splits.report.split
    assert "evaluation contexts are unseen in training" in splits.report.split
    assert splits.report.eval_label_counts == {"has answer": 10, "no answer": 5}
    again = data.load_splits(DataSpec(qa_csv(many_contexts()), eval_fraction=0.25, split_seed=7))
    assert again.eval.equals(splits.eval)
    other = data.load_splits(DataSpec(qa_csv(many_contexts()), eval_fraction=0.25, split_seed=8))
    assert set(other.eval["context"]) != evaluation


def test_a_tiny_file_still_holds_out_one_context_and_keeps_one(qa_csv):
    splits = data.load_splits(DataSpec(qa_csv(BASE[:5]), eval_fraction=0.9))
    assert (splits.train["context"].nunique(), splits.eval["context"].nunique()) == (1, 1)


def test_one_context_cannot_be_split(qa_csv):
    with pytest.raises(StudioError, match="Every question of qa.csv is about the same context, so none is left to "
                                          "evaluate on unseen text; add questions about other contexts or upload"):
        data.validate(DataSpec(qa_csv(BASE[:3])))


def test_a_validation_csv_is_read_the_same_way(qa_csv, tmp_path):
    evaluation = [answered(NILE, "Where?", "Cairo"), [NILE, "Where?", "Cairo", "3"], BASE[0]]
    path = str(write_rows(tmp_path / "dev.csv", evaluation))
    splits = data.load_splits(DataSpec(qa_csv(BASE), eval_csv=path))
    assert (splits.report.rows, splits.report.eval_rows, splits.report.split) == (7, 2, "validation CSV dev.csv")
    assert splits.report.dropped_rows == 1 and splits.report.leaked_rows == 1
    assert any(w.startswith("Left out 1 row of dev.csv whose answer is not at its 'answer_start' (first: row 3,")
               for w in splits.report.warnings)
    assert any("same question and context as a training row" in w for w in splits.report.warnings)


def test_a_validation_csv_needs_the_same_columns(qa_csv, tmp_path):
    path = str(write_rows(tmp_path / "dev.csv", [row[:3] for row in BASE], HEADER[:3]))
    with pytest.raises(StudioError, match="dev.csv has no column 'answer_start'"):
        data.validate(DataSpec(qa_csv(BASE), eval_csv=path))


def test_the_report_is_json_safe_and_complete(qa_csv):
    values = data.validate(DataSpec(qa_csv(BASE))).to_dict()
    assert json.loads(json.dumps(values)) == values
    assert values["task"] == "extractive_qa" and values["task_name"] == "Extractive question answering"
    assert values["labels"] is None and values["label_stats"] is None
    assert set(values["label_counts"]) == set(values["eval_label_counts"]) == {"has answer", "no answer"}
    assert values["samples"][0] == dict(zip(HEADER, BASE[0]))
    assert values["answer_start_column"] == "answer_start"


def test_no_second_text_reads_a_qa_looking_table_as_classification_unless_qa_is_asked_for(qa_csv):
    path = qa_csv(BASE * 2)
    assert data.validate(DataSpec(path, text_pair_column="")).task == "text_classification"
    with pytest.raises(StudioError, match="Extractive QA needs a context column"):
        data.validate(DataSpec(path, text_pair_column="", task="extractive_qa"))
