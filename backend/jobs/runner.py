"""Jobs: submit, a FIFO runner that trains each job in its own process, cancel, resume and crash recovery.

The store (DATA_DIR/jobs.sqlite3) and one JobRunner per data folder are the only process-wide state. Each job
runs `python -m backend.trainer --run-dir DIR [--resume]`, which writes DIR/outcome.json as its last act; the
runner turns that file (or its absence) plus the exit code into the job's final state.
"""
from __future__ import annotations

import atexit
import dataclasses
import fcntl
import logging
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from backend.jobs.store import LOG_MARK, SERVER_STOPPED, JobStore, crash_reason, read_outcome, settle, to_record
from backend.training import runs
from backend.schemas import (
    CANCELLED, COMPLETED, DIVERGED, FAILED, INTERRUPTED, QUEUED, RESUMABLE_STATES, RUNNING, JobSpec, RunRecord,
    StudioError,
)
from backend.jobs.workers import ask_to_stop, die_with_parent, kill_group, stop_orphans

log = logging.getLogger(__name__)

ANY_OWNER = None  # passed explicitly by trusted callers (the CLI, the teacher view) to reach every job
REPO_ROOT = Path(__file__).resolve().parents[2]

RESUME_REFUSALS = {
    QUEUED: "Job {job_id} is already queued.",
    RUNNING: "Job {job_id} is still running.",
    COMPLETED: "Job {job_id} already completed; submit a new job to train further.",
    DIVERGED: "Job {job_id} diverged, so its checkpoint is not worth continuing; "
              "submit a new job with a lower learning rate.",
}

Command = Callable[[Path, bool], list]


def build_command(run_dir: Path, resume: bool) -> list[str]:
    return [sys.executable, "-m", "backend.trainer", "--run-dir", str(run_dir)] + (["--resume"] if resume else [])


