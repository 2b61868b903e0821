"""backend.data.checks and backend.tasks.loading: reading hostile CSVs, guessing columns and task, checking labels,
the split and the report."""
from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest

from backend import tasks
from backend.data import reading as csv_reading
from backend.data.columns import guess_columns
from backend.data.reading import read_table
from backend.schemas import DataSpec, StudioError
from backend.tasks import loading as data
from backend.tasks.loading import detect_task, load_splits, validate
from tests.conftest import FIXTURES, SAMPLE_DATA

MALFORMED = FIXTURES / "malformed"

# Files that cannot be used: the sentence must say what is wrong (spec overrides where the file alone is fine).
UNUSABLE = [
    ("binary.csv", "contains NUL bytes", {}),
    ("nul_bytes.csv", "contains NUL bytes", {}),
    ("gzip_renamed.csv", "looks like a gzip archive", {}),
    ("zip_renamed.csv", "looks like a zip archive or an Excel .xlsx workbook", {}),
    ("xls_renamed.csv", "looks like an old Excel .xls workbook", {}),
    ("pdf_renamed.csv", "looks like a PDF document", {}),
    ("png_renamed.csv", "looks like a PNG image", {}),
    ("sqlite_renamed.csv", "looks like an SQLite database", {}),
    ("parquet_renamed.csv", "looks like a Parquet file", {}),
    ("utf16_no_bom.csv", "UTF-16 text without a byte-order mark", {}),
    ("utf16_bad_bom.csv", "starts with a UTF-16 byte-order mark but is not valid UTF-16", {}),
    ("control_characters.csv", "full of control characters", {}),
    ("empty.csv", "empty.csv is empty", {}),
    ("whitespace_only.csv", "whitespace_only.csv is empty", {}),
    ("only_delimiters.csv", "has no column names in its first row", {}),
    ("header_only.csv", "has a header (text, label) but no data rows", {}),
    ("one_column.csv", "has only one column (text)", {}),
    ("unclosed_quote.csv", "A quoted cell from line 3 of unclosed_quote.csv never closes", {}),
    ("stray_quote.csv", "Line 2 of stray_quote.csv has text right after a closing quote", {}),
    ("mostly_ragged.csv", "Most rows of mostly_ragged.csv (3 of 4) do not have the 2 cells", {}),
    ("single_class.csv", "holds only 'positive', so there is nothing to learn", {}),
    ("label_all_unique.csv", "like an id column; choose another label column (for example 'topic')", {}),
    ("all_texts_empty.csv", "No row of all_texts_empty.csv has both a text", {}),
    ("too_few_rows.csv", "too few rows (2) to hold any out for evaluation", {}),
    ("regression_text_labels.csv", "Regression needs numeric labels, but 'score' of regression_text_labels.csv "
     "holds 'high'", {"task": "regression"}),
]

# Files that can be used, with the note they must carry (None: no note at all) and how they were read.
READABLE = [
    ("utf8_bom.csv", None, {"encoding": "utf-8-sig", "columns": ["text", "label"]}),
    ("utf16_bom.csv", None, {"encoding": "utf-16", "columns": ["text", "label"]}),
    ("cp1252.csv", "not valid UTF-8 (first bad byte at position 16), so it was read as cp1252", {"encoding": "cp1252"}),
    ("semicolon.csv", None, {"delimiter": ";", "columns": ["text", "label"]}),
    ("tab.csv", None, {"delimiter": "\t", "columns": ["text", "label"]}),
    ("pipe.csv", None, {"delimiter": "|", "columns": ["text", "label"]}),
    ("some_ragged.csv", "Left out 1 row of some_ragged.csv (first on line 3) without the 2 cells", {"ragged_rows": 1}),
    ("duplicate_header.csv", "so column 3 is called 'text_2' here", {"columns": ["text", "label", "text_2"]}),
    ("blank_header.csv", "Column 2 of blank_header.csv has no name", {"columns": ["text", "column_2", "label"]}),
    ("trailing_delimiter.csv", None, {"columns": ["text", "label"]}),
    ("crlf_quoted_newline.csv", None, {"columns": ["text", "label"]}),
    ("formula_cells.csv", None, {"columns": ["text", "label"]}),
]


def rows_csv(rows: list[tuple], header: str = "text,label") -> str:
    return header + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows)


def reviews(count: int, classes=("positive", "negative")) -> list[tuple]:
    return [(f"review number {i} about the film", classes[i % len(classes)]) for i in range(count)]


