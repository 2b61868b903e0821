"""The job spec round-trips through spec.json and names what it does not know."""
from __future__ import annotations

import json

import pytest

from backend.schemas import DataSpec, JobSpec, RunRecord, StudioError


def test_a_spec_round_trips_through_json(tmp_path):
    spec = JobSpec(data=DataSpec(train_csv="a.csv", text_pair_column=""), model="all-minilm-l6", epochs=2.5,
                   early_stopping_patience=3, name="reviews")
    spec.save(tmp_path / "spec.json")
    assert JobSpec.load(tmp_path / "spec.json") == spec


def test_a_typo_in_a_spec_is_named_not_ignored():
    with pytest.raises(StudioError, match="Unknown JobSpec field.*epoch\\b"):
        JobSpec.from_dict({"data": {"train_csv": "a.csv"}, "model": "m", "epoch": 3})
    with pytest.raises(StudioError, match="Unknown DataSpec field.*label_col"):
        JobSpec.from_dict({"data": {"train_csv": "a.csv", "label_col": "y"}, "model": "m"})
    with pytest.raises(StudioError, match="needs at least 'data'"):
        JobSpec.from_dict({"model": "m"})


def test_unreadable_spec_files_say_what_is_wrong(tmp_path):
    with pytest.raises(StudioError, match="No job spec"):
        JobSpec.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(StudioError, match="not valid JSON"):
        JobSpec.load(tmp_path / "bad.json")


def test_a_run_record_is_json_safe():
    record = RunRecord(job_id="j", owner="ana", spec=JobSpec(data=DataSpec(train_csv="a.csv"), model="m"),
                       state="queued", run_dir="/r", created_at=1.0)
    assert json.loads(json.dumps(record.to_dict()))["spec"]["data"]["train_csv"] == "a.csv"
