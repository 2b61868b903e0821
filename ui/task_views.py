"""The UI's one table of per-kind views: each view name a task kind declares (backend/tasks/base.py `Views`) maps
to what draws it here. The tabs look a kind's views up and call what they find; they never ask which kind it is.
A new kind reuses these views or adds its own rows below."""
from __future__ import annotations

from backend import tasks


def views_of(task: str | None):
    """The views of the kind called `task`; the single-text kind's when there is none yet (nothing checked)."""
    return tasks.get(task).views if task else tasks.KINDS[next(iter(tasks.KINDS))].views
