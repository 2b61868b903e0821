"""How long a run trains and when it logs, evaluates and checkpoints, counted in optimizer steps; and the learning
rate along the way. The trainer's loop asks it; tracking's log lines read it."""
from __future__ import annotations

import math
from dataclasses import dataclass

from backend.schemas import JobSpec, StudioError

EVALUATIONS_PER_RUN, MIN_EVAL_INTERVAL = 10, 10  # automatic eval interval: ~10 per run, not more often than 10 steps
LOG_POINTS, MAX_LOG_INTERVAL = 100, 50  # ~100 points on the loss curve, at least one every 50 steps


@dataclass(frozen=True)
class Schedule:
    """How long to train and when to log, evaluate and checkpoint, counted in optimizer steps."""

    total_steps: int
    steps_per_epoch: int
    log_every: int
    eval_every: int
    checkpoint_every: int | None  # None: whenever it evaluates

    @classmethod
    def for_run(cls, spec: JobSpec, batches_per_epoch: int) -> "Schedule":
        steps_per_epoch = math.ceil(batches_per_epoch / spec.gradient_accumulation_steps)
        total = spec.max_steps or math.ceil(spec.epochs * steps_per_epoch)
        if total < 1:
            raise StudioError("Nothing to train: set epochs or max_steps above 0.")
        eval_every = spec.eval_every_steps or max(MIN_EVAL_INTERVAL, math.ceil(total / EVALUATIONS_PER_RUN))
        log_every = max(1, min(MAX_LOG_INTERVAL, total // LOG_POINTS))
        return cls(total, steps_per_epoch, log_every, eval_every, spec.checkpoint_every_steps)

    def eval_due(self, step: int) -> bool:
        return step % self.eval_every == 0 or step % self.steps_per_epoch == 0 or step >= self.total_steps

    def checkpoint_due(self, step: int) -> bool:
        return self.eval_due(step) if self.checkpoint_every is None else step % self.checkpoint_every == 0

    def log_due(self, step: int) -> bool:
        # Every evaluation and checkpoint also logs: the divergence check must pass before anything is saved.
        return step % self.log_every == 0 or self.eval_due(step) or self.checkpoint_due(step)

    def lr_scheduler(self, optimizer, warmup_ratio: float):
        from transformers import get_linear_schedule_with_warmup

        return get_linear_schedule_with_warmup(optimizer, math.ceil(warmup_ratio * self.total_steps), self.total_steps)
