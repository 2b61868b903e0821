"""Multi-label classification: finding the labels (a separator or 0/1 columns), checking them, and a run end to end
through the command line (train, predict at a threshold, score a CSV, compare, export)."""
from __future__ import annotations

import csv
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from backend.__main__ import main
from backend.tasks.loading import load_splits, validate
from backend.data.reading import read_table
from backend.schemas import DataSpec, StudioError
from backend.serving import compare
from backend.tasks.multi_label import data as multilabel
from backend.training import runs
from tests.conftest import FIXTURES, SAMPLE_DATA

SAMPLE = SAMPLE_DATA / "support_tickets_multilabel.csv"
# Every CSV the project ships that is not multi-label: detection must leave all of them alone.
SINGLE_LABEL_CSVS = sorted(path for path in [*SAMPLE_DATA.glob("*.csv"), *FIXTURES.glob("*.csv"),
                                             *(FIXTURES / "malformed").glob("*.csv")] if path != SAMPLE)


def tickets(count: int = 24) -> list[tuple[str, str]]:
    """Support tickets with labels joined by |; every sixth needs nothing (an empty cell)."""
    kinds = ["billing", "account|urgent", "billing|technical", "technical", "", "urgent|billing"]
    return [(f"ticket {i} about {kinds[i % 6] or 'nothing'}", kinds[i % 6]) for i in range(count)]


def write(path, header: list[str], rows: list[tuple]) -> str:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    return str(path)


# ---------------------------------------------------------------- cells and detection

def test_a_cell_becomes_a_sorted_set_of_stripped_labels():
    assert multilabel.parse_cell(" urgent | billing||billing ", "|") == ("billing", "urgent")
    assert multilabel.parse_cell("", "|") == ()
    assert multilabel.parse_cell("Yes, definitely", None) == ("Yes, definitely",)
    hot = multilabel.multi_hot([("b",), (), ("a", "b")], ["a", "b"])
    assert hot.dtype == np.float32 and hot.tolist() == [[0, 1], [0, 0], [1, 1]]
    assert multilabel.label_counts([("b",), (), ("a", "b")], ["a", "b"]) == {"a": 1, "b": 2}
    assert multilabel.label_cardinality([("b",), (), ("a", "b")]) == 1.0


@pytest.mark.parametrize("cells, separator", [
    (["billing|urgent", "billing", "account|urgent", "account", "", "technical|billing"], "|"),
    (["sports; politics", "politics", "sports", "science; politics"], ";"),
    (["toxic, insult", "toxic", "insult, threat", "threat, toxic"], ","),
    # Classes whose parts never occur apart stay classes, however often they repeat.
    (["Yes, definitely", "No", "Maybe", "Yes, probably", "No, never"] * 5, None),
    (["Yes, definitely", "Yes", "No", "No, never"] * 5, None),
    (["Paris, France", "Lyon, France", "Berlin, Germany", "Munich, Germany"], None),
    (["1,000", "2,500", "3,000", "2,500"], None),  # numbers with a thousands separator are no labels
    (["the food was cold, late and the driver was rude to me", "fine, good", "good"], None),  # phrases, not labels
    (["positive", "negative", "neutral"], None),
])
def test_the_separator_is_found_only_where_labels_recombine(cells, separator):
    assert multilabel.detect_separator(pd.Series(cells, dtype="str")) == separator


def test_several_0_1_columns_beside_a_text_are_label_columns():
    frame = pd.DataFrame({"id": ["1", "2", "3"], "comment_text": ["you idiot", "nice", "go away or else"],
                          "toxic": ["1", "0", "1"], "insult": ["True", "false", "FALSE"],
                          "threat": ["no", "no", "yes"]},
                         dtype="str")
    assert multilabel.detect_label_columns(frame) == ["toxic", "insult", "threat"]
    # A column named like a single label makes the 0/1 columns features beside it; one 0/1 column is a label.
    assert multilabel.detect_label_columns(frame.rename(columns={"threat": "label"})) is None
    assert multilabel.detect_label_columns(frame.drop(columns=["insult", "threat"])) is None


@pytest.mark.parametrize("path", SINGLE_LABEL_CSVS, ids=lambda path: path.name)
def test_no_single_label_csv_of_the_project_reads_as_multi_label(path):
    try:
        frame = read_table(str(path)).frame
    except StudioError:
        return  # unreadable files never get as far as detection
    assert not multilabel.wanted(DataSpec(str(path)), frame)


# ---------------------------------------------------------------- validation

