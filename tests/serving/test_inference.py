"""Inference on finished runs of the tiny model: built once per module, a few seconds each."""
from __future__ import annotations

import csv
import json
import os
import random
import shutil
import threading

import pytest
import torch

from backend.__main__ import main
from backend.schemas import DataSpec, JobSpec, StudioError
from backend.serving import inference
from backend.tasks import sequence_inference
from backend.training import runs, trainer

GOOD, BAD = "great lovely superb nice excellent".split(), "awful terrible poor horrible dreadful".split()
FILLER = "the a movie film plot actor scene really very quite unbelievably".split()
SUBJECTS = "a man,a woman,the dog,a child,the chef".split(",")
TAG_WORDS = {"billing": "invoice refund charge".split(), "delivery": "parcel courier tracking".split(),
             "urgent": "asap immediately urgently".split()}
ACTIONS = "plays guitar,cooks dinner,runs fast,reads a book,sings loudly".split(",")


def write_rows(path, header, rows):
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def sentiment_rows(count=80, seed=0, noise=0.0):
    """Texts with one signal word; a `noise` share of them carry the other label (mistakes worth analysing)."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        words = [rng.choice(GOOD if i % 2 else BAD)] + rng.choices(FILLER, k=rng.randint(1, 10))
        rng.shuffle(words)
        rows.append((" ".join(words), "pos" if (i % 2) ^ (rng.random() < noise) else "neg"))
    return rows


def similarity_rows(count=60, seed=0):
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        first = f"{rng.choice(SUBJECTS)} {rng.choice(ACTIONS)}"
        second = first if rng.random() < 0.5 else f"{rng.choice(SUBJECTS)} {rng.choice(ACTIONS)}"
        rows.append((first, second, f"{(5.0 if first == second else rng.uniform(0, 2.5)):.2f}"))
    return rows


def ticket_rows(count=80, seed=0):
    """Multi-label text pairs (subject, body, tags joined by ;): the body has one signal word per tag, maybe none."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        tags = [tag for tag in sorted(TAG_WORDS) if rng.random() < 0.4]
        words = [rng.choice(TAG_WORDS[tag]) for tag in tags] + rng.choices(FILLER, k=rng.randint(1, 6))
        rng.shuffle(words)
        rows.append((f"ticket {i} {rng.choice(FILLER)}", " ".join(words), ";".join(tags)))
    return rows


def train_run(folder, csv_path, model_dir, **overrides):
    """A finished run folder; fp32 so that its saved metrics match what inference recomputes."""
    values = dict(data=DataSpec(train_csv=str(csv_path)), model=str(model_dir), max_steps=12, batch_size=8,
                  max_length=32, learning_rate=5e-3, precision="fp32", seed=7)
    trainer.train(JobSpec(**(values | overrides)), folder)
    return folder


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("classifier")
    csv_path = write_rows(folder / "sentiment.csv", ["text", "label"], sentiment_rows())
    return train_run(folder / "run", csv_path, tiny_model_dir)


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("regression")
    csv_path = write_rows(folder / "similarity.csv", ["sentence1", "sentence2", "score"], similarity_rows())
    return train_run(folder / "run", csv_path, tiny_model_dir)


