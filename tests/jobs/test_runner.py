"""The job store and runner, driven by a fake worker (tests/fakes/fake_trainer.py) that keeps the trainer's contract."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from backend.jobs.runner import ANY_OWNER
from backend.jobs.store import SERVER_STOPPED, read_outcome
from backend.training.runs import checkpoint_step, latest_checkpoint
from backend.schemas import (
    CANCELLED, COMPLETED, DIVERGED, FAILED, INTERRUPTED, QUEUED, RUNNING, DataSpec, JobSpec,
    StudioError,
)

from tests.job_helpers import REPO_ROOT, checkpointed, make_spec, starts, wait_for


# ---- life of a job ----

def test_submit_runs_to_completed(runners):
    runner = runners(start=False)
    record = runner.submit(make_spec(), "alice")
    assert record.state == QUEUED and record.queue_position == 1 and record.owner == "alice"
    assert record.job_id.count("-") == 2 and Path(record.run_dir).name == record.job_id
    assert JobSpec.load(Path(record.run_dir) / "spec.json").owner == "alice"

    runner.start()
    running = wait_for(runner, record.job_id, RUNNING, check=lambda r: r.pid is not None)
    assert running.queue_position is None and running.started_at
    done = wait_for(runner, record.job_id, COMPLETED)
    assert done.error is None and done.finished_at >= done.started_at and done.extra["attempts"] == 1
    assert (Path(done.run_dir) / "results.json").exists()
    log_text = (Path(done.run_dir) / "train.log").read_text()
    assert "[jobs] attempt 1" in log_text and "step 6/6" in log_text


def test_fifo_order_and_queue_positions(runners):
    runner = runners(start=False)
    jobs = [runner.submit(make_spec(steps=4), "alice").job_id for _ in range(3)]
    assert [runner.get(job, "alice").queue_position for job in jobs] == [1, 2, 3]
    assert [r.job_id for r in runner.list_jobs("alice")] == jobs[::-1]  # newest first

    runner.start()
    wait_for(runner, jobs[0], RUNNING)
    assert [runner.get(job, "alice").queue_position for job in jobs[1:]] == [1, 2]
    done = [wait_for(runner, job, COMPLETED) for job in jobs]
    for earlier, later in zip(done, done[1:]):
        assert later.started_at >= earlier.finished_at  # one at a time, in submission order


def test_two_at_once_each_pinned_to_its_own_gpu(runners):
    runner = runners(max_concurrent=2, devices=["0", "1"])
    jobs = [runner.submit(make_spec(steps=10), "alice").job_id for _ in range(2)]
    records = [wait_for(runner, job, RUNNING, check=lambda r: starts(r)) for job in jobs]
    assert sorted(starts(r)[0]["cuda"] for r in records) == ["0", "1"]
    for job in jobs:
        wait_for(runner, job, COMPLETED)


def test_cancel_queued_never_runs(runners):
    runner = runners(start=False)
    job = runner.submit(make_spec(), "alice").job_id
    record = runner.cancel(job, "alice")
    assert record.state == CANCELLED and record.finished_at and record.queue_position is None
    assert runner.cancel(job, "alice").state == CANCELLED  # a second click is harmless
    runner.start()
    time.sleep(0.3)
    assert runner.get(job, "alice").state == CANCELLED and starts(record) == []
    with pytest.raises(StudioError, match="no checkpoint"):
        runner.resume(job, "alice")


def test_cancel_running_keeps_checkpoint_and_resume_completes(runners):
    runner = runners()
    job = runner.submit(make_spec(steps=30), "alice").job_id
    wait_for(runner, job, RUNNING, check=checkpointed)
    asked = runner.cancel(job, "alice")
    assert asked.state in (RUNNING, CANCELLED) and asked.extra["cancel_requested"]
    record = wait_for(runner, job, CANCELLED)
    assert record.error is None and checkpointed(record) and checkpointed(record)
    assert read_outcome(Path(record.run_dir))["state"] == "stopped"
    stopped_at = checkpoint_step(latest_checkpoint(record.run_dir))
    assert 0 < stopped_at < 30

    requeued = runner.resume(job, "alice")
    # The runner polls every 0.05 s, so it may already have picked the job up again.
    assert requeued.state in (QUEUED, RUNNING) and requeued.extra["resume"] and not requeued.extra["cancel_requested"]
    wait_for(runner, job, RUNNING, check=lambda r: len(starts(r)) == 2 and r.extra["attempts"] == 2)
    assert starts(record)[-1]["argv"][-1] == "--resume"
    runner.cancel(job, "alice")  # a resumed job can be stopped and resumed again
    wait_for(runner, job, CANCELLED)
    runner.resume(job, "alice")
    done = wait_for(runner, job, COMPLETED, timeout=90)
    assert done.extra["attempts"] == 3 and len(starts(done)) == 3
    assert f"starting at step {stopped_at}" in (Path(done.run_dir) / "train.log").read_text()


def test_worker_exit_1_fails_with_the_last_log_line(runners):
    runner = runners()
    job = runner.submit(make_spec("crash"), "alice").job_id
    record = wait_for(runner, job, FAILED)
    assert "ended unexpectedly (exit code 1)" in record.error
    assert "RuntimeError: fake failure at step 3" in record.error
    assert checkpointed(record)  # steps 1-2 were saved: it can resume


def test_worker_killed_fails_with_the_signal(runners):
    runner = runners()
    job = runner.submit(make_spec(steps=300), "alice").job_id
    record = wait_for(runner, job, RUNNING, check=lambda r: r.pid and checkpointed(r))
    os.kill(record.pid, signal.SIGKILL)
    record = wait_for(runner, job, FAILED)
    assert "(signal SIGKILL" in record.error and "Last log line: step" in record.error


def test_diverged_and_failed_outcomes_keep_their_reason(runners):
    runner = runners(max_concurrent=2)
    diverged = runner.submit(make_spec("diverge"), "alice").job_id
    failed = runner.submit(make_spec("fail", steps=2), "alice").job_id
    record = wait_for(runner, diverged, DIVERGED)
    assert record.error == "The loss became NaN at step 3."
    with pytest.raises(StudioError, match="diverged"):
        runner.resume(diverged, "alice")
    assert wait_for(runner, failed, FAILED).error == "The eval CSV has no rows."


def test_worker_deaf_to_sigterm_is_killed_after_the_grace(runners):
    runner = runners(kill_after=0.3)
    job = runner.submit(make_spec("deaf", steps=300), "alice").job_id
    wait_for(runner, job, RUNNING, check=checkpointed)
    runner.cancel(job, "alice")
    record = wait_for(runner, job, CANCELLED)
    assert "did not stop within" in record.error and checkpointed(record)


def test_resume_refusals_say_why(runners):
    runner = runners()
    job = runner.submit(make_spec(steps=300), "alice").job_id
    wait_for(runner, job, RUNNING)
    with pytest.raises(StudioError, match="still running"):
        runner.resume(job, "alice")
    done = runner.submit(make_spec(steps=1), "alice").job_id
    with pytest.raises(StudioError, match="already queued"):
        runner.resume(done, "alice")
    runner.cancel(job, "alice")
    wait_for(runner, done, COMPLETED)
    with pytest.raises(StudioError, match="already completed"):
        runner.resume(done, "alice")
    with pytest.raises(StudioError, match="already finished"):
        runner.cancel(done, "alice")


def test_stop_interrupts_running_jobs_and_keeps_the_queue(runners):
    runner = runners()
    running = runner.submit(make_spec(steps=300), "alice").job_id
    waiting = runner.submit(make_spec(), "alice").job_id
    wait_for(runner, running, RUNNING, check=checkpointed)
    runner.stop()
    record = runner.get(running, "alice")
    assert record.state == INTERRUPTED and record.error == SERVER_STOPPED and checkpointed(record)
    assert read_outcome(Path(record.run_dir))["state"] == "stopped"
    assert runner.get(waiting, "alice").state == QUEUED


def test_stop_while_cancelling_does_not_signal_twice(runners):
    runner = runners()
    job = runner.submit(make_spec("slow-stop", steps=300), "alice").job_id
    record = wait_for(runner, job, RUNNING, check=checkpointed)
    runner.cancel(job, "alice")
    while not (Path(record.run_dir) / "sigterm").exists():
        time.sleep(0.02)
    runner.stop()  # a second SIGTERM now would kill the worker before its checkpoint
    record = runner.get(job, "alice")
    assert record.state == CANCELLED and record.error is None
    assert read_outcome(Path(record.run_dir))["state"] == "stopped"


def test_a_worker_that_cannot_start_fails_at_once(runners):
    runner = runners(command=lambda run_dir, resume: ["/nonexistent/python", "-m", "backend.trainer"])
    job = runner.submit(make_spec(), "alice").job_id
    assert "could not start" in wait_for(runner, job, FAILED).error


# ---- submit and owners ----

def test_same_request_id_makes_one_job(runners, data_dir):
    runner = runners(start=False)
    first = runner.submit(make_spec(), "alice", request_id="click-1")
    assert runner.submit(make_spec(), "alice", request_id="click-1").job_id == first.job_id
    assert runner.submit(make_spec(), "bob", request_id="click-1").job_id != first.job_id

    results = []
    threads = [threading.Thread(target=lambda: results.append(runner.submit(make_spec(), "carol", "click-2")))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({record.job_id for record in results}) == 1
    assert len(runner.list_jobs(ANY_OWNER)) == 3 and len(list((data_dir / "runs").iterdir())) == 3


def test_owners_see_and_touch_only_their_jobs(runners):
    runner = runners(start=False)
    alice = runner.submit(make_spec(), "alice").job_id
    bob = runner.submit(make_spec(), "bob").job_id
    for call in (runner.get, runner.cancel, runner.resume):
        with pytest.raises(StudioError, match=f"^No job {alice} for this user.$"):
            call(alice, "bob")
    with pytest.raises(StudioError, match="^No job nope for this user.$"):  # unknown and foreign read alike
        runner.get("nope", "bob")
    assert [r.job_id for r in runner.list_jobs("bob")] == [bob]
    assert {r.job_id for r in runner.list_jobs(ANY_OWNER)} == {alice, bob}
    assert runner.cancel(alice, ANY_OWNER).state == CANCELLED  # the teacher may
    with pytest.raises(StudioError, match="needs an owner"):
        runner.submit(make_spec(), "")


def test_store_survives_a_restart(runners):
    first = runners()
    done = first.submit(make_spec(steps=2), "alice").job_id
    wait_for(first, done, COMPLETED)
    first.stop()
    waiting = first.submit(make_spec(steps=2), "alice").job_id

    second = runners()
    assert second.get(done, "alice").state == COMPLETED
    assert wait_for(second, waiting, COMPLETED).owner == "alice"


def test_one_runner_per_data_folder(runners):
    runners()
    with pytest.raises(StudioError, match="Another MiniLM Studio server"):
        runners()


def test_run_inline(runners):
    runner = runners(start=False)
    calls = []

    def train(spec, run_dir, resume=False):
        calls.append((spec.owner, resume))
        (run_dir / "outcome.json").write_text('{"state": "completed", "reason": ""}')
        return {}
    job = runner.submit(make_spec(), "alice").job_id
    assert runner.run_inline(job, "alice", train=train).state == COMPLETED and calls == [("alice", False)]

    def broken(spec, run_dir, resume=False):
        raise ValueError("no label column")
    job = runner.submit(make_spec(), "alice").job_id
    assert runner.run_inline(job, "alice", train=broken).error == "Training failed: no label column"


# ---- the real trainer ----

def trainer_entry_point_exists() -> bool:
    trainer = REPO_ROOT / "backend" / "trainer.py"
    return trainer.exists() and "__main__" in trainer.read_text()


def tiny_spec(tiny_model_dir: Path, write_csv, **options) -> JobSpec:
    rows = [f"good great fine item {i},pos" if i % 2 else f"bad awful poor item {i},neg" for i in range(24)]
    csv = write_csv("text,label\n" + "\n".join(rows) + "\n")
    return JobSpec(data=DataSpec(train_csv=str(csv)), model=str(tiny_model_dir), batch_size=8, max_length=16, **options)


needs_trainer = pytest.mark.skipif(not trainer_entry_point_exists(), reason="backend/trainer.py has no entry point yet")


@needs_trainer
def test_real_trainer_cancel_resume_complete(runners, tiny_model_dir, write_csv):
    runner = runners(command=None)
    spec = tiny_spec(tiny_model_dir, write_csv, max_steps=40, checkpoint_every_steps=5, eval_every_steps=5)
    job = runner.submit(spec, "alice").job_id
    wait_for(runner, job, RUNNING, check=checkpointed, timeout=300)
    runner.cancel(job, "alice")
    record = wait_for(runner, job, CANCELLED, timeout=120)
    assert read_outcome(Path(record.run_dir))["state"] == "stopped"
    stopped_at = checkpoint_step(latest_checkpoint(record.run_dir))
    assert stopped_at < 40

    runner.resume(job, "alice")
    record = wait_for(runner, job, COMPLETED, timeout=300)
    assert "--resume" in (Path(record.run_dir) / "train.log").read_text()
    assert (Path(record.run_dir) / "results.json").exists() and (Path(record.run_dir) / "model" / "config.json").exists()