def detect_devices() -> list[str]:
    """The CUDA devices jobs can be pinned to (honouring an existing CUDA_VISIBLE_DEVICES); [] without GPUs."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    listed = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    count = torch.cuda.device_count()
    return listed[:count] if listed else [str(i) for i in range(count)]


def has_checkpoint(run_dir: Path) -> bool:
    return runs.latest_checkpoint(run_dir) is not None  # complete ones only: a half-saved checkpoint cannot resume


@dataclasses.dataclass
class Worker:
    proc: subprocess.Popen
    run_dir: Path
    device: str | None
    term_at: float | None = None  # monotonic time the cancel's SIGTERM went out
    killed: bool = False


class JobRunner:
    """The job store of one data folder, plus (after start()) the thread that runs its queue."""

    def __init__(self, data_dir: str | Path, max_concurrent: int | None = None, command: Command | None = None,
                 devices: list[str] | None = None, poll_interval: float = 0.5, stop_timeout: float = 30.0,
                 kill_after: float = 120.0):
        self.data_dir = Path(data_dir).resolve()  # absolute: recover() finds workers by this path in their cmdline
        self.runs_dir = self.data_dir / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.store = JobStore(self.data_dir / "jobs.sqlite3")
        self.command = command or build_command
        self.devices = detect_devices() if devices is None else list(devices)
        self.max_concurrent = max_concurrent or max(1, len(self.devices))
        self.poll_interval, self.stop_timeout, self.kill_after = poll_interval, stop_timeout, kill_after
        self._workers: dict[str, Worker] = {}  # touched only by the runner thread
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file = None

    # ---- the API the UI and the CLI call ----

    def submit(self, spec: JobSpec, owner: str, request_id: str | None = None) -> RunRecord:
        """Queue a job. The same owner + request_id (a double-clicked Train) returns the job already made."""
        if not isinstance(owner, str) or not owner:
            raise StudioError("A job needs an owner: sign in or pass a user name.")
        if request_id and (row := self.store.find_request(owner, request_id)):
            return to_record(row)
        spec = dataclasses.replace(spec, owner=owner)
        job_id, run_dir = self._new_run_dir()
        runs.write_spec(run_dir, spec)
        try:
            self.store.add(job_id, owner, spec, str(run_dir), request_id)
        except sqlite3.IntegrityError:  # the other click won the race
            shutil.rmtree(run_dir, ignore_errors=True)
            return to_record(self.store.find_request(owner, request_id))
        self._wake.set()
        return self.get(job_id, owner)

    def get(self, job_id: str, owner: str | None) -> RunRecord:
        return to_record(self._owned(job_id, owner))

    def list_jobs(self, owner: str | None) -> list[RunRecord]:
        """Newest first; owner ANY_OWNER lists everyone's jobs (teacher view, CLI)."""
        return [to_record(row) for row in self.store.rows(owner)]

    def cancel(self, job_id: str, owner: str | None) -> RunRecord:
        """Queued: cancelled now. Running: SIGTERM; it becomes cancelled once the worker has checkpointed and exited."""
        self._owned(job_id, owner)
        if self.store.move(job_id, (QUEUED,), state=CANCELLED, finished_at=time.time()):
            return self.get(job_id, owner)
        # Not queued (any more: the runner may have just claimed it). A flag, not a signal, so that whichever
        # process runs the worker, or the next server's recover(), sees the request.
        if self.store.move(job_id, (RUNNING,), cancel_requested=1):
            self._wake.set()
            return self.get(job_id, owner)
        record = self.get(job_id, owner)
        if record.state != CANCELLED:
            raise StudioError(f"Job {job_id} already finished ({record.state}); there is nothing to cancel.")
        return record

    def resume(self, job_id: str, owner: str | None) -> RunRecord:
        """Queue a cancelled, interrupted or failed job again; its worker gets --resume, so it continues."""
        row = self._owned(job_id, owner)
        if row["state"] not in RESUMABLE_STATES:
            raise StudioError(RESUME_REFUSALS[row["state"]].format(job_id=job_id))
        if not has_checkpoint(Path(row["run_dir"])):
            raise StudioError(f"Job {job_id} has no checkpoint to resume from; submit it again as a new job.")
        if not self.store.requeue(job_id, RESUMABLE_STATES):
            raise StudioError(f"Job {job_id} changed state just now; look at it again before resuming.")
        self._wake.set()
        return self.get(job_id, owner)

    def run_inline(self, job_id: str, owner: str | None, train: Callable | None = None) -> RunRecord:
        """Run a queued job to its end in this thread, without a worker process: for tests and scripts.

        No cancel and no parent-death signal here; if this process dies, the next recover() marks the job interrupted.
        """
        row = self._owned(job_id, owner)
        run_dir = Path(row["run_dir"])
        (run_dir / runs.OUTCOME).unlink(missing_ok=True)
        if not self.store.claim(job_id):
            raise StudioError(f"Job {job_id} is not queued, so it cannot run now.")
        if train is None:
            from backend.training.trainer import train  # lazily: importing torch is slow and the store does not need it
        lost = (COMPLETED, None)  # train() returned: its results are written even if outcome.json is not
        try:
            train(runs.read_spec(run_dir), run_dir, resume=bool(row["resume"]))
        except Exception as exc:
            lost = (FAILED, f"Training failed: {exc}")
        except BaseException:  # Ctrl-C: the job stops with this process, as a worker would with the server
            self._settle(job_id, SERVER_STOPPED, (INTERRUPTED, SERVER_STOPPED))
            raise
        self._settle(job_id, None, lost)
        return self.get(job_id, owner)

    # ---- the runner's life ----

    def start(self) -> None:
        """Take this data folder's runner lock, settle what a previous server left running, start the queue thread."""
        if self._thread:
            return
        self.recover()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="job-runner", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def stop(self) -> None:
        """Server shutdown: SIGTERM running workers, wait for their checkpoints, mark them interrupted.

        Queued jobs stay queued for the next server. Also registered with atexit by start().
        """
        if self._thread:
            self._stopping.set()
            self._wake.set()
            self._thread.join()
            self._thread = None
            atexit.unregister(self.stop)
        if self._lock_file:
            self._lock_file.close()
            self._lock_file = None

    def recover(self) -> list[RunRecord]:
        """Settle jobs a previous server left "running" (its worker is gone, or stopped now); returns them."""
        if self._thread:
            return []  # while we run, we hold the lock: every running job is ours
        self._hold_lock()
        rows = self.store.rows(states=(RUNNING,))
        stop_orphans([(row["pid"], row["run_dir"]) for row in rows if row["pid"]], self.stop_timeout)
        for row in rows:
            self._settle(row["job_id"], SERVER_STOPPED, (INTERRUPTED, SERVER_STOPPED))
        return [self.get(row["job_id"], ANY_OWNER) for row in rows]

    def _hold_lock(self) -> None:
        """One runner per data folder, or recover() would take another live server's jobs for orphans.

        The kernel releases a flock when this process dies, however it dies; Popen's close_fds keeps the workers
        from inheriting it (a worker outliving the server would otherwise hold the lock).
        """
        if self._lock_file:
            return
        lock_file = open(self.data_dir / "runner.lock", "w")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise StudioError(f"Another MiniLM Studio server is already running the jobs in {self.data_dir}.") from None
        self._lock_file = lock_file

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self._tick()
            except Exception:  # a locked database or a full disk must not end the thread that owns the workers
                log.exception("job runner: poll failed; trying again")
            self._wake.wait(self.poll_interval)
        self._shutdown()

    def _tick(self) -> None:
        self._reap()
        self._signal_cancels()
        for row in self.store.queued(max(0, self.max_concurrent - len(self._workers))):
            self._launch(row)

    def _launch(self, row) -> None:
        job_id, run_dir = row["job_id"], Path(row["run_dir"])
        (run_dir / runs.OUTCOME).unlink(missing_ok=True)  # an earlier attempt's outcome must not speak for this one
        if not self.store.claim(job_id):
            return  # cancelled between our query and now
        device = self._pick_device()
        try:
            command = [str(part) for part in self.command(run_dir, bool(row["resume"]))]
            with open(run_dir / runs.LOG, "ab") as log_file:
                stamp = time.strftime("%Y-%m-%d %H:%M:%S")
                log_file.write(f"{LOG_MARK} attempt {row['attempts'] + 1} at {stamp}: {' '.join(command)}\n".encode())
                log_file.flush()
                proc = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=self._env(device),
                    start_new_session=True, preexec_fn=die_with_parent(os.getpid()),
                )
        except Exception as exc:  # claimed but never started: it must not stay "running"
            self.store.finish(job_id, FAILED, f"The training process could not start: {exc}.")
            return
        self._workers[job_id] = Worker(proc, run_dir, device)  # tracked before anything else can fail
        self.store.move(job_id, (RUNNING,), pid=proc.pid)
        log.info("job %s started (pid %s)", job_id, proc.pid)

    def _pick_device(self) -> str | None:
        """With several GPUs, pin each job to the least busy one; with one or none, leave the environment alone."""
        if len(self.devices) < 2:
            return None
        busy = [worker.device for worker in self._workers.values()]
        return min(self.devices, key=busy.count)

    def _env(self, device: str | None) -> dict[str, str]:
        # The server's working directory stays the worker's, so relative CSV paths in a spec mean the same thing.
        env = dict(os.environ, PYTHONUNBUFFERED="1")  # so a crash's last words reach train.log
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        if device is not None:
            env["CUDA_VISIBLE_DEVICES"] = device
        return env

    def _reap(self) -> None:
        for job_id, worker in list(self._workers.items()):
            code = worker.proc.poll()
            if code is None:
                continue
            if worker.killed:
                reason = (f"The training process did not stop within {self.kill_after:.0f} s and was killed; "
                          "the last checkpoint is kept.")
            else:
                reason = crash_reason(code, worker.run_dir / runs.LOG)
            self._settle(job_id, None, (FAILED, reason))
            del self._workers[job_id]  # only once settled: if the store was busy, the next poll tries again

    def _signal_cancels(self) -> None:
        wanted, now = self.store.cancel_requests(), time.monotonic()
        for job_id, worker in self._workers.items():
            if job_id in wanted and worker.term_at is None:
                ask_to_stop(worker.proc.pid)
                worker.term_at = now
            elif worker.term_at is not None and not worker.killed and now - worker.term_at > self.kill_after:
                kill_group(worker.proc.pid)  # it ignored the request: no job stays running forever
                worker.killed = True

    def _shutdown(self) -> None:
        for worker in self._workers.values():
            if worker.term_at is None:  # one request is enough: a worker already stopping ignores more
                ask_to_stop(worker.proc.pid)
        deadline = time.monotonic() + self.stop_timeout
        for job_id, worker in self._workers.items():
            try:
                worker.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                kill_group(worker.proc.pid)
                worker.proc.wait()
            self._settle(job_id, SERVER_STOPPED, (INTERRUPTED, SERVER_STOPPED))
        self._workers.clear()

    def _settle(self, job_id: str, stopped: str | None, lost: tuple) -> None:
        row = self.store.get(job_id)
        state, error = settle(read_outcome(Path(row["run_dir"])), bool(row["cancel_requested"]), stopped, lost)
        self.store.finish(job_id, state, error)
        if state == COMPLETED:
            # A completed job is never resumed, and its checkpoint (optimizer state: about three times the model)
            # would only fill a class's disk. CLI runs keep theirs; they are not jobs.
            shutil.rmtree(Path(row["run_dir"]) / runs.CHECKPOINTS, ignore_errors=True)
        log.info("job %s %s%s", job_id, state, f": {error}" if error else "")

    def _new_run_dir(self) -> tuple[str, Path]:
        while True:
            job_id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
            try:
                (self.runs_dir / job_id).mkdir()
                return job_id, self.runs_dir / job_id
            except FileExistsError:
                continue  # two submits in one second drew the same suffix

    def _owned(self, job_id: str, owner: str | None):
        row = self.store.get(job_id)
        if row is None or (owner is not ANY_OWNER and row["owner"] != owner):
            raise StudioError(f"No job {job_id} for this user.")  # never reveal that another user's job exists
        return row

