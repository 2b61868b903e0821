"""A job as a person watches it, read from the record and the run folder."""
from __future__ import annotations

import json
import time

from backend.jobs.status import job_status, job_summary, log_tail, model_name
from backend.schemas import COMPLETED, QUEUED, RUNNING, DataSpec, JobSpec, RunRecord


def record(run_dir, state=RUNNING, **extra) -> RunRecord:
    spec = JobSpec(data=DataSpec(train_csv="x.csv"), model="all-minilm-l6", batch_size=10)
    now = time.time()
    return RunRecord(job_id="job-1", owner="ana", spec=spec, state=state, run_dir=str(run_dir),
                     created_at=now - 60, started_at=now - 50, **extra)


def write_metrics(run_dir, lines):
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_progress_counts_steps_time_and_what_is_left(tmp_path):
    write_metrics(tmp_path, [
        {"step": 10, "epoch": 0.5, "loss": 0.9, "learning_rate": 1e-4, "samples_per_second": 20.0, "total_steps": 40},
        {"step": 20, "epoch": 1.0, "loss": 0.5, "learning_rate": 5e-5, "samples_per_second": 25.0, "total_steps": 40,
         "eval_accuracy": 0.8, "eval_loss": 0.4},
    ])
    status = job_status(record(tmp_path))
    progress = status["progress"]
    assert progress["step"] == 20 and progress["fraction"] == 0.5
    assert progress["remaining_s"] == 20 * 10 / 25.0  # steps left x rows per step / rows per second
    assert 49 <= progress["elapsed_s"] <= 60
    assert progress["eval"] == {"eval_accuracy": 0.8, "eval_loss": 0.4}
    assert status["can_cancel"] and not status["can_resume"] and not status["finished"]
    assert status["name"] == "all-MiniLM-L6-v2" and len(status["metrics"]) == 2


def test_a_queued_job_without_metrics_reads_cleanly(tmp_path):
    status = job_status(record(tmp_path, state=QUEUED, queue_position=2))
    assert status["progress"]["step"] == 0 and status["progress"]["remaining_s"] is None
    assert status["queue_position"] == 2 and status["metrics"] == [] and status["log_tail"] == ""


def test_a_finished_job_carries_its_results(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"metrics": {"accuracy": 0.9}}))
    status = job_status(record(tmp_path, state=COMPLETED, finished_at=time.time()))
    assert status["results"] == {"metrics": {"accuracy": 0.9}} and status["finished"] and not status["can_cancel"]


def test_the_log_tail_keeps_the_last_state_of_progress_bars(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("start\n 10%|#  | 1/10\r 50%|##### | 5/10\r100%|##########| 10/10\nTrained 10 steps.\n")
    assert log_tail(log) == "start\n100%|##########| 10/10\nTrained 10 steps."
    assert log_tail(tmp_path / "missing.log") == ""


def test_model_names_are_short():
    assert model_name("mpnet-base") == "MPNet-base"
    assert model_name("/models/my-minilm") == "my-minilm"


def test_a_summary_has_the_progress_but_not_the_log_or_curves(tmp_path):
    write_metrics(tmp_path, [{"step": 5, "loss": 0.9, "samples_per_second": 20.0, "total_steps": 10}])
    summary = job_summary(record(tmp_path))
    assert summary["progress"]["fraction"] == 0.5 and summary["name"] == "all-MiniLM-L6-v2"
    assert not {"metrics", "log_tail", "results"} & set(summary)
