"""What the job tests share: a fake worker that keeps the trainer's contract, runners on a temporary data folder,
and waiting for a job to reach a state."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from backend.jobs.runner import ANY_OWNER, JobRunner
from backend.schemas import FINISHED_STATES, DataSpec, JobSpec
from backend.training.runs import latest_checkpoint

REPO_ROOT = Path(__file__).resolve().parents[1]
FAKE = Path(__file__).parent / "fakes" / "fake_trainer.py"


def fake_command(run_dir: Path, resume: bool) -> list[str]:
    return [sys.executable, str(FAKE), "--run-dir", str(run_dir)] + (["--resume"] if resume else [])


def make_spec(name: str = "", steps: int = 6) -> JobSpec:
    return JobSpec(data=DataSpec(train_csv="train.csv"), model="tiny", max_steps=steps, name=name)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def runners(data_dir):
    """Make runners on one data folder (started unless start=False); all are stopped afterwards."""
    made = []

    def make(start: bool = True, **options) -> JobRunner:
        options = {"max_concurrent": 1, "command": fake_command, "devices": [], "poll_interval": 0.05,
                   "stop_timeout": 20.0, **options}
        runner = JobRunner(data_dir, **options)
        made.append(runner)
        if start:
            runner.start()
        return runner
    yield make
    for runner in made:
        runner.stop()


def wait_for(runner: JobRunner, job_id: str, *states: str, check=lambda record: True, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        record = runner.get(job_id, ANY_OWNER)
        if record.state in states and check(record):
            return record
        if time.monotonic() > deadline or (record.state in FINISHED_STATES and record.state not in states):
            raise AssertionError(f"job {job_id} is {record.state} ({record.error}), not {states}")
        time.sleep(0.02)


def starts(record) -> list[dict]:
    path = Path(record.run_dir) / "starts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def checkpointed(record) -> bool:
    return latest_checkpoint(record.run_dir) is not None