@pytest.fixture(scope="module")
def multilabel_run(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("multilabel")
    csv_path = write_rows(folder / "tickets.csv", ["subject", "body", "tags"], ticket_rows())
    data = DataSpec(train_csv=str(csv_path), text_column="subject", text_pair_column="body", label_separator=";")
    return train_run(folder / "run", csv_path, tiny_model_dir, data=data, max_steps=30)


def bare_probabilities(run_dir, text):
    loaded = inference.load_run(run_dir)
    with torch.inference_mode():
        logits = loaded.model(**loaded.tokenizer(text, return_tensors="pt")).logits
    return torch.softmax(logits, -1)[0].tolist()


# ---------------------------------------------------------------- predicting


def test_predict_one_gives_label_scores_and_latency(classifier_run):
    result = inference.predict_one(classifier_run, "a superb film")
    assert set(result) == {"label", "scores", "latency_ms"}
    assert list(result["scores"]) == ["neg", "pos"]
    assert sum(result["scores"].values()) == pytest.approx(1, abs=1e-4)
    assert result["label"] == max(result["scores"], key=result["scores"].get)
    assert result["scores"]["pos"] == pytest.approx(bare_probabilities(classifier_run, "a superb film")[1], abs=1e-5)
    assert result["latency_ms"] > 0


def test_predict_in_batches_matches_one_at_a_time(classifier_run):
    texts = ["awful", "a really very quite lovely movie with a great plot and a nice actor", "", "poor scene"]
    batched = inference.predict(classifier_run, texts, batch_size=3)  # padding inside a batch must not matter
    assert [row["label"] for row in batched] == [inference.predict_one(classifier_run, t)["label"] for t in texts]
    for text, row in zip(texts, batched):
        assert row["scores"]["pos"] == pytest.approx(bare_probabilities(classifier_run, text)[1], abs=1e-5)
    assert inference.predict(classifier_run, []) == []


def test_regression_reads_text_pairs_and_gives_values(regression_run):
    one = inference.predict_one(regression_run, "a man plays guitar", "a man plays guitar")
    assert set(one) == {"value", "latency_ms"} and isinstance(one["value"], float)
    many = inference.predict(regression_run, ["a man plays guitar", "the dog runs fast"],
                             ["a man plays guitar", "a child reads a book"])
    assert many[0]["value"] == pytest.approx(one["value"], abs=1e-5)
    with pytest.raises(StudioError, match="second text"):
        inference.predict_one(regression_run, "a man plays guitar")
    with pytest.raises(StudioError, match="2 texts but 1"):
        inference.predict(regression_run, ["a", "b"], ["x"])


def test_multi_label_predictions_give_each_label_its_own_sigmoid(multilabel_run):
    subject, body = "ticket about my order", "the parcel and the invoice, asap"
    one = inference.predict_one(multilabel_run, subject, body)
    assert set(one) == {"labels", "scores", "threshold", "latency_ms"} and one["threshold"] == 0.5
    loaded = inference.load_run(multilabel_run)
    assert loaded.labels == ["billing", "delivery", "urgent"] and loaded.uses_pairs is True
    with torch.inference_mode():
        logits = loaded.model(**loaded.tokenizer(subject, body, return_tensors="pt")).logits
    assert list(one["scores"].values()) == pytest.approx(torch.sigmoid(logits)[0].tolist(), abs=1e-5)
    assert one["labels"] == [label for label, p in one["scores"].items() if p >= 0.5]
    assert inference.predict_one(multilabel_run, subject, body, threshold=0)["labels"] == loaded.labels
    assert inference.predict_one(multilabel_run, subject, body, threshold=1.0)["labels"] == []

    texts, bodies = [subject, "ticket 2", "x"], [body, "courier tracking", "the plot"]
    batched = inference.predict(multilabel_run, texts, bodies, batch_size=2, threshold=0.4)
    for text, second, row in zip(texts, bodies, batched):
        alone = inference.predict_one(multilabel_run, text, second, threshold=0.4)
        assert row["labels"] == alone["labels"] and row["threshold"] == 0.4
        assert list(row["scores"].values()) == pytest.approx(list(alone["scores"].values()), abs=1e-5)
    with pytest.raises(StudioError, match="second text"):
        inference.predict_one(multilabel_run, subject)
    with pytest.raises(StudioError, match="between 0 and 1"):
        inference.predict(multilabel_run, texts, bodies, threshold=-0.1)


def test_a_threshold_leaves_single_label_predictions_alone(classifier_run):
    assert inference.predict_one(classifier_run, "nice", threshold=0.9).keys() == {"label", "scores", "latency_ms"}


def test_a_single_text_model_refuses_a_second_text(classifier_run):
    assert inference.predict_one(classifier_run, "nice", "")["label"]  # an empty second box is no second text
    with pytest.raises(StudioError, match="one text"):
        inference.predict_one(classifier_run, "nice", "other")


# ---------------------------------------------------------------- loading


def test_load_run_is_cached_until_the_model_changes(classifier_run, tmp_path, monkeypatch):
    first = inference.load_run(classifier_run)
    assert inference.load_run(str(classifier_run)) is first
    assert first.labels == ["neg", "pos"] and first.task == "text_classification" and first.max_length == 32
    assert not first.model.training and not any(p.requires_grad for p in first.model.parameters())

    copy = shutil.copytree(classifier_run, tmp_path / "copy", ignore=shutil.ignore_patterns("checkpoints"))
    loaded = inference.load_run(copy)
    weights = copy / "model" / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))  # "retrained"
    assert inference.load_run(copy) is not loaded

    monkeypatch.setattr(inference, "MAX_LOADED", 1)
    inference.load_run(shutil.copytree(copy, tmp_path / "another"))
    assert inference.load_run(classifier_run) is not first  # evicted when another run came in