def test_a_separated_label_column_is_detected_and_read_as_label_sets(tmp_path):
    path = write(tmp_path / "t.csv", ["text", "labels"], tickets())
    splits = load_splits(DataSpec(path))
    report = splits.report
    assert splits.task == report.task == "multi_label_classification"
    assert splits.labels == report.labels == ["account", "billing", "technical", "urgent"]
    assert (report.label_separator, report.label_columns, report.label_column) == ("|", None, "labels")
    every = pd.concat([splits.train, splits.eval])
    assert set(every["label"]) == {("billing",), ("account", "urgent"), ("billing", "technical"), ("technical",), (),
                                   ("billing", "urgent")}
    assert report.rows + report.eval_rows == 24 and report.dropped_rows == 0  # rows with no label are kept
    assert report.label_counts == multilabel.label_counts(splits.train["label"], splits.labels)
    assert report.label_cardinality == multilabel.label_cardinality(splits.train["label"])
    assert "random hold-out" in report.split and report.warnings == []  # every label in both parts
    assert all(report.eval_label_counts.values()) and all(report.label_counts.values())
    json.dumps(report.to_dict())


def test_0_1_columns_are_read_with_true_false_and_yes_no(tmp_path):
    rows = [(f"comment number {i}", "1" if i % 2 else "0", ["true", "false"][i % 3 == 0], ["yes", "no", ""][i % 3])
            for i in range(30)]
    path = write(tmp_path / "toxic.csv", ["comment", "toxic", "obscene", "insult"], rows)
    report = validate(DataSpec(path))
    assert report.task == "multi_label_classification" and report.text_column == "comment"
    assert report.label_columns == ["toxic", "obscene", "insult"] and report.label_column == "toxic, obscene, insult"
    assert report.labels == ["insult", "obscene", "toxic"]
    first = load_splits(DataSpec(path, split_seed=1))
    row = pd.concat([first.train, first.eval]).set_index("text").loc["comment number 1", "label"]
    assert row == ("obscene", "toxic")  # toxic 1, obscene true, insult no
    # A spec filled in from the report (as the Data tab does) reads the same data: label_columns wins.
    again = DataSpec(path, label_column=report.label_column, label_columns=report.label_columns,
                     label_separator=report.label_separator, task=report.task)
    assert validate(again).to_dict() == report.to_dict()


@pytest.mark.parametrize("header, rows, spec, fragment", [
    (["text", "labels"], [(f"t{i}", "billing") for i in range(10)], {"task": "multi_label_classification"},
     "Every label in 'labels' of data.csv is 'billing', so there is nothing to tell apart"),
    (["text", "labels"], [(f"t{i}", "") for i in range(10)], {"task": "multi_label_classification"},
     "No row of data.csv has a label in 'labels'"),
    (["text", "toxic", "insult"], [("a", "1", "0"), ("b", "0", "1"), ("c", "2", "0")],
     {"label_columns": ["toxic", "insult"]},
     "The label column 'toxic' of data.csv holds '2' on row 4, but a label column takes only 0 or 1"),
    (["text", "labels"], tickets(), {"label_separator": ","},
     "No cell of 'labels' in data.csv contains the separator ',', but its cells are separated by '|'; "
     "choose that separator."),
    (["text", "labels"], [(f"t{i}", "ab"[i % 2]) for i in range(10)], {"label_separator": ";"},
     "No cell of 'labels' in data.csv contains the separator ';'; choose the separator its cells use"),
    (["text", "toxic", "insult"], [("a", "1", "0"), ("b", "0", "1")], {"label_columns": ["toxic"]},
     "needs two or more 0/1 label columns, but only 'toxic' was given"),
    (["text", "toxic", "insult"], [("a", "1", "0"), ("b", "0", "1")], {"label_columns": ["toxic", "threat"]},
     "data.csv has no column 'threat'; its columns are: text, toxic, insult"),
    (["text", "toxic", "insult"], [("a", "1", "0"), ("b", "0", "1")],
     {"label_columns": ["toxic", "insult"], "text_column": "insult"}, "'insult' is chosen for two roles"),
])
def test_unusable_labels_get_one_sentence_naming_the_place(tmp_path, header, rows, spec, fragment):
    path = write(tmp_path / "data.csv", header, rows)
    with pytest.raises(StudioError) as caught:
        validate(DataSpec(path, **spec))
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_labels_only_the_validation_csv_has_are_left_out_with_a_warning(tmp_path):
    train = write(tmp_path / "train.csv", ["text", "labels"], tickets())
    evaluation = write(tmp_path / "eval.csv", ["text", "labels"],
                       [("new one", "refund|billing"), ("another", "refund"), ("third", "technical")])
    splits = load_splits(DataSpec(train, eval_csv=evaluation))
    assert splits.eval["label"].tolist() == [("billing",), (), ("technical",)]  # the rows stay, 'refund' goes
    assert any("Left out labels of eval.csv that the training data lacks ('refund' (2 rows))" in warning
               for warning in splits.report.warnings)
    assert splits.report.eval_label_counts == {"account": 0, "billing": 1, "technical": 1, "urgent": 0}


