"""Load at class scale (issue 5): 30 signed-in students preview and predict at once while a job trains.

bench/load_test.py at the size the suite can afford: the tiny model, 3 rounds, each student's finished model
trained in the job store before the server starts. No call may fail, and the server's open files, threads and
memory must be back near their warmed baseline afterwards. p95 latency is printed, never asserted: the machine
is shared.
"""
from __future__ import annotations

from bench import load_test

SESSIONS, ROUNDS = 30, 3


def test_thirty_students_preview_and_predict_while_a_job_trains(tmp_path, tiny_model_dir):
    model = str(tiny_model_dir)
    logins = load_test.make_logins(tmp_path, SESSIONS, login=True)
    job_ids = load_test.train_in_store(tmp_path / "data", load_test.owners(logins), model, steps=1)
    server = load_test.serve(tmp_path, model, logins)
    try:
        report = load_test.run_load(server, logins, model, ROUNDS, job_ids)
    finally:
        server.stop()
    print(load_test.table(report))

    failed = report.warm_up_errors + load_test.errors(report.calls)
    assert not failed, [f"{call.endpoint}: {call.error}" for call in failed[:5]]
    assert len(report.calls) == SESSIONS * (1 + 2 * ROUNDS)  # a connect, then a preview and a prediction a round
    # The long job trained through the load and then cancelled; open files, threads and RSS are back within the
    # tolerances of load_test.check.
    assert report.problems == []