def walk_types(value) -> set[type]:
    if isinstance(value, dict):
        return {dict}.union(*(walk_types(k) | walk_types(v) for k, v in value.items()))
    if isinstance(value, list):
        return {list}.union(*(walk_types(v) for v in value))
    return {type(value)}


# ---------------------------------------------------------------- the malformed corpus

@pytest.mark.parametrize("name, fragment, overrides", UNUSABLE, ids=[case[0] for case in UNUSABLE])
def test_unusable_file_gets_a_specific_sentence(name, fragment, overrides):
    with pytest.raises(StudioError) as caught:
        validate(DataSpec(str(MALFORMED / name), **overrides))
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message and message.endswith(".") and "Traceback" not in message


@pytest.mark.parametrize("name, note, expected", READABLE, ids=[case[0] for case in READABLE])
def test_readable_file_is_read_with_its_note(name, note, expected):
    table = read_table(MALFORMED / name)
    report = {"encoding": table.encoding, "delimiter": table.delimiter, "ragged_rows": table.ragged_rows,
              "columns": list(table.frame.columns)}
    assert {key: report[key] for key in expected} == expected
    assert [n for n in table.notes if note in n] if note else table.notes == []
    assert all(isinstance(cell, str) for row in table.frame.itertuples(index=False) for cell in row)


def test_corpus_has_at_least_twenty_hostile_files():
    assert len(list(MALFORMED.iterdir())) >= 20


@pytest.mark.parametrize("path", sorted(MALFORMED.iterdir()), ids=lambda path: path.name)
def test_validating_leaves_the_file_byte_identical(path):
    before, stat = path.read_bytes(), path.stat()
    try:
        validate(DataSpec(str(path)))
    except StudioError:
        pass
    assert path.read_bytes() == before and path.stat().st_mtime_ns == stat.st_mtime_ns


def test_formula_cells_stay_plain_text():
    splits = load_splits(DataSpec(str(MALFORMED / "formula_cells.csv"), eval_fraction=0.5))
    texts = set(splits.train["text"]) | set(splits.eval["text"])
    assert texts == {'=HYPERLINK("http://x.test")', "+1 would buy again", "-10/10 never again",
                     "@everyone this is great"}


def test_quoted_newline_and_crlf_stay_inside_the_cell():
    frame = read_table(MALFORMED / "crlf_quoted_newline.csv").frame
    assert frame["text"][0] == "Line one\r\nline two, loved it" and len(frame) == 4


# ---------------------------------------------------------------- size and speed

