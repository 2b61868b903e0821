"""metrics.jsonl: the training process appends one JSON object a line; the UI and CLI tail it from other processes.

The writer is an accelerate `GeneralTracker`, so the loop logs with `accelerator.log(values, step=step)` as in
accelerate's examples, gets "main process only" for free, and another tracker (TensorBoard, W&B) could be added
next to it without touching the loop. Each line is written with one `write` and flushed at once, so a reader
sees whole lines, except possibly a last one still being written, which `read_metrics` leaves for next time.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from accelerate.tracking import GeneralTracker

from backend.training.runs import METRICS, TEMP_PREFIX
from backend.training.schedule import Schedule


def _json_safe(value):
    """NaN/inf are not JSON; write null (a diverged loss is explained by outcome.json)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsFile(GeneralTracker):
    """Appends `{"step": ..., **values}` lines to run_dir/metrics.jsonl."""

    name = "metrics_jsonl"
    requires_logging_directory = False
    main_process_only = True

    def __init__(self, run_dir: Path):
        super().__init__()
        self.path = Path(run_dir) / METRICS
        self._handle = None

    def start(self):
        # Called by accelerator.init_trackers on the main process only: other processes never open the file.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.path.open("a", encoding="utf-8")

    @property
    def tracker(self):
        return self._handle

    def store_init_configuration(self, values: dict):
        """The configuration lives in spec.json; metrics.jsonl holds only the curves."""

    def log(self, values: dict, step: int | None = None, **kwargs):
        record = {"step": step} if step is not None else {}
        record.update({key: _json_safe(value) for key, value in values.items()})
        self._handle.write(json.dumps(record, allow_nan=False) + "\n")
        self._handle.flush()

    def finish(self):
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def read_metrics(run_dir: Path, since_line: int = 0) -> list[dict]:
    """Records from line `since_line` (0-based) on. Poll with since_line += len(previous result).

    Only newline-terminated lines count: a last line still being written is neither returned nor counted.
    """
    try:
        text = (Path(run_dir) / METRICS).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    complete = text.split("\n")[:-1]  # the piece after the last newline is unfinished (or empty)
    records = []
    for line in complete[since_line:]:
        try:
            records.append(json.loads(line))
        except ValueError:
            records.append({})  # keep the line count right even if a line was damaged
    return records


def truncate_metrics(run_dir: Path, last_step: int) -> None:
    """Drop records after `last_step` (and any partial line): a resumed run re-logs them from its checkpoint."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return
    kept = [r for r in read_metrics(run_dir) if r and r.get("step", 0) <= last_step]
    temp = path.with_name(TEMP_PREFIX + path.name)
    temp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    temp.replace(path)


# The trainer's bookkeeping behind each metrics line and results.json.

@dataclass
class Progress:
    """Where training stands; saved in every checkpoint (accelerate wants state_dict/load_state_dict)."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0  # micro-batches of `epoch` this process has trained on: the resume position
    best_value: float | None = None
    best_step: int | None = None
    best_metrics: dict = field(default_factory=dict)
    last_metrics: dict = field(default_factory=dict)
    evals_since_best: int = 0
    train_seconds: float = 0.0
    train_samples: int = 0

    def finish_step(self, end_of_epoch: bool) -> None:
        self.step += 1
        if end_of_epoch:
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0

    def state_dict(self) -> dict:
        return dataclasses.asdict(self)

    def load_state_dict(self, state: dict) -> None:
        self.__dict__.update(state)


class Window:
    """Loss and speed since the last log line. Losses stay tensors until logged: no device sync every step."""

    def __init__(self, accelerator):
        self.accelerator = accelerator
        self.restart()

    def restart(self) -> None:
        self.loss_sum, self.batches, self.rows, self.started = None, 0, 0, time.perf_counter()

    def add(self, loss, rows: int) -> None:
        self.loss_sum = loss if self.loss_sum is None else self.loss_sum + loss
        self.batches, self.rows = self.batches + 1, self.rows + rows * self.accelerator.num_processes

    def close(self, progress: Progress, schedule: Schedule, learning_rate: float) -> dict:
        loss = self.accelerator.reduce(self.loss_sum.float() / self.batches, "mean").item()
        seconds = max(time.perf_counter() - self.started, 1e-9)  # measured after .item(): the GPU has caught up
        progress.train_seconds += seconds
        progress.train_samples += self.rows
        # The run's training speed so far (evaluations excluded): results.json's train_samples_per_second at the end,
        # so the status line and the summary give one figure; samples_per_second is this window's alone.
        average = progress.train_samples / max(progress.train_seconds, 1e-9)
        return {"epoch": round(progress.step / schedule.steps_per_epoch, 4), "loss": loss,
                "learning_rate": learning_rate, "samples_per_second": round(self.rows / seconds, 2),
                "average_samples_per_second": round(average, 2), "total_steps": schedule.total_steps}
