"""The job store's rules: which state a worker's outcome means, and which log line explains a crash."""
from __future__ import annotations

import pytest

from backend.jobs.store import last_log_line, read_outcome, settle
from backend.schemas import CANCELLED, COMPLETED, DIVERGED, FAILED, INTERRUPTED


@pytest.mark.parametrize("outcome, cancel, expected", [
    ({"state": "completed", "reason": ""}, False, (COMPLETED, None)),
    ({"state": "completed", "reason": ""}, True, (COMPLETED, None)),
    ({"state": "diverged", "reason": "NaN"}, False, (DIVERGED, "NaN")),
    ({"state": "failed", "reason": "bad CSV"}, True, (FAILED, "bad CSV")),
    ({"state": "stopped", "reason": "at step 4"}, True, (CANCELLED, None)),
    ({"state": "stopped", "reason": "at step 4"}, False, (INTERRUPTED, "at step 4")),
    (None, False, (FAILED, "crashed")),
    (None, True, (CANCELLED, "crashed")),
])
def test_settle_maps_outcomes_to_states(outcome, cancel, expected):
    assert settle(outcome, cancel, None, (FAILED, "crashed")) == expected


def test_unreadable_outcome_is_a_failure(tmp_path):
    (tmp_path / "outcome.json").write_text('{"state": "compl')
    assert read_outcome(tmp_path)["state"] == "failed"


def test_last_log_line_skips_progress_bars_and_earlier_attempts(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("[jobs] attempt 1\nOSError: old\n[jobs] attempt 2\nValueError: boom\n"
                   " 40%|####  | 4/10\r 50%|#####\n\n")
    assert last_log_line(log) == "ValueError: boom"
    log.write_text("OSError: old\n[jobs] attempt 2\n")
    assert last_log_line(log) == ""
