"""Token classification tables: both cell formats, detection, every malformed-row sentence, the I-without-B repair."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from backend.data.reading import read_table
from backend.schemas import DataSpec, StudioError
from backend.tasks.tokens import data as tokens_data
from tests.conftest import SAMPLE_DATA

# What the data module reads of its kind (the registry's kind is tests/tasks/test_tokens_kind.py's).
KIND = SimpleNamespace(name="token_classification", title="Token classification (named entities)")

GOOD = ["John lives in New York .,B-PER O O B-LOC I-LOC O",
        "Mary works at Acme .,B-PER O O B-ORG O",
        "Paris is big .,B-LOC O O O",
        "Acme hired John .,B-ORG O B-PER O",
        "Mary met Anna in Rome .,B-PER O B-PER O B-LOC O",
        "Anna flew to Los Angeles .,B-PER O O B-LOC I-LOC O",
        "Globex bought Acme .,B-ORG O B-ORG O",
        "We saw San Jose twice .,O O B-LOC I-LOC O O"]


def load(write_csv, lines: list[str], header: str = "tokens,tags", **spec):
    path = write_csv("\n".join([header, *lines]) + "\n")
    return tokens_data.load_splits(DataSpec(train_csv=str(path), **spec), read_table(path), KIND)


def test_space_separated_cells_become_lists_with_labels_o_first(write_csv):
    splits = load(write_csv, GOOD)
    assert splits.task == "token_classification"
    assert splits.labels == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    frame = pd.concat([splits.train, splits.eval])
    assert list(frame.columns) == ["tokens", "tags"]
    row = frame[frame["tokens"].map(lambda words: words[0] == "John")].iloc[0]
    assert row["tokens"] == ["John", "lives", "in", "New", "York", "."]
    assert row["tags"] == ["B-PER", "O", "O", "B-LOC", "I-LOC", "O"]
    assert (splits.report.rows, splits.report.eval_rows) == (6, 2)
    assert sum(splits.report.label_counts.values()) == sum(len(tags) for tags in splits.train["tags"])


def test_json_and_python_list_cells(write_csv):
    lines = ['"[""John"", ""lives"", ""in"", ""Rome""]","[""B-PER"", ""O"", ""O"", ""B-LOC""]"',
             "\"['Mary', 'works', 'at', 'Acme']\",\"['B-PER', 'O', 'O', 'B-ORG']\"",
             *GOOD]
    splits = load(write_csv, lines, eval_fraction=0.2)
    frame = pd.concat([splits.train, splits.eval])
    assert ["John", "lives", "in", "Rome"] in frame["tokens"].tolist()
    assert ["B-PER", "O", "O", "B-ORG"] in frame["tags"].tolist()
    assert splits.report.warnings == []


@pytest.mark.parametrize("cell, items", [("a b  c", ["a", "b", "c"]), ('["New York", "is"]', ["New York", "is"]),
                                         ("[1987, 'x']", ["1987", "x"]), ("", []), ("[oops", None)])
def test_parse_cell(cell, items):
    assert tokens_data.parse_cell(cell) == items


def test_detection_by_name_and_by_content():
    named = pd.DataFrame({"tokens": ["John lives here", "Ann is"], "tags": ["B-PER O O", "B-PER O"]})
    unnamed = pd.DataFrame({"id": ["1", "2"], "sentence": ["John lives here", "Ann is"],
                            "bio": ["B-PER O O", "B-PER O"]}).rename(columns={"bio": "column_b"})
    topics = pd.DataFrame({"text": ["match report", "budget vote"], "tags": ["sports news", "politics news"]})
    assert tokens_data.looks_like_tokens(named)
    assert tokens_data.looks_like_tokens(unnamed)
    assert tokens_data.guess_roles(unnamed) == {"text_column": "sentence", "label_column": "column_b"}
    assert not tokens_data.looks_like_tokens(topics)  # a multi-label "tags" column is not IOB2


def test_mismatched_counts_name_the_row_and_both_counts(write_csv):
    splits = load(write_csv, [*GOOD, "Ann sings,B-PER O O"])
    assert ("Left out 1 row of data.csv whose tokens and tags differ in number (first: row 10, 2 tokens in 'tokens' "
            "but 3 tags in 'tags'); give every token exactly one tag.") in splits.report.warnings
    assert splits.report.dropped_rows == 1


@pytest.mark.parametrize("line, expected", [
    ("Ann sings,B-PER X", "Left out 1 row of data.csv with tags that are not O, B-TYPE or I-TYPE (first: row 10, "
                          "'X'); write IOB2 tags: B- on an entity's first word, I- on the rest, O outside entities."),
    ("Ann sings,S-PER O", "Left out 1 row of data.csv with BIOES or BILOU tags (first: row 10, 'S-PER'); convert "
                          "them to IOB2: S- and U- become B-, E-, L- and M- become I-."),
    ("Ann sings,", "Left out 1 row of data.csv with no tokens in 'tokens' or no tags in 'tags' (first: row 10); "
                   "fill those cells in to use them."),
    ('"[""Ann"", ""sings""",B-PER O', "Left out 1 row of data.csv with a cell that starts like a list but cannot be "
                                      "read as one (first: row 10, '[\"Ann\", \"sings\"'); write a JSON list like "
                                      "[\"John\", \"lives\"] or space-separated words."),
])
def test_every_malformed_row_gets_one_sentence(write_csv, line, expected):
    splits = load(write_csv, [*GOOD, line])
    assert expected in splits.report.warnings
    assert splits.report.rows + splits.report.eval_rows == len(GOOD)


