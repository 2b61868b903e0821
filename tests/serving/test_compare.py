"""Two runs side by side, the fair head-to-head plan, and the published numbers."""
from __future__ import annotations

import json
import shutil

import pytest

from backend.__main__ import main
from backend.models import catalog
from backend.schemas import DataSpec, JobSpec, StudioError
from backend.serving import compare, head_to_head, inference
from backend.training import runs, trainer
from tests.conftest import SAMPLE_DATA

FAST_SPEED = {"repeats": 5, "batch_rows": 16}


@pytest.fixture(scope="module")
def two_runs(tiny_model_dir, tmp_path_factory):
    """Two finished runs of the tiny model on the same data, differing only in seed."""
    root = tmp_path_factory.mktemp("compare")
    for seed, name in ((1, "a"), (2, "b")):
        spec = JobSpec(data=DataSpec(train_csv=str(SAMPLE_DATA / "sentiment_reviews.csv")), model=str(tiny_model_dir),
                       max_steps=4, batch_size=8, max_length=32, learning_rate=5e-3, seed=seed)
        trainer.train(spec, root / name)
    return root / "a", root / "b"


@pytest.fixture(scope="module")
def comparison(two_runs):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compare, "SPEED_SETTINGS", FAST_SPEED)
        return compare.compare_runs(*two_runs)


def copy_run(source, target, edit_results=None, edit_spec=None):
    shutil.copytree(source, target)
    if edit_results:
        runs.write_json(target / runs.RESULTS, edit_results(runs.read_results(target)))
    if edit_spec:
        spec = runs.read_spec(target)
        edit_spec(spec)
        runs.write_spec(target, spec)
    return target


def test_both_runs_side_by_side_with_differences(comparison, two_runs):
    json.dumps(comparison, allow_nan=False)  # JSON-safe through and through
    a, b = comparison["a"], comparison["b"]
    assert comparison["task"] == "text_classification" and comparison["main_metric"] == "macro_f1"
    for side, run_dir in ((a, two_runs[0]), (b, two_runs[1])):
        assert side["metrics"] == runs.read_results(run_dir)["metrics"]
        assert side["num_parameters"] > 0 and side["disk_mb"] > 1 and side["train_runtime_s"] > 0
        assert side["peak_memory_mb"] == runs.read_results(run_dir)["peak_memory_mb"] > 0  # as the trainer recorded it
        assert {"latency_p50_ms", "latency_p95_ms", "throughput_rows_per_s"} <= set(side["speed"])
    assert a["name"] != b["name"]
    row = comparison["differences"]["metrics"]["accuracy"]
    assert row["points"] == pytest.approx((a["metrics"]["accuracy"] - b["metrics"]["accuracy"]) * 100, abs=0.01)
    ratios = comparison["differences"]["ratios"]
    assert ratios["parameters"] == 1.0
    assert ratios["latency_p50"] == pytest.approx(a["speed"]["latency_p50_ms"] / b["speed"]["latency_p50_ms"], rel=1e-2)
    assert comparison["warnings"] == []  # same data, split and budget: only the seed differs


def test_the_verdict_is_sentences_computed_from_the_numbers(comparison):
    verdict = comparison["verdict"]
    assert verdict[0].startswith("On macro F1, ")
    assert any("validation rows" in sentence for sentence in verdict)
    assert any("p50" in sentence and "rows per second" in sentence for sentence in verdict)
    assert all(sentence.endswith(".") for sentence in verdict)


def test_curves_overlay_loss_and_the_main_metric_of_both_runs(comparison):
    points = comparison["curves"]["points"]
    assert {p["run"] for p in points} == {"a", "b"}
    assert {p["series"] for p in points} == {"loss", "eval_loss", "eval_macro_f1"}
    assert [p["step"] for p in points if p["run"] == "a" and p["series"] == "loss"] == [1, 2, 3, 4]


def test_disagreements_list_rows_the_two_label_differently(comparison, two_runs):
    found = comparison["disagreements"]
    assert found["compared"] == comparison["a"]["eval_rows"] and found["count"] > 0
    assert found["a_right"] + found["b_right"] + found["neither_right"] == found["count"]
    for example in found["examples"]:
        assert example["a"]["label"] != example["b"]["label"]
        assert example["a"]["correct"] == (example["a"]["label"] == example["gold"])
    if found["examples"]:
        first = found["examples"][0]
        assert inference.predict(two_runs[0], [first["text"]])[0]["label"] == first["a"]["label"]