def test_the_hold_out_keeps_a_training_row_of_every_label_and_scores_it_when_it_can(tmp_path):
    billing = [(f"ticket {i}", "billing") for i in range(20)]
    one = write(tmp_path / "one.csv", ["text", "labels"], billing + [("the only refund", "refund|billing")])
    two = write(tmp_path / "two.csv", ["text", "labels"],
                billing + [("a refund", "refund"), ("refund again", "refund")])
    held = set()
    for seed in range(8):
        report = validate(DataSpec(one, split_seed=seed, label_separator="|"))
        assert (report.label_counts["refund"], report.eval_label_counts["refund"]) == (1, 0)
        assert "not evaluated: 'refund'" in report.warnings[0]
        held.add(report.eval_rows)  # a fifth of 21 rows; one less when the refund row was drawn and given back
        report = validate(DataSpec(two, split_seed=seed, task="multi_label_classification"))
        assert (report.label_counts["refund"], report.eval_label_counts["refund"]) == (1, 1) and not report.warnings
    assert held <= {3, 4}


def test_repeated_and_leaked_texts_are_found_among_label_sets(tmp_path):
    rows = tickets() + [("ticket 1 about account|urgent", "account"), ("ticket 2 about billing|technical", "")]
    train = write(tmp_path / "train.csv", ["text", "labels"], rows)
    evaluation = write(tmp_path / "eval.csv", ["text", "labels"], [("ticket 3 about technical", "technical")])
    report = validate(DataSpec(train, eval_csv=evaluation))
    assert (report.duplicate_rows, report.leaked_rows) == (2, 1)
    assert any("2 rows repeating the text of an earlier row (2 of those texts with different labels)" in warning
               for warning in report.warnings)


def test_text_pairs_keep_their_second_text(tmp_path):
    rows = [(f"question {i}", f"reply {i}", label) for i, (_, label) in enumerate(tickets())]
    splits = load_splits(DataSpec(write(tmp_path / "pairs.csv", ["sentence1", "sentence2", "labels"], rows)))
    assert splits.report.text_pair_column == "sentence2"
    assert list(splits.train.columns) == ["text", "text_pair", "label"]


def test_the_task_decides_when_it_is_given(tmp_path):
    path = write(tmp_path / "t.csv", ["text", "labels"], tickets(30))
    single = validate(DataSpec(path, task="text_classification", label_separator="|"))
    assert single.task == "text_classification" and single.label_separator is None
    assert "billing|technical" in single.labels
    plain = write(tmp_path / "p.csv", ["text", "label"], [(f"review {i}", "ab"[i % 2]) for i in range(20)])
    assert validate(DataSpec(plain)).task == "text_classification"
    forced = validate(DataSpec(plain, task="multi_label_classification"))  # one label a row is a label set too
    assert forced.labels == ["a", "b"] and forced.label_separator is None and forced.label_cardinality == 1.0


def test_cli_validate_takes_a_separator_or_label_columns(tmp_path, capsys):
    path = write(tmp_path / "t.csv", ["text", "labels", "flag"], [(text, labels, "0") for text, labels in tickets()])
    assert main(["validate", path, "--label-separator", "|"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["task"], report["label_separator"], report["label_column"]) == ("multi_label_classification", "|",
                                                                                    "labels")
    rows = [("a rude one", "1", "yes"), ("a kind one", "0", "no"), ("rude and mean", "1", "yes"), ("fine", "0", "no")]
    toxic = write(tmp_path / "toxic.csv", ["text", "toxic", "insult"], rows)
    assert main(["validate", toxic, "--label-columns", "toxic, insult"]) == 0
    assert json.loads(capsys.readouterr().out)["label_columns"] == ["toxic", "insult"]
    assert main(["validate", toxic, "--label-columns", "toxic,threat"]) == 2
    assert "no column 'threat'" in capsys.readouterr().err


# ---------------------------------------------------------------- end to end through the command line

@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory, tiny_model_dir):
    """Two runs of the tiny model on the sample, trained by `python -m backend train` (detected as multi-label)."""
    root = tmp_path_factory.mktemp("multilabel-cli")
    for seed, name in ((1, "a"), (2, "b")):
        assert main(["train", "--train-csv", str(SAMPLE), "--model", str(tiny_model_dir), "--max-steps", "12",
                     "--batch-size", "16", "--max-length", "40", "--learning-rate", "5e-3", "--precision", "fp32",
                     "--seed", str(seed), "--output-dir", str(root / name)]) == 0
    return root / "a", root / "b"


