import json
import os

import pytest

from backend.schemas import DataSpec, JobSpec, StudioError
from backend.training import runs


def test_write_json_replaces_atomically_and_reads_back(tmp_path):
    path = tmp_path / "run" / "results.json"
    runs.write_json(path, {"a": 1})
    runs.write_json(path, {"a": 2})
    assert runs.read_json(path) == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]  # no temp files left behind
    with pytest.raises(ValueError):
        runs.write_json(path, {"a": float("nan")})  # never writes what a JSON reader would reject
    assert runs.read_json(path) == {"a": 2}


def test_readers_return_none_for_missing_or_broken_files(tmp_path):
    assert runs.read_results(tmp_path) is None
    (tmp_path / runs.OUTCOME).write_text('{"state": "compl')
    assert runs.read_outcome(tmp_path) is None
    with pytest.raises(StudioError):
        runs.read_spec(tmp_path)


def test_spec_round_trip(tmp_path):
    spec = JobSpec(data=DataSpec(train_csv="x.csv"), model="all-minilm-l6", epochs=2.0)
    runs.write_spec(tmp_path, spec)
    assert runs.read_spec(tmp_path) == spec


def test_commit_folder_replaces_a_folder_whole(tmp_path):
    final = tmp_path / "model"
    for version in ("old", "new"):
        temp = runs.temp_folder(tmp_path, "model")
        (temp / "weights").write_text(version)
        runs.commit_folder(temp, final)
    assert (final / "weights").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_recover_model_folder_after_a_crash_between_renames(tmp_path):
    (tmp_path / ".tmp-old-model").mkdir()
    runs.recover_model_folder(tmp_path)
    assert (tmp_path / "model").is_dir()


def test_checkpoints_latest_and_prune(tmp_path):
    assert runs.latest_checkpoint(tmp_path) is None
    for step in (5, 40, 12):
        (tmp_path / runs.CHECKPOINTS / runs.checkpoint_name(step)).mkdir(parents=True)
    (tmp_path / runs.CHECKPOINTS / ".tmp-step-00000050").mkdir()  # a save that never completed
    assert runs.checkpoint_step(runs.latest_checkpoint(tmp_path)) == 40
    runs.prune_checkpoints(tmp_path, keep=1)
    assert [p.name for p in (tmp_path / runs.CHECKPOINTS).iterdir()] == ["step-00000040"]


def test_list_runs_newest_first_and_disk_size(tmp_path):
    for name, mtime in (("a", 100), ("b", 300), ("c", 200)):
        (tmp_path / name).mkdir()
        (tmp_path / name / runs.SPEC).write_text(json.dumps({}))
        os.utime(tmp_path / name / runs.SPEC, (mtime, mtime))
    (tmp_path / "not-a-run").mkdir()
    assert [p.name for p in runs.list_runs(tmp_path)] == ["b", "c", "a"]
    (tmp_path / "a" / "big").write_bytes(b"x" * 1000)
    assert runs.disk_size(tmp_path / "a") == 1002
    assert runs.disk_size(tmp_path / "missing") == 0
    assert runs.list_runs(tmp_path / "missing") == []


def test_forget_attempt_keeps_only_what_the_job_runner_wrote(tmp_path):
    for name in ("spec.json", "train.log", "metrics.jsonl", "results.json", "outcome.json"):
        (tmp_path / name).write_text("{}")
    for folder in ("model", "checkpoints/step-00000003", ".tmp-model-abc"):
        (tmp_path / folder).mkdir(parents=True)
    runs.forget_attempt(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.json", "train.log"]
