"""Presets fill a job spec from the model's defaults; the estimate scales with work and model size."""
from __future__ import annotations

import pytest

from backend.schemas import DataSpec, JobSpec, StudioError
from backend.training import presets
from backend.training.presets import apply_preset

DEFAULTS = {"learning_rate": 5e-5, "batch_size": 32, "max_length": 128}


def data() -> DataSpec:
    return DataSpec(train_csv="reviews.csv")


def test_quick_demo_trains_briskly_on_short_texts():
    spec = presets.apply_preset("quick", data(), "all-minilm-l6", DEFAULTS, suggested_max_length=96)
    assert spec.learning_rate == pytest.approx(1e-4)
    assert spec.max_length == 64  # the suggestion, capped by the preset
    assert spec.epochs == 3 and spec.early_stopping_patience is None


def test_thorough_stops_early_and_keeps_long_texts():
    spec = presets.apply_preset("thorough", data(), "bert-base", DEFAULTS | {"learning_rate": 2e-5}, 300)
    assert spec.max_length == 300 and spec.learning_rate == pytest.approx(2e-5)
    assert spec.early_stopping_patience == 3


def test_overrides_win_and_none_keeps_the_preset():
    spec = presets.apply_preset("standard", data(), "all-minilm-l6", DEFAULTS, None, epochs=5, batch_size=None)
    assert spec.epochs == 5 and spec.batch_size == 32 and spec.max_length == 128


def test_an_unknown_preset_names_the_known_ones():
    with pytest.raises(StudioError, match="quick, standard, thorough"):
        presets.apply_preset("fastest", data(), "all-minilm-l6", DEFAULTS, None)


def test_the_estimate_grows_with_rows_epochs_and_model_size():
    spec = presets.apply_preset("standard", data(), "all-minilm-l6", DEFAULTS, 32, precision="fp32")
    small = presets.estimate_seconds(1000, 20, spec, 22_700_000, "minilm", "cpu")
    assert presets.estimate_seconds(2000, 20, spec, 22_700_000, "minilm", "cpu") == pytest.approx(2 * small, rel=0.05)
    assert presets.estimate_seconds(1000, 20, spec, 109_500_000, "bert", "cpu") > 4 * small
    assert presets.estimate_seconds(1000, 20, spec, 22_700_000, "minilm", "cuda") < small / 5


@pytest.mark.parametrize("seconds, text", [(3, "about 5 seconds"), (42, "about 40 seconds"), (300, "about 5 minutes"),
                                           (7200, "about 2.0 hours")])
def test_durations_read_naturally(seconds, text):
    assert presets.describe_seconds(seconds) == text


def test_bf16_is_estimated_faster_where_the_cpu_has_it(monkeypatch):
    from backend.training import run_control

    monkeypatch.setattr(run_control, "cpu_has_native_bf16", lambda: True)
    fp32 = presets.apply_preset("standard", data(), "all-minilm-l6", DEFAULTS, 32, precision="fp32")
    auto = presets.apply_preset("standard", data(), "all-minilm-l6", DEFAULTS, 32)
    slow, fast = (presets.estimate_seconds(1000, 20, spec, 22_700_000, "minilm", "cpu") for spec in (fp32, auto))
    assert 1.5 < slow / fast < 2.5


def test_extractive_qa_gets_room_for_a_question_and_a_stretch_of_context():
    qa = DataSpec(train_csv="qa.csv", task="extractive_qa")
    quick = apply_preset("quick", qa, "all-minilm-l6", {"learning_rate": 1e-4}, suggested_max_length=384)
    assert quick.max_length == 128  # the classification cap of 64 would leave a window almost no context
    assert (quick.batch_size, quick.epochs) == (8, 5)  # small batches, more epochs: QA needs the steps
    assert apply_preset("thorough", qa, "all-minilm-l6", {}, suggested_max_length=384).max_length == 384


def test_qa_estimate_counts_the_overlap_of_windows():
    qa = JobSpec(data=DataSpec(train_csv="qa.csv", task="extractive_qa"), model="m", max_length=128, doc_stride=32)
    kind = presets.kind_of(qa.data)
    assert kind.tokens_per_row(100, qa) == 100  # one window
    assert kind.tokens_per_row(384, qa) == pytest.approx(384 * 128 / 96)  # each window repeats 32 tokens
