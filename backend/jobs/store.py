"""The job store: one SQLite table of jobs, and the rule for the state a job ends in when its worker ends.

The table is shared by the UI server's threads, the runner and the command line. Every state change is a
compare-and-set (`UPDATE ... WHERE state IN (...)`), so a cancel racing the runner's start, or a script touching
the same file as the server, can never move one job along two paths at once.
"""
from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import threading
import time
from pathlib import Path

from backend.training import runs
from backend.schemas import (
    CANCELLED, COMPLETED, DIVERGED, FAILED, INTERRUPTED, QUEUED, RUNNING, JobSpec, RunRecord, StudioError,
)

SERVER_STOPPED = "The server stopped while this job ran; resume continues from the last checkpoint."
STOPPED_OUTSIDE = "The training process was stopped from outside the studio; resume continues from the last checkpoint."
LOG_MARK = "[jobs]"  # starts the runner's own lines in train.log

# What a worker's outcome.json means for the job; "stopped" depends on who asked for the stop (see settle).
OUTCOME_STATES = {"completed": COMPLETED, "diverged": DIVERGED, "failed": FAILED}

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    request_id TEXT,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    error TEXT,
    pid INTEGER,
    resume INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    queue_seq INTEGER NOT NULL,
    UNIQUE (owner, request_id)
);
CREATE INDEX IF NOT EXISTS jobs_by_queue ON jobs (state, queue_seq);
"""

# A queued job's place in the one shared FIFO: the queued jobs at or ahead of it, whoever owns them.
SELECT = """
SELECT j.*, CASE WHEN j.state = 'queued' THEN
    (SELECT COUNT(*) FROM jobs q WHERE q.state = 'queued' AND q.queue_seq <= j.queue_seq)