def test_training_writes_multi_label_results_and_a_sigmoid_head(cli_runs):
    results = runs.read_results(cli_runs[0])
    assert results["task"] == "multi_label_classification" and results["main_metric"] == "micro_f1"
    assert {"micro_f1", "macro_f1", "subset_accuracy", "loss"} <= set(results["metrics"])
    assert results["labels"] == ["account", "billing", "delivery", "technical", "urgent"]
    config = json.loads((cli_runs[0] / "model" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert list(config["id2label"].values()) == results["labels"]


def test_cli_predict_gives_the_labels_at_the_threshold(cli_runs, capsys):
    text = "I was charged twice and the app crashes. Please fix this as soon as possible."
    assert main(["predict", "--run-dir", str(cli_runs[0]), "--text", text, "--threshold", "0"]) == 0
    everything = json.loads(capsys.readouterr().out)
    assert set(everything) == {"labels", "scores", "threshold", "latency_ms"} and everything["threshold"] == 0
    assert everything["labels"] == list(everything["scores"])  # at 0 every label is given
    assert main(["predict", "--run-dir", str(cli_runs[0]), "--text", text, "--threshold", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["labels"] == []
    assert main(["predict", "--run-dir", str(cli_runs[0]), "--text", text, "--threshold", "1.5"]) == 2
    assert "threshold must be between 0 and 1" in capsys.readouterr().err


def test_cli_scores_a_csv_with_joined_labels_and_a_column_per_label(cli_runs, tmp_path, capsys):
    source = write(tmp_path / "in.csv", ["id", "text"], [("1", "my parcel never came"), ("2", ""),
                                                          ("3", "the app crashes")])
    assert main(["predict", "--run-dir", str(cli_runs[0]), "--csv", source, "--output", str(tmp_path / "out.csv"),
                 "--threshold", "0"]) == 0
    summary = json.loads(capsys.readouterr().out)
    labels = runs.read_results(cli_runs[0])["labels"]
    assert summary["columns_added"] == ["predicted_labels"] + [f"p_{label}" for label in labels]
    assert summary["threshold"] == 0 and summary["label_counts"] == {label: 2 for label in labels}
    with open(tmp_path / "out.csv", encoding="utf-8") as handle:
        header, first, empty, _ = list(csv.reader(handle))
    assert header == ["id", "text", *summary["columns_added"]]
    assert first[2] == "|".join(labels) and empty[2:] == [""] * (1 + len(labels))


def test_cli_compares_two_runs_with_label_set_disagreements(cli_runs, capsys, monkeypatch):
    monkeypatch.setattr(compare, "SPEED_SETTINGS", {"repeats": 3, "batch_rows": 8})
    assert main(["compare", str(cli_runs[0]), str(cli_runs[1])]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "multi_label_classification" and result["main_metric"] == "micro_f1"
    assert result["differences"]["metrics"]["micro_f1"]["name"] == "micro F1"
    assert result["differences"]["metrics"]["subset_accuracy"]["points"] is not None
    assert result["verdict"][0].startswith("On micro F1, ") and result["warnings"] == []
    found = result["disagreements"]
    assert found["compared"] == runs.read_results(cli_runs[0])["eval_rows"]
    assert found["a_right"] + found["b_right"] + found["neither_right"] == found["count"]
    for example in found["examples"]:
        assert example["a"]["labels"] != example["b"]["labels"] and isinstance(example["gold"], list)


def test_cli_export_loads_in_transformers_with_sigmoid_scores(cli_runs, tmp_path, capsys):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    assert main(["export", "--run-dir", str(cli_runs[0]), "--output", str(tmp_path / "m.zip")]) == 0
    capsys.readouterr()
    with zipfile.ZipFile(tmp_path / "m.zip") as archive:
        archive.extractall(tmp_path / "unzipped")
        folder = tmp_path / "unzipped" / archive.namelist()[0].split("/")[0]
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert 'function_to_apply="sigmoid", top_k=None' in card and "several labels or none" in card
    model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    text = "my parcel never came and nobody answers"
    classify = pipeline("text-classification", model=model, tokenizer=tokenizer)
    scores = {row["label"]: row["score"] for row in classify(text, function_to_apply="sigmoid", top_k=None)}
    with torch.inference_mode():
        expected = torch.sigmoid(model(**tokenizer(text, return_tensors="pt")).logits)[0].tolist()
    assert scores == pytest.approx(dict(zip(runs.read_results(cli_runs[0])["labels"], expected)), abs=1e-5)
    assert sum(scores.values()) != pytest.approx(1, abs=1e-2)  # each label its own probability, not a share