def test_speed_is_measured_once_and_cached_in_the_run(comparison, two_runs, monkeypatch):
    assert (two_runs[0] / compare.SPEED_FILE).is_file()
    monkeypatch.setattr(compare, "SPEED_SETTINGS", FAST_SPEED)
    monkeypatch.setattr(inference, "measure_speed", lambda *a, **k: pytest.fail("measured again"))
    again = compare.compare_runs(*two_runs)
    assert again["a"]["speed"]["cached"]
    assert again["a"]["speed"]["latency_p50_ms"] == comparison["a"]["speed"]["latency_p50_ms"]
    monkeypatch.setattr(inference, "measure_speed", lambda *a, **k: {"latency_p50_ms": 1.0,
                                                                     "throughput_rows_per_s": 9.0})
    remeasured = compare.compare_runs(*two_runs, remeasure=True)
    assert remeasured["a"]["speed"]["latency_p50_ms"] == 1.0 and not remeasured["a"]["speed"]["cached"]


def test_different_tasks_or_labels_are_refused_and_different_data_warned(two_runs, tmp_path):
    a, b = two_runs
    other_task = copy_run(b, tmp_path / "task", edit_results=lambda r: r | {"task": "pair_classification"})
    with pytest.raises(StudioError, match="different tasks"):
        compare.compare_runs(a, other_task)
    other_labels = copy_run(b, tmp_path / "labels", edit_results=lambda r: r | {"labels": ["bad", "good"]})
    with pytest.raises(StudioError, match="different labels"):
        compare.compare_runs(a, other_labels)
    other_split = copy_run(b, tmp_path / "split", edit_spec=lambda s: setattr(s.data, "split_seed", 7))
    warnings = compare.compare_runs(a, other_split)["warnings"]
    assert len(warnings) == 1 and "split_seed" in warnings[0]


def test_unfinished_runs_are_refused(two_runs, tmp_path):
    unfinished = copy_run(two_runs[1], tmp_path / "unfinished")
    (unfinished / runs.RESULTS).unlink()
    with pytest.raises(StudioError, match="has not finished training"):
        compare.compare_runs(two_runs[0], unfinished)


def test_models_are_named_truthfully():
    assert compare.model_identity("mpnet-base")["label"] == "MPNet-base (BERT-Base size, not BERT)"
    assert compare.model_identity("sentence-transformers/all-MiniLM-L6-v2")["label"] == "all-MiniLM-L6-v2"
    assert compare.model_identity("bert-base")["label"] == "BERT-Base uncased"


def offline_defaults(role):
    """The offline situation: all-MiniLM-L6-v2 and MPNet-base stand in."""
    info = catalog.MODELS["all-minilm-l6" if role == "minilm" else "mpnet-base"]
    defaults = {"learning_rate": info.learning_rate, "batch_size": info.batch_size, "max_length": info.max_length}
    resolution = catalog.Resolution(info.key, info.display_name, "packaged", "/models", "Packaged.",
                                    info.num_parameters, info.family, info.hub_id, info.role, defaults=defaults)
    return resolution, f"{info.display_name} stands in."


def test_the_plan_keeps_everything_equal_but_the_model_and_its_learning_rate(monkeypatch):
    monkeypatch.setattr(catalog, "default_model", offline_defaults)
    data = DataSpec(train_csv="reviews.csv", eval_fraction=0.25, split_seed=3)
    plan = head_to_head.plan_comparison(data, suggested_max_length=96)

    small, large = plan["minilm"], plan["bert"]
    assert isinstance(small, JobSpec) and small.data == large.data == data and small.data is not data
    for name in ("epochs", "max_length", "batch_size", "seed", "max_steps", "early_stopping_patience"):
        assert getattr(small, name) == getattr(large, name), name
    assert (small.learning_rate, large.learning_rate) == (5e-5, 2e-5)
    assert small.max_length == 96 and small.batch_size == 16
    assert (small.name, large.name) == ("MiniLM side · all-MiniLM-L6-v2", "BERT-Base side · MPNet-base")
    assert [m["label"] for m in plan["models"]] == ["all-MiniLM-L6-v2", "MPNet-base (BERT-Base size, not BERT)"]
    assert [m["why"] for m in plan["models"]] == ["all-MiniLM-L6-v2 stands in.", "MPNet-base stands in."]
    recipe = " ".join(plan["recipe"])
    assert "same seed" in recipe and "2e-05" in recipe and "not BERT" in recipe and "25% hold-out" in recipe


def test_a_qa_plan_gives_both_sides_the_small_batches_and_epochs_qa_needs(monkeypatch):
    monkeypatch.setattr(catalog, "default_model", offline_defaults)
    plan = head_to_head.plan_comparison(DataSpec(train_csv="qa.csv", task="extractive_qa"), suggested_max_length=384)
    for side in (plan["minilm"], plan["bert"]):
        assert (side.batch_size, side.epochs, side.max_length) == (8, 5, 256)