def test_the_cache_keeps_runs_within_a_weight_budget_and_loads_a_run_once(classifier_run, tmp_path, monkeypatch):
    copies = [shutil.copytree(classifier_run, tmp_path / f"run{i}", ignore=shutil.ignore_patterns("checkpoints"))
              for i in range(3)]
    one = inference._weight_bytes(inference.load_run(copies[0]))
    monkeypatch.setattr(inference, "MAX_LOADED_BYTES", int(2.5 * one))  # room for two runs' weights
    first, second = inference.load_run(copies[0]), inference.load_run(copies[1])
    inference.load_run(copies[2])
    assert inference.load_run(copies[1]) is second and inference.load_run(copies[0]) is not first

    fresh = shutil.copytree(classifier_run, tmp_path / "fresh", ignore=shutil.ignore_patterns("checkpoints"))
    loads = []
    real = inference._load
    monkeypatch.setattr(inference, "_load", lambda folder: loads.append(folder) or real(folder))
    threads = [threading.Thread(target=inference.load_run, args=(fresh,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1  # four first requests at once: one load


def test_load_run_refuses_what_is_not_a_finished_run(classifier_run, tmp_path):
    with pytest.raises(StudioError, match="not a MiniLM Studio run folder"):
        inference.load_run(tmp_path)
    copy = shutil.copytree(classifier_run, tmp_path / "copy", ignore=shutil.ignore_patterns("checkpoints"))
    (copy / "model" / "model.safetensors").rename(copy / "model" / "pytorch_model.bin")
    with pytest.raises(StudioError, match="safetensors"):
        inference.load_run(copy)
    (copy / "results.json").unlink()
    with pytest.raises(StudioError, match="not finished"):
        inference.load_run(copy)
    with pytest.raises(StudioError, match="not a MiniLM Studio run folder"):
        inference.load_run(classifier_run / "model")


# ---------------------------------------------------------------- explaining


def test_explain_scores_tokens_and_whole_words(classifier_run):
    text = "The unbelievably superb film!"
    result = inference.explain(classifier_run, text)
    assert result["method"] == "integrated_gradients" and result["label"] == result["prediction"]["label"]
    assert result["truncated"] is False
    tokens = result["tokens"]
    assert tokens[0] == {"token": "[CLS]", "score": 0.0, "segment": None, "special": True}
    assert any(token["token"].startswith("##") for token in tokens)  # "unbelievably" is cut into pieces
    assert max(abs(token["score"]) for token in tokens) == pytest.approx(1.0)
    words = result["words"]
    assert [word["word"] for word in words] == ["The", "unbelievably", "superb", "film", "!"]
    assert all(text[word["start"]:word["end"]] == word["word"] and -1 <= word["score"] <= 1 for word in words)
    assert max(abs(word["score"]) for word in words) == pytest.approx(1.0)


def test_explain_another_label(classifier_run):
    result = inference.explain(classifier_run, "a lovely plot", target="neg")
    assert result["label"] == "neg" and result["prediction"]["label"] in ("neg", "pos")
    with pytest.raises(StudioError, match="neg, pos"):
        inference.explain(classifier_run, "a lovely plot", target="meh")


def test_integrated_gradients_add_up_to_the_change_in_log_probability(classifier_run):
    loaded = inference.load_run(classifier_run)
    encoded = loaded.tokenizer("a great lovely movie", return_tensors="pt", return_special_tokens_mask=True)
    inputs = {name: encoded[name] for name in loaded.input_names}
    special = encoded["special_tokens_mask"][0].bool()
    baseline = torch.where(special, inputs["input_ids"], loaded.tokenizer.pad_token_id)
    with torch.inference_mode():
        change = [torch.log_softmax(loaded.model(**(inputs | {"input_ids": ids})).logits, -1)[0, 1]
                  for ids in (inputs["input_ids"], baseline)]
    attributions = sequence_inference.integrated_gradients(loaded, inputs, special, 1, steps=64)
    assert float(attributions.sum()) == pytest.approx(float(change[0] - change[1]), rel=0.05, abs=1e-6)


def test_explain_a_multi_label_prediction_by_its_surest_label_or_any_other(multilabel_run):
    result = inference.explain(multilabel_run, "ticket 9", "refund the charge immediately")
    scores = result["prediction"]["scores"]
    assert result["label"] == max(scores, key=scores.get) and "labels" in result["prediction"]
    assert inference.explain(multilabel_run, "ticket 9", "refund", target="delivery")["label"] == "delivery"

    loaded = inference.load_run(multilabel_run)  # attributions add up to the change in the label's log-sigmoid
    encoded = loaded.tokenizer("ticket 9", "the parcel", return_tensors="pt", return_special_tokens_mask=True)
    inputs = {name: encoded[name] for name in loaded.input_names}
    special = encoded["special_tokens_mask"][0].bool()
    baseline = torch.where(special, inputs["input_ids"], loaded.tokenizer.pad_token_id)
    with torch.inference_mode():
        change = [torch.nn.functional.logsigmoid(loaded.model(**(inputs | {"input_ids": ids})).logits)[0, 1]
                  for ids in (inputs["input_ids"], baseline)]
    attributions = sequence_inference.integrated_gradients(loaded, inputs, special, 1, steps=64)
    assert float(attributions.sum()) == pytest.approx(float(change[0] - change[1]), rel=0.05, abs=1e-5)


def test_explain_marks_the_segments_of_a_pair(regression_run):
    result = inference.explain(regression_run, "a man plays guitar", "a woman sings loudly")
    assert result["label"] is None and "value" in result["prediction"]
    assert {word["segment"] for word in result["words"]} == {0, 1}
    assert [w["word"] for w in result["words"] if w["segment"] == 1] == ["a", "woman", "sings", "loudly"]


# ---------------------------------------------------------------- scoring a CSV


def read_csv(path):
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_measure_speed(classifier_run):
    speed = inference.measure_speed(classifier_run, ["a nice film", "awful"], repeats=5, batch_rows=16, batch_size=4)
    assert 0 < speed["latency_p50_ms"] <= speed["latency_p95_ms"]
    assert speed["throughput_rows_per_s"] > 0 and speed["device"] == "cpu"


def test_cli_predict_a_text(classifier_run, capsys):
    assert main(["predict", "--run-dir", str(classifier_run), "--text", "a superb film", "--explain"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"label", "scores", "latency_ms", "explanation"} <= set(result)
    assert result["explanation"]["words"][1]["word"] == "superb"


def test_cli_predict_a_csv(classifier_run, tmp_path, capsys):
    source = write_rows(tmp_path / "in.csv", ["text"], [("nice",), ("awful",)])
    assert main(["predict", "--run-dir", str(classifier_run), "--csv", str(source), "--output",
                 str(tmp_path / "out.csv")]) == 0
    assert json.loads(capsys.readouterr().out)["scored_rows"] == 2
    assert main(["predict", "--run-dir", str(classifier_run), "--csv", str(source)]) == 2
    assert "--output" in capsys.readouterr().err
    assert main(["predict", "--run-dir", str(classifier_run / "model"), "--text", "x"]) == 2
    assert "run folder" in capsys.readouterr().err


def test_cli_predict_a_pair(regression_run, capsys):
    assert main(["predict", "--run-dir", str(regression_run), "--text", "a man cooks dinner",
                 "--text-pair", "a woman cooks dinner"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"value", "latency_ms"}
    assert runs.read_results(regression_run)["task"] == "regression"
