"""Fair-use limits: class defaults, flags that change them, and how they read."""
from backend.jobs.limits import Limits


def test_class_defaults_limit_everything_a_class_shares():
    limits = Limits.for_class()
    assert limits.active_jobs_per_user == 2 and limits.queue_size and limits.job_minutes
    assert limits.upload_bytes == 25 * 1024 * 1024 and limits.max_rows == 50_000


def test_flags_override_and_zero_means_no_limit():
    limits = Limits.for_class().with_overrides(active_jobs_per_user=5, queue_size=0, job_minutes=None)
    assert limits.active_jobs_per_user == 5 and limits.queue_size is None
    assert limits.job_minutes == Limits.for_class().job_minutes  # None: the flag was not given


def test_limits_read_as_sentences():
    lines = Limits(active_jobs_per_user=2, job_minutes=15.0, max_rows=50_000).describe()
    assert "Jobs queued or running per student: 2 jobs" in lines
    assert "Training time per job: 15 min" in lines and "Jobs waiting in the queue: no limit" in lines
    assert "Rows per CSV: 50,000 rows" in lines
