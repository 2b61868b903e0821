"""Faults seen from outside the server, against the real app: a worker killed mid-training, and a Start button
clicked more than once (in the browser and through the API)."""
from __future__ import annotations

import os
import re
import signal
import threading
import time
import urllib.request
from pathlib import Path


from backend.training import runs
from tests.conftest import SAMPLE_DATA
from tests.ui.conftest import AppServer, screenshot
from tests.ui.test_server_recovery import pid_alive, wait_for
from tests.ui.test_train_tab import job_view, prepare_job

REVIEWS = SAMPLE_DATA / "sentiment_reviews.csv"
JOB_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{4}")


def test_a_killed_worker_fails_its_job_with_the_signal_and_resume_finishes_it(tmp_path, tiny_model_dir):
    from gradio_client import Client, handle_file

    steps = 300  # a checkpoint every 30 steps (each evaluation): most of the run is still to go at the first
    server = AppServer(tmp_path, tiny_model_dir).start()
    try:
        client = Client(server.url, verbose=False)
        job = client.predict(handle_file(str(REVIEWS)), model=str(tiny_model_dir), preset="quick", max_steps=steps,
                             batch_size=8, max_length=32, api_name="/start_job")
        job_id, run_dir = job["job_id"], Path(job["run_dir"])
        status = lambda: client.predict(job_id, api_name="/job_status")  # noqa: E731
        worker = wait_for(lambda: (s := status())["state"] == "running" and s["pid"], 120, "the worker to start")
        wait_for(lambda: runs.latest_checkpoint(run_dir), 120, "a first checkpoint")

        os.kill(worker, signal.SIGKILL)
        failed = wait_for(lambda: (s := status())["finished"] and s, 60, "the job to settle")
        kept = runs.checkpoint_step(runs.latest_checkpoint(run_dir))  # the worker is gone: this is final
        assert failed["state"] == "failed", failed
        assert failed["error"].startswith("The training process ended unexpectedly (signal SIGKILL"), failed["error"]
        assert failed["can_resume"] and failed["progress"]["step"] < steps
        assert not pid_alive(worker)  # the runner reaped it: no zombie left

        assert server.process.poll() is None  # the server keeps serving: the API, and the page
        assert [j["job_id"] for j in client.predict(api_name="/list_jobs")] == [job_id]
        assert urllib.request.urlopen(server.url, timeout=10).status == 200

        client.predict(job_id, api_name="/resume_job")
        done = wait_for(lambda: (s := status())["finished"] and s, 300, "the resumed job to finish")
        assert done["state"] == "completed", done["error"]
        assert done["results"]["steps"] == steps
        second_attempt = (run_dir / runs.LOG).read_text().split("attempt 2")[-1]
        assert f"from step {kept}," in second_attempt  # it continued from the last checkpoint, not from scratch
        logged = [line["step"] for line in done["metrics"]]
        assert logged == sorted(set(logged)) and logged[-1] == steps  # no step logged twice
    finally:
        server.stop()


def job_ids(client) -> set[str]:
    return {job["job_id"] for job in client.predict(api_name="/list_jobs")}


def table_job_ids(page) -> set[str]:
    """The job ids in the cells of the tables on screen: on the Train tab, only its jobs table holds any."""
    cells = page.locator(".cell-wrap:visible").all_inner_texts()
    return {text.strip() for text in cells if JOB_ID.fullmatch(text.strip())}


def started_job(page, previous: str | None = None) -> str:
    """The job id in the "Started job ..." note, once it names a job other than `previous`."""
    note = page.get_by_text("Started job")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if note.count() and (found := JOB_ID.search(note.first.inner_text())) and found.group() != previous:
            return found.group()
        time.sleep(0.1)
    screenshot(page, "faults_no_new_note")
    raise AssertionError(f"no new 'Started job' note after {previous}")


def cancel(client, job_ids) -> None:
    """Cancel these jobs if they still run: the session's server has one worker, which the other tests need."""
    from gradio_client.exceptions import AppError

    for job_id in job_ids:
        try:
            client.predict(job_id, api_name="/cancel_job")
        except AppError:
            pass  # it already finished


def assert_only_new_job(client, before: set[str], job_id: str, seconds: float = 3.0) -> None:
    """Exactly `job_id` is new, and stays the only new one while any late duplicate request would have landed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert job_ids(client) - before == {job_id}
        time.sleep(0.25)


def test_a_double_clicked_start_makes_exactly_one_job(page, app_server, tiny_model_dir):
    from gradio_client import Client

    client = Client(app_server[0], verbose=False)
    before = job_ids(client)
    prepare_job(page, tiny_model_dir.name)
    start = page.get_by_role("button", name="Start training", exact=True)
    made = []
    try:
        start.dblclick()
        made.append(started_job(page))
        assert_only_new_job(client, before, made[0])
        job_view(page).get_by_text(made[0]).wait_for()
        assert table_job_ids(page) - before == {made[0]}
        screenshot(page, "faults_double_click")

        # Start again on the unchanged form: the same job, said so, not a second one.
        start.click()
        page.get_by_text("This form already started job").wait_for()
        assert_only_new_job(client, before, made[0])

        # A changed setting, then a burst of three fast clicks (an impatient student): one more job, not three.
        page.get_by_label("Job name (optional)").click()
        page.keyboard.type("second try")
        time.sleep(1)  # the change reaches the server (a new request id) before the clicks
        before = job_ids(client)
        start.click(click_count=3)
        made.append(started_job(page, previous=made[0]))
        assert_only_new_job(client, before, made[1])
        page.locator(".cell-wrap:visible", has_text=made[1]).first.wait_for()
        assert table_job_ids(page) - before == {made[1]}
        screenshot(page, "faults_click_burst")
    finally:
        cancel(client, made)


def test_a_second_click_right_after_the_first_is_answered_makes_no_second_job(page, app_server, tiny_model_dir):
    from gradio_client import Client

    client = Client(app_server[0], verbose=False)
    before = job_ids(client)
    prepare_job(page, tiny_model_dir.name)
    start = page.get_by_role("button", name="Start training", exact=True)
    try:
        start.click()
        first = started_job(page)
        start.click()  # the double click's second half, a moment after the first click's answer arrived
        assert_only_new_job(client, before, first)
    finally:
        cancel(client, job_ids(client) - before)


def test_concurrent_api_starts_with_one_request_id_make_one_job(app_server, tiny_model_dir):
    from gradio_client import Client, handle_file

    clients = [Client(app_server[0], verbose=False) for _ in range(4)]  # the server runs 4 events of a kind at once
    before = job_ids(clients[0])
    request_id = f"faults-{time.time_ns()}"
    answers, ready = [], threading.Barrier(len(clients))

    def start(client):
        ready.wait()
        answers.append(client.predict(handle_file(str(REVIEWS)), model=str(tiny_model_dir), preset="quick",
                                      max_steps=20, max_length=32, request_id=request_id, api_name="/start_job"))

    threads = [threading.Thread(target=start, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    try:
        assert len(answers) == len(clients) and len({answer["job_id"] for answer in answers}) == 1
        assert job_ids(clients[0]) - before == {answers[0]["job_id"]}
    finally:
        cancel(clients[0], {answer["job_id"] for answer in answers})