def refusal_cost(path: Path, match: str) -> tuple[float, int]:
    """Seconds and peak traced bytes that read_table takes to refuse `path` with a message matching `match`."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(StudioError, match=match):
            read_table(path)
        return time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_hundred_thousand_columns_fail_fast_in_small_memory(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(100_000)) + "\n" + ",".join("x" * 100_000) + "\n")
    elapsed, peak = refusal_cost(path, "has 100,000 columns, more than the 1,000 allowed")
    assert elapsed < 5 and peak < 20 * path.stat().st_size


def test_one_enormous_cell_fails_fast_in_small_memory(tmp_path):
    path = tmp_path / "huge_cell.csv"
    path.write_text("text,label\n" + "word " * 6_000_000 + ",positive\nshort,negative\n")
    elapsed, peak = refusal_cost(path, "A cell on line 2 of huge_cell.csv is longer than 131,072 characters")
    assert elapsed < 5 and peak < 4 * path.stat().st_size  # the bytes, the decoded line and its pieces


def test_quote_left_open_in_a_big_file_names_its_line(tmp_path):
    path = tmp_path / "runaway.csv"
    opened = '"this quote never ends,positive\n'
    path.write_text(rows_csv(reviews(5)) + opened + rows_csv(reviews(20_000), header="x,y"))
    with pytest.raises(StudioError, match="A quoted cell from line 7 of runaway.csv runs on for"):
        read_table(path)


def test_file_above_the_byte_cap_is_refused_before_reading(write_csv):
    path = write_csv(rows_csv(reviews(2000)))
    with pytest.raises(StudioError, match=r"data.csv is 0.1 MB, above the 0.0 MB limit; use a sample"):
        read_table(path, max_bytes=1000)


def test_too_many_rows_are_refused(write_csv):
    assert len(read_table(write_csv(rows_csv(reviews(10))), max_rows=10).frame) == 10
    with pytest.raises(StudioError, match="has more than 10 rows; use a sample"):
        read_table(write_csv(rows_csv(reviews(11))), max_rows=10)


@pytest.mark.parametrize("chunk", [5, 6, 7])  # two-byte letters and the bad byte fall on chunk ends
def test_encoding_is_checked_in_chunks_with_exact_positions(write_csv, monkeypatch, chunk):
    monkeypatch.setattr(csv_reading, "DECODE_CHUNK", chunk)
    text = rows_csv([("café crème", "a"), ("naïve", "b")] * 3)
    assert read_table(write_csv(text)).encoding == "utf-8"
    table = read_table(write_csv(text.encode() + "déjà,b\n".encode("cp1252")))
    assert table.encoding == "cp1252" and table.frame["text"].iloc[-1] == "déjà"
    assert f"first bad byte at position {len(text.encode()) + 1:,})" in table.notes[0]
    assert read_table(write_csv(text.encode("utf-16"))).frame["text"].tolist() == ["café crème", "naïve"] * 3


def test_long_lines_read_in_pieces_keep_their_cells_and_limits(write_csv, monkeypatch):
    monkeypatch.setattr(csv_reading, "LINE_PIECE", 1000)
    long_text = 'a long review, with commas and ""quotes"", ' * 3000  # 123,000 characters read: under the limit
    frame = read_table(write_csv(rows_csv(reviews(3)) + f'"{long_text}\r\nsecond line",neutral\r\n')).frame
    assert frame["text"].iloc[-1] == long_text.replace('""', '"') + "\r\nsecond line" and len(frame) == 4
    with pytest.raises(StudioError, match="A cell on line 2 of data.csv is longer than 131,072 characters"):
        read_table(write_csv("text,label\n" + "x" * 200_000 + ",a\n"))  # the stretch adds up over 200 pieces
    with pytest.raises(StudioError, match="Line 3 of data.csv has more than 100,000 commas, far more than the 1,000"):
        read_table(write_csv("text,label\nok,a\n" + "a," * 150_000 + "\n"))


def test_quote_left_open_before_a_long_line_names_where_it_opened(write_csv):
    path = write_csv(rows_csv(reviews(2)) + '"opened,positive\n' + "x" * 300_000 + "\n")
    with pytest.raises(StudioError, match="A quoted cell from line 4 of data.csv runs on for 2 lines"):
        read_table(path)


def test_hundred_thousand_rows_validate_in_seconds(write_csv):
    rows = [(f'"Review {i}, with a comma"', ["good", "bad", "meh"][i % 3]) for i in range(100_000)]
    path = write_csv(rows_csv(rows))
    started = time.perf_counter()
    report = validate(DataSpec(str(path)))
    assert time.perf_counter() - started < 6
    assert report.rows + report.eval_rows == 100_000 and abs(report.eval_rows - 20_000) <= 3


def test_missing_file_and_folder_are_sentences(tmp_path):
    with pytest.raises(StudioError, match="nope.csv could not be read"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(StudioError, match="is a folder, not a CSV file"):
        read_table(tmp_path)


# ---------------------------------------------------------------- columns and task

@pytest.mark.parametrize("header, expected", [
    ("text,label", ("text", None, "label")),
    ("review,sentiment", ("review", None, "sentiment")),
    ("Sentence 1,Sentence 2,Score", ("Sentence 1", "Sentence 2", "Score")),
    ("id,question1,question2,is_duplicate", ("question1", "question2", "is_duplicate")),
    ("premise,hypothesis,gold_label", ("premise", "hypothesis", "gold_label")),
    ("label,review_text", ("review_text", None, "label")),
    ("customer_comment,category", ("customer_comment", None, "category")),
])
def test_guess_columns_from_header_names(write_csv, header, expected):
    frame = read_table(write_csv(header + "\n" + ",".join(["a", "b", "c", "d"][: header.count(",") + 1]))).frame
    guess = guess_columns(frame)
    assert (guess["text_column"], guess["text_pair_column"], guess["label_column"]) == expected


def test_guess_columns_from_content_without_hints(write_csv):
    rows = [(i, f"a fairly long piece of writing number {i}", ["x", "y"][i % 2]) for i in range(30)]
    frame = read_table(write_csv(rows_csv(rows, header="a,b,c"))).frame
    assert guess_columns(frame) == {"text_pair_column": None, "label_column": "c", "text_column": "b"}


@pytest.mark.parametrize("labels, pair, task", [
    (["0", "1", "1", "0"], None, "text_classification"),
    (["1", "2", "3", "4", "5"], None, "text_classification"),
    (["pos", "neg"], "text_b", "pair_classification"),
    (["0.5", "4.2", "3.0", "1.25"], "sentence2", "regression"),
    ([str(i) for i in range(40)], None, "regression"),
    (["1.0", "0.0", "1.0"], None, "text_classification"),
])
def test_detect_task(labels, pair, task):
    import pandas as pd
    frame = pd.DataFrame({"label": labels, "text_b": ["t"] * len(labels), "sentence2": ["t"] * len(labels)})
    assert detect_task(frame, "label", pair) == task and task in tasks.titles()


def test_user_columns_override_the_guess(write_csv):
    rows = [(f"title {i}", f"body text of item {i}", ["a", "b"][i % 2], f"g{i % 3}") for i in range(30)]
    path = write_csv(rows_csv(rows, header="text,body,label,group"))
    report = validate(DataSpec(str(path), text_column="body", label_column="group"))
    assert (report.text_column, report.label_column, report.labels) == ("body", "group", ["g0", "g1", "g2"])


@pytest.mark.parametrize("overrides, fragment", [
    ({"label_column": "stars"}, "data.csv has no column 'stars'; its columns are: text, label."),
    ({"task": "pair_classification"}, "needs a second text column; choose one of: text, label."),
    ({"task": "summarise"}, "Unknown task 'summarise'; choose one of: text_classification"),
    ({"eval_fraction": 1.5}, "The eval fraction must be between 0 and 1 (it is 1.5)"),
    ({"text_column": "label", "label_column": "label"}, "'label' is chosen for two roles"),
    ({"task": "text_classification", "text_pair_column": "label"}, "uses no second text, but 'label' was chosen"),
])
def test_impossible_choices_are_sentences(write_csv, overrides, fragment):
    with pytest.raises(StudioError) as caught:
        validate(DataSpec(str(write_csv(rows_csv(reviews(20)))), **overrides))
    assert fragment in str(caught.value)


def test_text_classification_choice_ignores_a_guessed_pair_column(write_csv):
    rows = [(f"first {i}", f"second {i}", ["a", "b"][i % 2]) for i in range(20)]
    path = write_csv(rows_csv(rows, header="sentence1,sentence2,label"))
    assert validate(DataSpec(str(path))).task == "pair_classification"
    report = validate(DataSpec(str(path), task="text_classification"))
    assert report.task == "text_classification" and report.text_pair_column is None


# ---------------------------------------------------------------- labels, cleaning and the split

def test_class_names_are_sorted_strings_even_for_numbers(write_csv):
    rows = [(f"text {i}", [0, 1, 2, 10][i % 4]) for i in range(40)]
    splits = load_splits(DataSpec(str(write_csv(rows_csv(rows)))))
    assert splits.labels == ["0", "1", "2", "10"]
    assert set(splits.train["label"]) == {"0", "1", "2", "10"} and splits.task == "text_classification"


def test_regression_labels_are_floats_and_split_at_random(write_csv):
    rows = [(f"a sentence {i}", f"another one {i}", round(i * 0.037 % 5, 2)) for i in range(100)]
    splits = load_splits(DataSpec(str(write_csv(rows_csv(rows, header="sentence1,sentence2,score")))))
    assert splits.task == "regression" and splits.labels is None
    assert splits.train["label"].dtype == float and list(splits.train.columns) == ["text", "text_pair", "label"]
    assert splits.report.split == "random hold-out of 20% of data.csv (seed 42)"
    assert splits.report.label_stats["max"] <= 5 and (len(splits.train), len(splits.eval)) == (80, 20)


def test_stratified_split_is_deterministic_and_keeps_class_shares(write_csv):
    path = write_csv(rows_csv(reviews(90, classes=("a", "a", "b"))))
    first, second = load_splits(DataSpec(str(path))), load_splits(DataSpec(str(path)))
    assert first.eval.equals(second.eval)
    assert first.report.eval_label_counts == {"a": 12, "b": 6} and first.report.label_counts == {"a": 48, "b": 24}
    other_seed = load_splits(DataSpec(str(path), split_seed=7))
    assert not other_seed.eval.equals(first.eval)
    assert not set(first.train["text"]) & set(first.eval["text"])


def test_class_too_small_to_split_stays_in_training_with_a_warning(write_csv):
    path = write_csv(rows_csv(reviews(40) + [("one of a kind", "rare"), ("two of a kind", "rare")]))
    splits = load_splits(DataSpec(str(path)))
    assert splits.report.label_counts["rare"] == 2 and splits.report.eval_label_counts["rare"] == 0
    assert any("not evaluated: 'rare' (2 rows)" in warning for warning in splits.report.warnings)


def test_every_class_keeps_a_training_row(write_csv):
    path = write_csv(rows_csv(reviews(6, classes=("a", "b", "c"))))
    report = validate(DataSpec(str(path), eval_fraction=0.9))
    assert all(count >= 1 for count in report.label_counts.values()) and report.eval_rows == 3


def test_rows_without_text_or_label_are_dropped_and_counted(write_csv):
    path = write_csv(rows_csv(reviews(20) + [("", "positive"), ("  ", "negative"), ("no label here", "")]))
    report = validate(DataSpec(str(path)))
    assert report.dropped_rows == 3 and report.rows + report.eval_rows == 20
    assert any("Left out 2 rows of data.csv with an empty text in 'text'" in w for w in report.warnings)
    assert any("Left out 1 row of data.csv with no label in 'label'" in w for w in report.warnings)


def test_duplicates_and_leaks_are_counted(write_csv):
    path = write_csv(rows_csv(reviews(20) + [("review number 1 about the film", "positive")] * 3))
    report = validate(DataSpec(str(path)))
    assert report.duplicate_rows == 3
    assert any("has 3 rows repeating the text of an earlier row (1 of those texts" in w for w in report.warnings)
    assert (report.leaked_rows > 0) == any("with the same text as a training row" in w for w in report.warnings)


def test_validation_csv_is_used_and_checked(tmp_path):
    train, evaluation = tmp_path / "train.csv", tmp_path / "val.csv"
    train.write_text(rows_csv(reviews(20)))
    evaluation.write_text(rows_csv(reviews(3) + [("something new", "neutral"), ("another new one", "positive")]))
    report = validate(DataSpec(str(train), eval_csv=str(evaluation)))
    assert report.split == "validation CSV val.csv" and report.rows == 20 and report.eval_rows == 4
    assert report.leaked_rows == 3 and report.dropped_rows == 1
    assert any("Left out 1 row of val.csv with labels the training data lacks ('neutral' (1 row))" in w
               for w in report.warnings)


def test_validation_csv_needs_the_same_columns(tmp_path):
    train, evaluation = tmp_path / "train.csv", tmp_path / "val.csv"
    train.write_text(rows_csv(reviews(20)))
    evaluation.write_text(rows_csv(reviews(4), header="review,label"))
    with pytest.raises(StudioError, match="val.csv has no column 'text'; its columns are: review, label."):
        validate(DataSpec(str(train), eval_csv=str(evaluation)))


def test_load_splits_agrees_with_validate(write_csv):
    path = write_csv(rows_csv(reviews(50, classes=("x", "y", "z"))))
    spec = DataSpec(str(path), eval_fraction=0.3, split_seed=3)
    splits = load_splits(spec)
    assert splits.report == validate(spec) and len(splits.eval) == splits.report.eval_rows


def test_report_is_json_safe(write_csv):
    report = validate(DataSpec(str(write_csv(rows_csv(reviews(30))))))
    values = report.to_dict()
    assert walk_types(values) <= {dict, list, str, int, float, type(None)}
    assert json.loads(json.dumps(values)) == values
    assert values["samples"][0] == {"text": "review number 0 about the film", "label": "positive"}


# ---------------------------------------------------------------- sample data

@pytest.mark.parametrize("name, task, labels", [
    ("sentiment_reviews.csv", "text_classification", ["negative", "neutral", "positive"]),
    ("paraphrase_pairs.csv", "pair_classification", ["not_paraphrase", "paraphrase"]),
    ("similarity_scores.csv", "regression", None),
    ("support_tickets_multilabel.csv", "multi_label_classification",
     ["account", "billing", "delivery", "technical", "urgent"]),
])
def test_sample_data_validates_cleanly(name, task, labels):
    report = validate(DataSpec(str(SAMPLE_DATA / name)))
    assert (report.task, report.labels, report.warnings) == (task, labels, [])
    assert 150 <= report.rows + report.eval_rows <= 400


def test_an_empty_pair_column_means_no_second_text_even_when_one_is_guessable(write_csv):
    path = write_csv("sentence1,sentence2,label\n" + "".join(f"good day {i},fine day {i},{'ab'[i % 2]}\n" for i in range(20)))
    assert data.validate(DataSpec(train_csv=str(path))).text_pair_column == "sentence2"
    report = data.validate(DataSpec(train_csv=str(path), text_pair_column=""))
    assert report.text_pair_column is None
    assert report.task == "text_classification"
