"""Token classification end to end through the command line on the tiny model: validate, preview, train, predict,
explain, batch scoring, compare, export loaded back with transformers and the card's pipeline snippet run; and what
the check says about malformed NER rows."""
from __future__ import annotations

import json
import re
import zipfile

import pytest

from backend import tasks
from backend.__main__ import main
from backend.data.reading import read_table
from backend.schemas import DataSpec
from tests.conftest import SAMPLE_DATA

NER_SAMPLE = str(SAMPLE_DATA / "ner_people_places.csv")
TRAIN = ["--model", None, "--max-steps", "3", "--batch-size", "16", "--max-length", "32"]


def cli(capsys, *args) -> dict:
    assert main([str(arg) for arg in args]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir):
    """Two short runs on the NER sample (different seeds), trained once for the module."""
    folders = []
    for seed in (1, 2):
        out = tmp_path_factory.mktemp(f"ner-run-{seed}")
        args = ["train", "--train-csv", NER_SAMPLE, "--task", "token_classification", *TRAIN, "--seed", str(seed),
                "--output-dir", str(out)]
        args[args.index("--model") + 1] = str(tiny_model_dir)
        assert main(args) == 0
        folders.append(out)
    return folders


def test_the_sample_is_detected_and_validated(capsys):
    report = cli(capsys, "validate", NER_SAMPLE)
    assert report["task"] == "token_classification"
    assert (report["text_column"], report["label_column"]) == ("tokens", "tags")
    assert report["labels"][0] == "O" and "B-PER" in report["labels"] and "I-LOC" in report["labels"]
    named = cli(capsys, "validate", NER_SAMPLE, "--task", "token_classification", "--tokens-column", "tokens",
                "--tags-column", "tags")
    assert named["labels"] == report["labels"]


def test_preview_shows_words_pieces_and_tags(capsys, tiny_model_dir):
    preview = cli(capsys, "preview", NER_SAMPLE, "--model", tiny_model_dir, "--max-length", "16", "--rows", "2")
    sample = preview["samples"][0]
    assert [word["word"] for word in sample["words"]][:3] == ["Police", "in", "Sundmark"]
    assert sample["words"][2]["tag"] == "B-LOC" and len(sample["words"][2]["pieces"]) >= 1
    assert preview["windows"]["max"] >= 1 and preview["mean"] > 0


def test_train_predict_explain_and_score(runs, capsys, tmp_path):
    run = runs[0]
    results = json.loads((run / "results.json").read_text())
    assert results["task"] == "token_classification" and results["steps"] == 3
    assert {"f1", "precision", "recall", "token_accuracy"} <= set(results["metrics"])
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["id2label"]["0"] == "O" and config["architectures"] == ["BertForTokenClassification"]

    text = "Ada Lovelace lives in Quillon ."
    found = cli(capsys, "predict", "--run-dir", run, "--text", text)
    assert list(found) == ["entities", "latency_ms"]
    assert all(text[e["start"]:e["end"]] == e["text"] and 0 <= e["score"] <= 1 for e in found["entities"])

    table = tmp_path / "texts.csv"
    table.write_text("text\nAda Lovelace lives in Quillon .\n\nPolice in Sundmark are looking .\n")
    summary = cli(capsys, "predict", "--run-dir", run, "--csv", table, "--output", tmp_path / "scored.csv",
                  "--text-column", "text")
    assert summary["rows"] == 2 and "entity_counts" in summary
    scored = read_table(tmp_path / "scored.csv").frame
    assert list(scored.columns) == ["text", "entities"]
    assert all(isinstance(json.loads(cell), list) for cell in scored["entities"])


def test_explain_attributes_the_surest_entity(runs):
    from backend.serving import inference

    loaded = inference.load_run(runs[0])
    with torch_head_saying(loaded.model, loaded.labels, "B-PER"):
        explained = inference.explain(runs[0], "Ada met Bo in Paris .", steps=4)
    assert explained["label"] == "B-PER" and explained["entity"]["type"] == "PER"
    assert [word["word"] for word in explained["words"]] == ["Ada", "met", "Bo", "in", "Paris", "."]
    assert max(abs(word["score"]) for word in explained["words"]) == 1.0
    with torch_head_saying(loaded.model, loaded.labels, "O"):
        with pytest.raises(Exception, match="no entity to explain"):
            inference.explain(runs[0], "Ada met Bo .", steps=4)


