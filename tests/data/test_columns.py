"""Column roles from content: two columns of free text and a label column are a pair whatever the headers say, and a
text column the roles leave unread is named in a warning, never dropped silently."""
from __future__ import annotations

import random

import pytest

from backend.schemas import DataSpec
from backend.tasks import loading

SUBJECTS = "the chef,a child,my neighbour,the old dog,a tired nurse,our teacher".split(",")
ACTIONS = "cooks dinner slowly,reads a long book,walks in the park,sings a quiet song,paints the front door".split(",")


def pair_rows(count: int = 40, seed: int = 0) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        first = f"{rng.choice(SUBJECTS)} {rng.choice(ACTIONS)} on day {i}"
        same = i % 2 == 0
        second = first.replace(" on day", " during day") if same else f"{rng.choice(SUBJECTS)} {rng.choice(ACTIONS)}"
        rows.append((first, second, "same" if same else "different"))
    return rows


def table(write_csv, header: list[str], rows) -> str:
    lines = [",".join(header)] + [",".join(f'"{cell}"' for cell in row) for row in rows]
    return str(write_csv("\n".join(lines) + "\n", name="pairs.csv"))


@pytest.mark.parametrize("first,second,label", [
    ("first", "second", "relation"), ("a", "b", "c"), ("col1", "col2", "col3"),
    ("sentence1", "sentence2", "label"), ("text_a", "text_b", "label"),
])
def test_two_free_text_columns_and_labels_are_read_as_a_pair(write_csv, first, second, label):
    report = loading.validate(DataSpec(train_csv=table(write_csv, [first, second, label], pair_rows())))
    assert (report.text_column, report.text_pair_column, report.label_column) == (first, second, label)
    assert report.task == "pair_classification"
    assert not [warning for warning in report.warnings if "not used" in warning]


def test_the_label_column_may_come_first(write_csv):
    rows = [(label, first, second) for first, second, label in pair_rows()]
    report = loading.validate(DataSpec(train_csv=table(write_csv, ["relation", "first", "second"], rows)))
    assert (report.text_column, report.text_pair_column, report.label_column) == ("first", "second", "relation")


def test_an_id_column_and_sparse_notes_beside_the_text(write_csv):
    rows = [(f"T-{i:03d}", first, f"checked twice by reader number {i}" if i % 5 == 0 else "", label)
            for i, (first, _, label) in enumerate(pair_rows())]
    report = loading.validate(DataSpec(train_csv=table(write_csv, ["id", "text", "notes", "label"], rows)))
    assert (report.text_column, report.text_pair_column, report.label_column) == ("text", None, "label")
    assert report.task == "text_classification"
    unused = [warning for warning in report.warnings if "not used" in warning]
    assert unused == ["Column 'notes' of pairs.csv holds text too but is not used; to use it, choose it as the second "
                      "text column (the model then reads it beside 'text')."]


def test_a_second_text_left_out_by_the_chosen_task_is_named(write_csv):
    spec = DataSpec(train_csv=table(write_csv, ["first", "second", "relation"], pair_rows()),
                    task="text_classification")
    report = loading.validate(spec)
    assert (report.text_column, report.text_pair_column) == ("first", None)
    assert any("Column 'second' of pairs.csv holds text too but is not used" in warning for warning in report.warnings)


def test_one_text_and_a_label_stay_single_text(write_csv):
    rows = [(first, label) for first, _, label in pair_rows()]
    report = loading.validate(DataSpec(train_csv=table(write_csv, ["first", "relation"], rows)))
    assert (report.text_column, report.text_pair_column, report.task) == ("first", None, "text_classification")
    assert not [warning for warning in report.warnings if "not used" in warning]