def test_the_plan_refuses_an_unknown_preset_and_the_same_model_twice(monkeypatch):
    monkeypatch.setattr(catalog, "default_model", offline_defaults)
    with pytest.raises(StudioError, match="quick, standard, thorough"):
        head_to_head.plan_comparison(DataSpec(train_csv="x.csv"), preset="fastest")
    monkeypatch.setattr(catalog, "resolve", lambda key: offline_defaults("bert")[0])
    with pytest.raises(StudioError, match="same model"):
        head_to_head.plan_comparison(DataSpec(train_csv="x.csv"), minilm="mpnet-base")


def test_published_numbers_are_marked_as_published():
    assert "not measured here" in head_to_head.PUBLISHED["source"]
    tasks = {row["task"]: (row["bert_base"], row["minilm"]) for row in head_to_head.PUBLISHED["tasks"]}
    assert tasks["SQuAD 2.0"] == (76.8, 81.7) and tasks["SST-2"] == (93.2, 93.0) and len(tasks) == 8
    assert head_to_head.PUBLISHED["speedup"]["value"] == 2.7


def test_the_cli_prints_the_comparison(two_runs, capsys, monkeypatch):
    monkeypatch.setattr(compare, "SPEED_SETTINGS", FAST_SPEED)
    assert main(["compare", str(two_runs[0]), str(two_runs[1])]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {"a", "b", "differences", "verdict", "curves", "disagreements", "warnings"} <= set(printed)


def side(name, parameters, macro_f1, p50, rows_per_s, seconds, disk_mb):
    return {"name": name, "num_parameters": parameters, "metrics": {"macro_f1": macro_f1, "accuracy": macro_f1},
            "speed": {"latency_p50_ms": p50, "throughput_rows_per_s": rows_per_s}, "train_runtime_s": seconds,
            "disk_mb": disk_mb, "eval_rows": 400, "train_samples_per_second": 100.0}


def test_the_verdict_says_which_is_better_by_how_much_and_at_what_cost():
    small = side("all-MiniLM-L6-v2", 22_713_216, 0.85, 8.0, 400.0, 60.0, 91.0)
    large = side("MPNet-base (BERT-Base size, not BERT)", 109_486_464, 0.88, 30.0, 90.0, 300.0, 438.0)
    differences = {"metrics": compare.metric_differences(small, large), "ratios": compare.speed_ratios(small, large)}
    verdict = compare.verdict(small, large, differences, "macro_f1")

    assert differences["metrics"]["macro_f1"]["points"] == -3.0 and differences["ratios"]["latency_p50"] == 0.267
    assert verdict[0] == ("On macro F1, MPNet-base (BERT-Base size, not BERT) scores 3.0 points higher than "
                          "all-MiniLM-L6-v2 (0.880 vs 0.850).")
    assert "all-MiniLM-L6-v2 has 4.8x fewer parameters than MPNet-base (BERT-Base size, not BERT) (22.7M vs 109.5M) " \
           "and takes 91 MB on disk vs 438 MB." in verdict
    assert any("all-MiniLM-L6-v2 answers one text 3.8x faster" in sentence for sentence in verdict)
    assert verdict[-1] == ("In short: MPNet-base (BERT-Base size, not BERT) buys 3.0 points of macro F1 at 4.8x the "
                           "parameters and 3.8x the latency of all-MiniLM-L6-v2.")


def test_regression_runs_on_text_pairs_compare_by_how_far_apart_they_predict(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(compare, "SPEED_SETTINGS", FAST_SPEED)
    for seed in (1, 2):
        spec = JobSpec(data=DataSpec(train_csv=str(SAMPLE_DATA / "similarity_scores.csv")), model=str(tiny_model_dir),
                       max_steps=4, batch_size=8, max_length=32, learning_rate=5e-3, seed=seed)
        trainer.train(spec, tmp_path / str(seed))
    result = compare.compare_runs(tmp_path / "1", tmp_path / "2")

    assert result["main_metric"] == "mse" and result["labels"] is None
    assert result["a"]["speed"]["texts"] == 50  # timed on pairs of texts
    gaps = [abs(e["difference"]) for e in result["disagreements"]["examples"]]
    assert gaps == sorted(gaps, reverse=True) and all(e["text_pair"] for e in result["disagreements"]["examples"])
    assert result["verdict"][0].startswith("On MSE, ")
    json.dumps(result, allow_nan=False)


def test_the_same_csv_uploaded_twice_counts_as_the_same_data(tmp_path):
    first, second, other = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    first.write_text("text,label\nhi,a\n")
    second.write_text("text,label\nhi,a\n")
    other.write_text("text,label\nho,b\n")
    assert compare.same_value("train_csv", str(first), str(second))
    assert not compare.same_value("train_csv", str(first), str(other))
    assert not compare.same_value("train_csv", str(first), str(tmp_path / "gone.csv"))
    assert not compare.same_value("text_column", "text", "review")