END AS queue_position FROM jobs j
"""

# Computed inside the statement, so two processes enqueueing at once still get distinct, ordered places.
NEXT_SEQ = "(SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM jobs)"


class JobStore:
    """DATA_DIR/jobs.sqlite3 in WAL mode: one connection behind a lock, usable from any thread."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            # autocommit (isolation_level=None): every statement is its own transaction, which is all we need.
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            problem = f"Could not open the job store {self.path} ({exc}); move it aside to start afresh."
            raise StudioError(problem) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _all(self, sql: str, params=()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _write(self, sql: str, params=()) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    def add(self, job_id: str, owner: str, spec: JobSpec, run_dir: str, request_id: str | None) -> None:
        """Queue a new job; raises sqlite3.IntegrityError when owner+request_id already exists."""
        self._write(
            "INSERT INTO jobs (job_id, owner, request_id, spec, state, run_dir, created_at, queue_seq)"
            f" VALUES (?, ?, ?, ?, ?, ?, ?, {NEXT_SEQ})",
            (job_id, owner, request_id, json.dumps(spec.to_dict()), QUEUED, run_dir, time.time()),
        )

    def get(self, job_id: str) -> sqlite3.Row | None:
        rows = self._all(SELECT + " WHERE j.job_id = ?", (job_id,))
        return rows[0] if rows else None

    def find_request(self, owner: str, request_id: str) -> sqlite3.Row | None:
        rows = self._all(SELECT + " WHERE j.owner = ? AND j.request_id = ?", (owner, request_id))
        return rows[0] if rows else None

    def rows(self, owner: str | None = None, states: tuple[str, ...] | None = None) -> list[sqlite3.Row]:
        """Newest first; owner None means every owner."""
        where, params = ["1"], []
        if owner is not None:
            where.append("j.owner = ?")
            params.append(owner)
        if states:
            where.append(f"j.state IN ({', '.join('?' * len(states))})")
            params.extend(states)
        return self._all(SELECT + f" WHERE {' AND '.join(where)} ORDER BY j.created_at DESC, j.rowid DESC", params)

    def queued(self, limit: int) -> list[sqlite3.Row]:
        return self._all(SELECT + " WHERE j.state = ? ORDER BY j.queue_seq LIMIT ?", (QUEUED, limit))

    def cancel_requests(self) -> set[str]:
        rows = self._all("SELECT job_id FROM jobs WHERE state = ? AND cancel_requested = 1", (RUNNING,))
        return {row["job_id"] for row in rows}

    def move(self, job_id: str, from_states: tuple[str, ...], **values) -> bool:
        """Set columns only while the job is in one of from_states; True if it was (the compare-and-set)."""
        # Column names come from this module's callers, never from users, so formatting them in is safe.
        sets = ", ".join(f"{column} = ?" for column in values)
        marks = ", ".join("?" * len(from_states))
        sql = f"UPDATE jobs SET {sets} WHERE job_id = ? AND state IN ({marks})"
        return self._write(sql, (*values.values(), job_id, *from_states)) == 1

    def claim(self, job_id: str) -> bool:
        """queued -> running for the runner about to start it; False if someone else moved it first."""
        return self._write(
            "UPDATE jobs SET state = ?, started_at = ?, finished_at = NULL, pid = NULL, error = NULL,"
            " attempts = attempts + 1 WHERE job_id = ? AND state = ?",
            (RUNNING, time.time(), job_id, QUEUED),
        ) == 1

    def finish(self, job_id: str, state: str, error: str | None) -> bool:
        return self.move(job_id, (RUNNING,), state=state, error=error, finished_at=time.time())

    def requeue(self, job_id: str, from_states: tuple[str, ...]) -> bool:
        """Back to the end of the queue, marked to resume from its checkpoint."""
        marks = ", ".join("?" * len(from_states))
        return self._write(
            f"UPDATE jobs SET state = ?, resume = 1, cancel_requested = 0, error = NULL, pid = NULL,"
            f" finished_at = NULL, queue_seq = {NEXT_SEQ} WHERE job_id = ? AND state IN ({marks})",
            (QUEUED, job_id, *from_states),
        ) == 1


def to_record(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        job_id=row["job_id"], owner=row["owner"], spec=JobSpec.from_dict(json.loads(row["spec"])),
        state=row["state"], run_dir=row["run_dir"], created_at=row["created_at"], started_at=row["started_at"],
        finished_at=row["finished_at"], error=row["error"], pid=row["pid"], queue_position=row["queue_position"],
        extra={"attempts": row["attempts"], "resume": bool(row["resume"]),
               "cancel_requested": bool(row["cancel_requested"])},
    )


def read_outcome(run_dir: Path) -> dict | None:
    """The worker's outcome.json, None if it wrote none; a garbled one counts as a failure, not as a crash."""
    path = Path(run_dir) / runs.OUTCOME
    if not path.exists():
        return None
    outcome = runs.read_json(path)
    if not isinstance(outcome, dict) or outcome.get("state") not in (*OUTCOME_STATES, "stopped"):
        return {"state": "failed", "reason": "The training process wrote an unreadable outcome.json."}
    return outcome


def settle(outcome: dict | None, cancel_requested: bool, stopped: str | None, lost: tuple) -> tuple[str, str | None]:
    """The final (state, error) of a job whose worker has ended.

    `stopped` explains an unrequested "stopped" outcome (None: the worker's own reason); `lost` is the
    (state, error) for a worker that left no outcome.json because it was killed or crashed.
    """
    if outcome is None:
        return (CANCELLED, lost[1]) if cancel_requested else lost
    state, reason = outcome["state"], outcome.get("reason") or None
    if state == "stopped":
        return (CANCELLED, None) if cancel_requested else (INTERRUPTED, stopped or reason or STOPPED_OUTSIDE)
    return OUTCOME_STATES[state], None if state == "completed" else reason


def last_log_line(path: Path, tail_bytes: int = 8192) -> str:
    """The last line of this attempt's log that says something: progress bars and blank lines say nothing."""
    try:
        with open(path, "rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - tail_bytes))
            text = file.read().decode("utf-8", "replace")
    except OSError:
        return ""
    for line in reversed(re.split(r"[\r\n]+", text)):
        line = line.strip()
        if line.startswith(LOG_MARK):
            break  # the runner's header: this attempt printed nothing after it
        if line and not re.search(r"\d+%\|", line):
            return line[:300]
    return ""


def crash_reason(exit_code: int, log_path: Path) -> str:
    if exit_code < 0:
        how = f"signal {signal.Signals(-exit_code).name}"
        if exit_code == -signal.SIGKILL:
            how += ": killed by someone, or by the system when the machine ran out of memory"
    else:
        how = f"exit code {exit_code}"
    line = last_log_line(log_path)
    return f"The training process ended unexpectedly ({how})." + (f" Last log line: {line}" if line else "")
