"""Exporting a finished run: one zip that transformers loads as is and that predicts what the run predicts."""
from __future__ import annotations

import json
import zipfile

import pytest
import torch

from backend.__main__ import main
from backend.schemas import DataSpec, JobSpec, StudioError
from backend.serving.export import export_run
from backend.training import trainer
from tests.conftest import SAMPLE_DATA

TEXTS = ["I loved it, excellent service.", "Awful, it broke after a day.", "It was fine, nothing special."]


@pytest.fixture(scope="module")
def finished(tiny_model_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("export") / "run"
    spec = JobSpec(data=DataSpec(train_csv=str(SAMPLE_DATA / "sentiment_reviews.csv")), model=str(tiny_model_dir),
                   max_steps=4, batch_size=8, max_length=32, learning_rate=5e-3, name="Reviews · tiny")
    trainer.train(spec, run_dir)
    return run_dir


def logits_of(folder, texts):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    inputs = tokenizer(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    with torch.inference_mode():
        return model(**inputs).logits, model


def test_the_zip_loads_with_transformers_and_predicts_like_the_run(finished, tmp_path):
    output = export_run(finished, tmp_path / "out" / "model.zip")

    assert output == tmp_path / "out" / "model.zip"
    with zipfile.ZipFile(output) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "unzipped")
    assert {name.split("/")[0] for name in names} == {"Reviews_tiny"}  # one top folder, a safe name
    assert {"config.json", "model.safetensors", "tokenizer.json", "spec.json", "results.json", "README.md"} <= \
        {name.split("/")[1] for name in names}
    assert not list((tmp_path / "out").glob(".tmp-*"))  # written under a temporary name, then renamed

    exported, model = logits_of(tmp_path / "unzipped" / "Reviews_tiny", TEXTS)
    original, _ = logits_of(finished / "model", TEXTS)
    assert torch.allclose(exported, original)
    assert model.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}


def test_the_model_card_names_base_labels_data_metrics_and_how_to_load(finished, tmp_path):
    with zipfile.ZipFile(export_run(finished, tmp_path / "m.zip")) as archive:
        card = archive.read("Reviews_tiny/README.md").decode("utf-8")
        results = json.loads(archive.read("Reviews_tiny/results.json"))

    assert card.startswith("---\nlibrary_name: transformers")
    assert "(BERT, 2 layers, hidden 32)" in card  # the base model as it is, never a bigger name
    assert "`negative`, `neutral`, `positive`" in card
    assert f"Trained on {results['train_rows']} rows of `sentiment_reviews.csv`" in card
    assert "| negative | 80 | 20 |" in card  # label counts, never rows of text
    assert f"{results['metrics']['macro_f1']:.4f}" in card
    assert "AutoModelForSequenceClassification.from_pretrained(\"Reviews_tiny\")" in card
    assert "Intended use and limitations" in card
    assert "Awful" not in card and "excellent" not in card


def test_unfinished_runs_and_wrong_names_are_refused(finished, tmp_path):
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "spec.json").write_text((finished / "spec.json").read_text())
    with pytest.raises(StudioError, match="has not finished training"):
        export_run(unfinished, tmp_path / "a.zip")
    with pytest.raises(StudioError, match="must end in .zip"):
        export_run(finished, tmp_path / "model.tar")
    assert not (tmp_path / "a.zip").exists()


def test_the_cli_prints_a_one_line_summary(finished, tmp_path, capsys):
    assert main(["export", "--run-dir", str(finished), "--output", str(tmp_path / "cli.zip")]) == 0
    out = capsys.readouterr().out.strip()
    assert "\n" not in out
    assert json.loads(out) == {"output": str(tmp_path / "cli.zip"), "bytes": (tmp_path / "cli.zip").stat().st_size}


def test_a_regression_card_shows_the_raw_value_for_text_pairs(tiny_model_dir, tmp_path):
    spec = JobSpec(data=DataSpec(train_csv=str(SAMPLE_DATA / "similarity_scores.csv")), model=str(tiny_model_dir),
                   max_steps=2, batch_size=8, max_length=32)
    trainer.train(spec, tmp_path / "run")
    with zipfile.ZipFile(export_run(tmp_path / "run", tmp_path / "r.zip")) as archive:
        card = archive.read("run/README.md").decode("utf-8")
    assert "Output: one number (regression)." in card
    assert '"text_pair": "Second sentence."}, truncation=True, max_length=32, function_to_apply="none"' in card