def test_i_without_b_is_repaired_with_a_count(write_csv):
    splits = load(write_csv, [*GOOD, "Ann Lee met Bo in Oslo,I-PER I-PER O I-PER O B-LOC",
                              "We saw Rome Town,O O B-PER I-LOC"])
    frame = pd.concat([splits.train, splits.eval])
    tags = dict(zip(frame["tokens"].map(" ".join), frame["tags"]))
    assert tags["Ann Lee met Bo in Oslo"] == ["B-PER", "I-PER", "O", "B-PER", "O", "B-LOC"]
    assert tags["We saw Rome Town"] == ["O", "O", "B-PER", "B-LOC"]
    assert ("Read 3 I- tags without a B- or I- of their type before them as an entity's first word (B-), as CoNLL "
            "evaluation does, in 2 rows of data.csv (first: row 10, 'I-PER' on 'Ann'); write B- there to be sure "
            "that is meant.") in splits.report.warnings


def test_tags_seen_once_are_named(write_csv):
    splits = load(write_csv, [*GOOD, "The Fair opens,O B-EVENT O"], eval_fraction=0.1)
    rare = [w for w in splits.report.warnings if w.startswith("Tags seen only once")]
    assert rare and "'B-EVENT' (row 10)" in rare[0] and rare[0].endswith("from one word.")


def test_whole_table_failures(write_csv):
    with pytest.raises(StudioError, match=r"^No sentence of data.csv tags an entity \(every tag is O\)"):
        load(write_csv, ["a b,O O", "c d,O O"])
    with pytest.raises(StudioError, match=r"^No row of data.csv can be used \(2 rows whose tokens and tags differ"):
        load(write_csv, ["a b,O", "c d,O"])
    with pytest.raises(StudioError, match=r"^The tags in 'ner_tags' of data.csv are numbers like '\[3, 0\]'"):
        load(write_csv, ['a b,"[3, 0]"', 'c d,"[0, 0]"'], header="tokens,ner_tags")
    with pytest.raises(StudioError, match="too few sentences"):
        load(write_csv, GOOD[:1])


def test_duplicates_and_leaks_are_counted(write_csv):
    splits = load(write_csv, [*GOOD, GOOD[0], GOOD[0].replace("B-PER", "B-ORG")], eval_fraction=0.4)
    assert any(w.startswith("data.csv has 2 rows repeating the tokens of an earlier row (1 of those with different "
                            "tags)") for w in splits.report.warnings)
    assert splits.report.duplicate_rows == 2


def test_sample_data_reads_cleanly():
    path = SAMPLE_DATA / "ner_people_places.csv"
    table = read_table(path)
    assert tokens_data.looks_like_tokens(table.frame)
    splits = tokens_data.load_splits(DataSpec(train_csv=str(path)), table, KIND)
    assert splits.labels == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert splits.report.rows + splits.report.eval_rows == 250 and splits.report.warnings == []
