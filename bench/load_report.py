"""The load test's records and what it makes of them: the pass/fail check against the baseline, latency
percentiles, and the Markdown table and RESULTS.md row (bench/load_test.py runs the load)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bench.results import machine
from bench.server import Usage

ENDPOINTS = ("connect", "preview_tokens", "predict")
FD_TOLERANCE, THREAD_TOLERANCE = 5, 4
RSS_TOLERANCE_MB, RSS_TOLERANCE_SHARE = 64.0, 0.20


@dataclass
class Call:
    endpoint: str
    seconds: float
    error: str | None = None


@dataclass
class Report:
    sessions: int
    rounds: int
    model: str
    login: bool
    setup: str = "api"  # how the sessions' finished jobs were made: api (/start_job) or store (train_in_store)
    models: int = 0  # distinct finished models the sessions predict with
    calls: list[Call] = field(default_factory=list)
    warm_up_errors: list[Call] = field(default_factory=list)
    baseline: Usage | None = None
    peak: Usage | None = None
    after: Usage | None = None
    setup_seconds: float = 0.0
    load_seconds: float = 0.0
    cpu: tuple[float, float] = (0.0, 0.0)  # CPU seconds during the load: the server's, this load generator's
    training_steps: tuple[int, int] = (0, 0)  # the long job's step at the load's start and end
    training_state: str = ""  # the long job's state once cancelled
    problems: list[str] = field(default_factory=list)


def check(report: Report, training_state: str) -> list[str]:
    """What makes the run a failure: errors, the job not training, usage not back near the baseline."""
    problems = [f"{len(errors(report.calls))} call(s) failed"] if errors(report.calls) else []
    if report.warm_up_errors:
        problems.append(f"{len(report.warm_up_errors)} call(s) failed in the warm-up")
    if training_state != "running":
        problems.append(f"the long job was {training_state} at the end of the load, not running")
    elif report.training_steps[1] <= report.training_steps[0]:
        problems.append(f"the long job did not train during the load (step {report.training_steps[0]})")
    base, after = report.baseline, report.after
    if after.fds > base.fds + FD_TOLERANCE:
        problems.append(f"open files {base.fds} -> {after.fds} (more than +{FD_TOLERANCE})")
    if after.threads > base.threads + THREAD_TOLERANCE:
        problems.append(f"threads {base.threads} -> {after.threads} (more than +{THREAD_TOLERANCE})")
    rss_allowed = max(RSS_TOLERANCE_MB, RSS_TOLERANCE_SHARE * base.rss_mb)
    if after.rss_mb > base.rss_mb + rss_allowed:
        problems.append(f"RSS {base.rss_mb:.0f} -> {after.rss_mb:.0f} MB (more than +{rss_allowed:.0f} MB)")
    return problems


def errors(calls: list[Call]) -> list[Call]:
    return [c for c in calls if c.error is not None]


# ---------------------------------------------------------------- the table


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def latency_rows(report: Report) -> list[tuple[str, int, int, float, float, float]]:
    """(endpoint, calls, errors, p50 ms, p95 ms, max ms) for each endpoint called; errors' times included."""
    rows = []
    for endpoint in ENDPOINTS:
        calls = [c for c in report.calls if c.endpoint == endpoint]
        if calls:
            ms = [c.seconds * 1000 for c in calls]
            rows.append((endpoint, len(calls), sum(c.error is not None for c in calls), percentile(ms, 0.5),
                         percentile(ms, 0.95), max(ms)))
    return rows


def scenario(report: Report) -> str:
    """What ran, in one sentence: who, how much, with which models, while what trained, on what CPU time."""
    who = f"{report.sessions} signed-in students" if report.login else f"{report.sessions} sessions (no login)"
    models = "one model each" if report.models == report.sessions else f"{report.models} model(s)"
    return (f"{who} x {report.rounds} rounds of /preview_tokens + /predict, {Path(report.model).name}, {models}, "
            f"one job training (step {report.training_steps[0]} -> {report.training_steps[1]}); load "
            f"{report.load_seconds:.0f} s, CPU server {report.cpu[0]:.0f} s / load generator {report.cpu[1]:.0f} s; "
            f"load average {os.getloadavg()[0]:.1f}")


def table(report: Report) -> str:
    """The result as Markdown tables, ready for the README."""
    lines = [f"{scenario(report)}; set-up {report.setup_seconds:.0f} s through {report.setup}; {machine()}", "",
             "| endpoint | calls | errors | p50 ms | p95 ms | max ms |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {name} | {calls} | {errs} | {p50:.0f} | {p95:.0f} | {top:.0f} |"
              for name, calls, errs, p50, p95, top in latency_rows(report)]
    base, peak, after = report.baseline, report.peak, report.after
    lines += ["", "| server | baseline | peak | after |", "| --- | ---: | ---: | ---: |",
              f"| RSS MB | {base.rss_mb:.0f} | {peak.rss_mb:.0f} | {after.rss_mb:.0f} |",
              f"| open files | {base.fds} | {peak.fds} | {after.fds} |",
              f"| threads | {base.threads} | {peak.threads} | {after.threads} |", "",
              f"baseline and after read at rest; the long job then cancelled: {report.training_state}"]
    return "\n".join(lines)


def summary(report: Report) -> str:
    """One RESULTS.md row."""
    latencies = "; ".join(f"{name} {calls} calls, {errs} errors, p50 {p50:.0f} / p95 {p95:.0f} / max {top:.0f} ms"
                          for name, calls, errs, p50, p95, top in latency_rows(report))
    base, peak, after = report.baseline, report.peak, report.after
    return (f"{latencies}; server RSS {base.rss_mb:.0f} / peak {peak.rss_mb:.0f} / after {after.rss_mb:.0f} MB, open "
            f"files {base.fds} / {peak.fds} / {after.fds}, threads {base.threads} / {peak.threads} / {after.threads} "
            f"(baseline / peak / after); {'; '.join(report.problems) or 'no errors, usage back within tolerance'} "
            f"— {scenario(report)}")
