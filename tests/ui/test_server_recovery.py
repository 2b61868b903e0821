"""kill -9 of the server while a job trains: the worker checkpoints and stops, a restarted server shows the job
interrupted, and resume finishes it. Driven through the named API, as a script would."""
from __future__ import annotations

import os
import signal
import time

import pytest

from tests.conftest import SAMPLE_DATA
from tests.ui.conftest import AppServer


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_a_killed_server_leaves_an_interrupted_job_that_resumes_to_the_end(tmp_path, tiny_model_dir):
    from gradio_client import Client, handle_file

    server = AppServer(tmp_path, tiny_model_dir).start()
    try:
        client = Client(server.url, verbose=False)
        job = client.predict(handle_file(str(SAMPLE_DATA / "sentiment_reviews.csv")), model=str(tiny_model_dir),
                             preset="quick", max_steps=150, batch_size=16, max_length=32, api_name="/start_job")
        job_id = job["job_id"]
        status = lambda: client.predict(job_id, api_name="/job_status")  # noqa: E731
        running = wait_for(lambda: (s := status())["progress"]["step"] >= 3 and s, 120, "a few trained steps")
        worker = running["pid"]

        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        wait_for(lambda: not pid_alive(worker), 60, "the worker to stop with the server")

        server.start()
        client = Client(server.url, verbose=False)
        interrupted = client.predict(job_id, api_name="/job_status")
        assert interrupted["state"] == "interrupted"
        assert interrupted["can_resume"], interrupted
        stopped_at = interrupted["progress"]["step"]

        client.predict(job_id, api_name="/resume_job")
        done = wait_for(lambda: (s := client.predict(job_id, api_name="/job_status"))["finished"] and s, 240,
                        "the resumed job to finish")
        assert done["state"] == "completed", done["error"]
        assert done["results"]["steps"] == 150
        steps = [line["step"] for line in done["metrics"]]
        assert steps == sorted(set(steps)) and stopped_at < steps[-1] == 150  # continued, no step logged twice
    finally:
        server.stop()
