"""One job as a person watches it: its record, progress, curves, results and log tail, as plain JSON-safe data.

Everything is read from the job store and the run folder on every call, so a page reload or a server restart
reattaches to the same job with nothing lost.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

from backend.models import catalog
from backend.schemas import FINISHED_STATES, QUEUED, RESUMABLE_STATES, RUNNING, RunRecord
from backend.training import runs, tracking

LOG_TAIL_LINES = 12
LOG_TAIL_BYTES = 16_384
_CARRIAGE = re.compile(r"[^\n]*\r(?!\n)")  # progress-bar redraws: keep only what follows the last \r of a line


def job_summary(record: RunRecord, now: float | None = None, lines: list[dict] | None = None) -> dict:
    """The record with its name and progress: what a job list shows, cheap enough for every job on every poll."""
    lines = tracking.read_metrics(Path(record.run_dir)) if lines is None else lines
    summary = record.to_dict()
    summary.pop("spec")
    summary.update(model=record.spec.model, name=record.spec.name or model_name(record.spec.model),
                   progress=progress(record, lines, now or time.time()), finished=record.state in FINISHED_STATES)
    return summary


def job_status(record: RunRecord, now: float | None = None) -> dict:
    """The summary plus what the watched job's run folder says: metric lines, results, log tail, allowed actions."""
    run_dir = Path(record.run_dir)
    lines = tracking.read_metrics(run_dir)
    tail = log_tail(run_dir / "train.log")
    return job_summary(record, now, lines) | {
        "metrics": [line for line in lines if line],
        "results": runs.read_results(run_dir) if record.state in FINISHED_STATES else None,
        "log_tail": tail,
        "download": download_in(tail) if record.state == RUNNING and not lines else None,
        "can_cancel": record.state in (QUEUED, RUNNING),
        "can_resume": record.state in RESUMABLE_STATES and runs.latest_checkpoint(run_dir) is not None,
    }


def model_name(model: str) -> str:
    """A short readable name for a catalog key or a model folder (no resolving: this runs on every poll)."""
    info = catalog.MODELS.get(model)
    return info.display_name if info else Path(model).name


def progress(record: RunRecord, lines: list[dict], now: float) -> dict:
    """Step, share done, elapsed and remaining time, throughput, latest loss and evaluation."""
    train_lines = [line for line in lines if "loss" in line]
    eval_lines = [line for line in lines if any(key.startswith("eval_") for key in line)]
    last = train_lines[-1] if train_lines else {}
    step, total = last.get("step", 0), last.get("total_steps") or 0
    end = record.finished_at or now
    elapsed = max(0.0, end - record.started_at) if record.started_at else 0.0
    speed = last.get("samples_per_second")
    remaining = None
    if record.state == RUNNING and speed and total:
        rows_left = (total - step) * record.spec.batch_size * record.spec.gradient_accumulation_steps
        remaining = rows_left / speed
    return {
        "step": step, "total_steps": total, "fraction": min(1.0, step / total) if total else 0.0,
        "epoch": last.get("epoch"), "elapsed_s": round(elapsed, 1),
        "remaining_s": round(remaining, 1) if remaining is not None else None,
        "samples_per_second": speed, "loss": last.get("loss"), "learning_rate": last.get("learning_rate"),
        "average_samples_per_second": last.get("average_samples_per_second"),  # = results.json's, once finished
        "eval": {k: v for k, v in eval_lines[-1].items() if k.startswith("eval_")} if eval_lines else {},
        "eval_step": eval_lines[-1].get("step") if eval_lines else None,
    }


def download_in(tail: str) -> str | None:
    """'Downloading MiniLM-L12-H384: 40 of 133 MB' while the trainer fetches its model from the hub (its last line)."""
    last = tail.splitlines()[-1] if tail else ""
    return last if last.startswith("Downloading ") else None


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of train.log, with progress-bar redraws collapsed to their latest state."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    text = _CARRIAGE.sub("", text)
    return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])
