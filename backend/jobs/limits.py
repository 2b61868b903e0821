"""Fair use of one shared machine: how much each person may queue, how long a job may train, how big an upload may be.

Every limit is None for "no limit". A server with login starts from the class defaults, a single local user from
the generous ones; flags of app.py change any of them.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from backend.data.reading import MAX_ROWS


@dataclass(frozen=True)
class Limits:
    active_jobs_per_user: int | None = None  # queued or running jobs one person may have; teachers are exempt
    queue_size: int | None = None  # jobs waiting on the whole server
    job_minutes: float | None = None  # wall-clock cap per job: it then ends with the best model so far
    upload_mb: float | None = 200.0
    max_rows: int | None = MAX_ROWS

    @classmethod
    def for_class(cls) -> "Limits":
        """Thirty students on one machine: two jobs each ("Train both" compares two), a queue for all of them,
        a quarter of an hour per job, and data sizes a lesson needs."""
        return cls(active_jobs_per_user=2, queue_size=60, job_minutes=15.0, upload_mb=25.0, max_rows=50_000)

    def with_overrides(self, **values) -> "Limits":
        """Values from flags: None keeps the default, 0 means no limit."""
        chosen = {name: (value or None) for name, value in values.items() if value is not None}
        return replace(self, **chosen)

    @property
    def upload_bytes(self) -> int | None:
        return int(self.upload_mb * 1024 * 1024) if self.upload_mb else None

    def describe(self) -> list[str]:
        """One line per limit, as the teacher view and the app's notes show them."""
        def show(value, unit: str) -> str:
            return "no limit" if value is None else f"{value:g} {unit}" if isinstance(value, float) else f"{value:,} {unit}"
        return [
            f"Jobs queued or running per student: {show(self.active_jobs_per_user, 'jobs')}",
            f"Jobs waiting in the queue: {show(self.queue_size, 'jobs')}",
            f"Training time per job: {show(self.job_minutes, 'min')}",
            f"Upload size: {show(self.upload_mb, 'MB')}",
            f"Rows per CSV: {show(self.max_rows, 'rows')}",
        ]
