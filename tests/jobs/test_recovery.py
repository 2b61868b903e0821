"""Crash recovery: a server killed mid-run, orphaned workers, reused pids. Driven by the fake worker."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from backend.jobs.runner import JobRunner
from backend.jobs.store import SERVER_STOPPED, read_outcome
from backend.jobs.workers import is_worker
from backend.schemas import CANCELLED, INTERRUPTED, RUNNING
from tests.job_helpers import FAKE, REPO_ROOT, checkpointed, fake_command, make_spec, starts, wait_for

SERVER = """
import sys, time
from backend.jobs.runner import JobRunner
from backend.schemas import DataSpec, JobSpec
fake = sys.argv[2]
command = lambda run_dir, resume: [sys.executable, fake, "--run-dir", str(run_dir)] + (["--resume"] if resume else [])
runner = JobRunner(sys.argv[1], command=command, devices=[], poll_interval=0.05)
runner.start()
spec = JobSpec(data=DataSpec(train_csv="t.csv"), model="tiny", max_steps=300, name="slow-stop")
print(runner.submit(spec, "alice").job_id, flush=True)
time.sleep(60)
"""


def test_server_killed_worker_stops_and_recover_interrupts(runners, data_dir):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(data_dir), str(FAKE)], stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        job = server.stdout.readline().strip()
        observer = runners(start=False)  # reads the store; takes no lock
        record = wait_for(observer, job, RUNNING, check=lambda r: r.pid and checkpointed(r))
    finally:
        server.kill()
        server.wait()
    run_dir = Path(record.run_dir)

    # PR_SET_PDEATHSIG: the orphaned worker hears SIGTERM and starts its (one second long) last step.
    deadline = time.monotonic() + 30  # generous: a shared machine can be 5x slower for minutes
    while not (run_dir / "sigterm").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (run_dir / "sigterm").exists()  # (whether it is still in its last step depends on the machine's load)

    runner = runners()  # start() runs recover(), which lets the worker finish stopping rather than cutting it short
    assert not is_worker(record.pid, record.run_dir)
    assert read_outcome(run_dir)["state"] == "stopped"
    record = runner.get(job, "alice")
    assert record.state == INTERRUPTED and record.error == SERVER_STOPPED and checkpointed(record)
    runner.resume(job, "alice")
    wait_for(runner, job, RUNNING, check=lambda r: len(starts(r)) == 2)
    assert starts(record)[-1]["argv"][-1] == "--resume"


def orphan(runner: JobRunner, pid: int, job: str) -> None:
    """Make the store say job runs as pid, as a server killed mid-run would have left it."""
    assert runner.store.claim(job)
    runner.store.move(job, (RUNNING,), pid=pid)


def test_recover_stops_an_orphan_nobody_told(runners):
    runner = runners(start=False, stop_timeout=0.3)
    record = runner.submit(make_spec(steps=300), "alice")
    worker = subprocess.Popen(fake_command(Path(record.run_dir), False), start_new_session=True)
    try:
        orphan(runner, worker.pid, record.job_id)
        time.sleep(0.3)
        settled = runner.recover()
        assert worker.wait(timeout=5) == 0  # it got SIGTERM, not SIGKILL
    finally:
        worker.kill()
    assert [r.job_id for r in settled] == [record.job_id] and settled[0].state == INTERRUPTED
    assert read_outcome(Path(record.run_dir))["state"] == "stopped"


def test_recover_leaves_a_reused_pid_alone(runners):
    runner = runners(start=False, stop_timeout=0.3)
    cancelled = runner.submit(make_spec(), "alice").job_id
    lost = runner.submit(make_spec(), "alice").job_id
    stranger = subprocess.Popen(["sleep", "30"])
    try:
        orphan(runner, stranger.pid, lost)
        orphan(runner, stranger.pid, cancelled)
        runner.store.move(cancelled, (RUNNING,), cancel_requested=1)
        runner.recover()
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()
    assert runner.get(lost, "alice").state == INTERRUPTED
    assert runner.get(cancelled, "alice").state == CANCELLED