class torch_head_saying:
    """The run's model with its head's bias set to give every word one tag (its weights kept, so the words still
    move the scores), for as long as the block lasts."""

    def __init__(self, model, labels, tag):
        self.model, self.bias = model, [10.0 if label == tag else 0.0 for label in labels]

    def __enter__(self):
        import torch

        head = self.model.classifier
        self.saved = head.weight.detach().clone(), head.bias.detach().clone()
        with torch.no_grad():
            head.bias.copy_(torch.tensor(self.bias))

    def __exit__(self, *exc):
        import torch

        with torch.no_grad():
            self.model.classifier.weight.copy_(self.saved[0])
            self.model.classifier.bias.copy_(self.saved[1])


def test_error_report_and_compare(runs, capsys):
    from backend.serving import analysis

    report = analysis.error_analysis(runs[0])
    assert report["task"] == "token_classification"
    assert "micro" in report["per_type"] and {"found", "missed", "spurious"} <= set(report["outcomes"])
    assert report["confusion"]["labels"][0] == "O"
    compared = cli(capsys, "compare", runs[0], runs[1])
    assert compared["disagreements"]["compared"] >= 1
    assert set(compared["disagreements"]) >= {"count", "a_right", "b_right", "examples"}


def test_export_loads_back_and_the_cards_pipeline_runs(runs, capsys, tmp_path):
    from transformers import AutoModelForTokenClassification

    done = cli(capsys, "export", "--run-dir", runs[0], "--output", tmp_path / "ner.zip")
    with zipfile.ZipFile(done["output"]) as archive:
        archive.extractall(tmp_path / "unzipped")
    card = next((tmp_path / "unzipped").rglob("README.md")).read_text()
    assert "pipeline_tag: token-classification" in card
    folder = next((tmp_path / "unzipped").rglob("config.json")).parent
    model = AutoModelForTokenClassification.from_pretrained(folder)
    assert model.config.id2label[0] == "O"
    code = re.search(r"```python\n(.*?)```", card, re.S).group(1)
    printed = []  # the snippet names the folder as unzipped; it runs here with that folder's path
    exec(compile(code.replace(f'"{folder.name}"', f'"{folder}"').replace("print(", "printed.append("), "card", "exec"),
         {"printed": printed})
    assert isinstance(printed[0], list)
    assert all({"entity_group", "score", "word", "start", "end"} <= set(entity) for entity in printed[0])


# ---------------------------------------------------------------- the check's sentences, through validate

@pytest.mark.parametrize("row, said", [
    ("Ann sings loud,B-PER O", "Left out 1 row of data.csv whose tokens and tags differ in number (first: row 9, 3 "
                               "tokens in 'tokens' but 2 tags in 'tags')"),
    ("Ann sings,B-PER X-Y", "Left out 1 row of data.csv with tags that are not O, B-TYPE or I-TYPE (first: row 9, "
                            "'X-Y')"),
    ("Ann sings,I-PER O", "Read 1 I- tags without a B- or I- of their type before them as an entity's first word "
                          "(B-), as CoNLL evaluation does, in 1 row of data.csv (first: row 9, 'I-PER' on 'Ann')"),
    ("Zed hums,B-MISC O", "Tags seen only once in the training sentences of data.csv: 'B-MISC' (row 9)"),
])
def test_validate_says_what_is_wrong_with_malformed_rows(row, said, write_csv, capsys):
    good = ["John lives in Rome .,B-PER O O B-LOC O", "Mary saw Paris .,B-PER O B-LOC O"] * 3
    path = write_csv("tokens,tags\n" + "\n".join(good + ["Ann met Bo .,B-PER O B-PER O", row]) + "\n")
    report = cli(capsys, "validate", path, "--task", "token_classification")
    assert any(warning.startswith(said) for warning in report["warnings"]), report["warnings"]


def test_a_tags_column_is_not_taken_for_multi_label_labels(write_csv):
    path = write_csv("tokens,tags\n" + "\n".join(["John lives in Rome .,B-PER O O B-LOC O"] * 4
                                                  + ["Mary saw Paris .,B-PER O B-LOC O"] * 4) + "\n")
    from backend.tasks import loading

    assert loading.validate(DataSpec(train_csv=str(path))).task == tasks.get("token_classification").name
