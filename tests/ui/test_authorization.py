"""Two students and a teacher on one server with login: every job action across students is denied, the teacher
reaches every job, and nothing works without signing in. Ownership comes from the login alone."""
from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.conftest import SAMPLE_DATA
from tests.ui.conftest import CLASS_ACCOUNTS, login, start_sample_job, wait_state


@pytest.fixture(scope="module")
def jobs(class_server, tiny_model_dir):
    """ana's and ben's finished jobs, then a long job of ana's that is queued or running during the tests."""
    ana, ben = login(class_server, "ana"), login(class_server, "ben")
    done = {"ana": start_sample_job(ana, tiny_model_dir, 4, "ana's"), "ben": start_sample_job(ben, tiny_model_dir, 4, "ben's")}
    wait_state(ana, done["ana"], "completed")
    wait_state(ben, done["ben"], "completed")
    live = start_sample_job(ana, tiny_model_dir, 100_000, "ana's long one")
    wait_state(ana, live, "running")
    yield {**done, "ana_live": live}
    ana.predict(live, api_name="/cancel_job")


# Every endpoint that takes a job id, as ben would call it on a job of ana's (his own job where a second is needed).
CROSS_USER_ACTIONS = {
    "job_status": lambda c, theirs, own: c.predict(theirs, api_name="/job_status"),
    "cancel_job": lambda c, theirs, own: c.predict(theirs, api_name="/cancel_job"),
    "resume_job": lambda c, theirs, own: c.predict(theirs, api_name="/resume_job"),
    "predict": lambda c, theirs, own: c.predict(theirs, "a lovely film", api_name="/predict"),
    "predict_explained": lambda c, theirs, own: c.predict(theirs, "a lovely film", "", True, api_name="/predict"),
    "compare_runs_as_a": lambda c, theirs, own: c.predict(theirs, own, api_name="/compare_runs"),
    "compare_runs_as_b": lambda c, theirs, own: c.predict(own, theirs, api_name="/compare_runs"),
    "error_analysis": lambda c, theirs, own: c.predict(theirs, api_name="/error_analysis"),
    "export_run": lambda c, theirs, own: c.predict(theirs, api_name="/export_run"),
    "score_csv": lambda c, theirs, own: c.predict(theirs, _handle(SAMPLE_DATA / "sentiment_reviews.csv"),
                                                  api_name="/score_csv"),
}


def _handle(path):
    from gradio_client import handle_file

    return handle_file(str(path))


@pytest.mark.parametrize("target", ["ana", "ana_live"])
@pytest.mark.parametrize("action", sorted(CROSS_USER_ACTIONS))
def test_a_student_cannot_act_on_another_students_job(class_server, jobs, action, target):
    ben = login(class_server, "ben")
    theirs = jobs[target]
    with pytest.raises(Exception, match=f"No job {theirs} for this user"):  # the same words as for no job at all
        CROSS_USER_ACTIONS[action](ben, theirs, jobs["ben"])
    still = login(class_server, "ana").predict(theirs, api_name="/job_status")
    assert still["state"] == ("completed" if target == "ana" else "running")  # untouched


def test_a_students_list_holds_only_their_own_jobs(class_server, jobs):
    listed = {job["job_id"] for job in login(class_server, "ben").predict(api_name="/list_jobs")}
    assert jobs["ben"] in listed and not {jobs["ana"], jobs["ana_live"]} & listed
    assert all(job["owner"] == "ben" for job in login(class_server, "ben").predict(api_name="/list_jobs"))


def test_the_teacher_reaches_every_job(class_server, jobs):
    lee = login(class_server, "lee")
    assert {jobs["ana"], jobs["ben"], jobs["ana_live"]} <= {job["job_id"] for job in lee.predict(api_name="/list_jobs")}
    assert lee.predict(jobs["ana"], api_name="/job_status")["owner"] == "ana"
    assert lee.predict(jobs["ana"], "a lovely film", api_name="/predict")["label"]
    assert lee.predict(jobs["ana"], jobs["ben"], api_name="/compare_runs")["a"]["name"] == "ana's"
    assert lee.predict(jobs["ana"], api_name="/export_run").endswith(f"minilm-studio-{jobs['ana']}.zip")


def test_the_owner_is_the_login_whatever_the_request_says(class_server, tiny_model_dir):
    ben = login(class_server, "ben")
    job_id = start_sample_job(ben, tiny_model_dir, 2, "owner check")
    assert ben.predict(job_id, api_name="/job_status")["owner"] == "ben"
    ben.predict(job_id, api_name="/cancel_job")


def test_nothing_answers_without_signing_in(class_server):
    for path in ("gradio_api/info", "config", "gradio_api/call/job_status", "gradio_api/upload"):
        request = urllib.request.Request(class_server.url + path, method="POST" if "call" in path or "upload" in path
                                         else "GET", data=b"{}" if "call" in path else None)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code in (401, 403), (path, refused.value.code)


def test_a_wrong_password_does_not_sign_in(class_server):
    from gradio_client import Client

    with pytest.raises(Exception):
        Client(class_server.url, auth=("ana", "ben-pw"), verbose=False)


def _sign_in(url: str, name: str, password: str) -> int:
    """POST the login form as the browser does; the HTTP status (200 signed in, 400 refused)."""
    body = urllib.parse.urlencode({"username": name, "password": password}).encode()
    try:
        return urllib.request.urlopen(urllib.request.Request(f"{url.rstrip('/')}/login", data=body), timeout=30).status
    except urllib.error.HTTPError as refused:
        return refused.code


def test_repeated_wrong_passwords_are_throttled_then_the_rightful_user_signs_in(class_server):
    from backend.access.users import LoginThrottle

    password = CLASS_ACCOUNTS["ben"][0]
    for _ in range(LoginThrottle.FREE["name"] + 1):
        assert _sign_in(class_server.url, "ben", "a guess") == 400
    assert _sign_in(class_server.url, "ben", password) == 400  # held back for a moment, even with the right password
    time.sleep(LoginThrottle.FIRST_WAIT_S + 0.5)
    assert _sign_in(class_server.url, "ben", password) == 200
    assert login(class_server, "ben").predict(api_name="/list_jobs") is not None
