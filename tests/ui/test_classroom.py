"""A class on one server, in the browser: students sign in and see only their own jobs, the teacher sees the whole
class on the Class tab and can cancel any job, and a read-only demo shows chosen runs and trains nothing."""
from __future__ import annotations


import pytest

from tests.ui.conftest import CLASS_ACCOUNTS, AppServer, forget_places, login, screenshot, start_sample_job, wait_state


def sign_in(browser, server: AppServer, name: str):
    forget_places(server.data_dir)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server.url)
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(CLASS_ACCOUNTS[name][0])
    page.get_by_role("button", name="Login", exact=True).click()
    page.get_by_text(f"Signed in as {name}").wait_for()
    return context, page


def test_students_see_their_own_jobs_and_the_teacher_sees_the_class(browser, class_server, tiny_model_dir):
    ana = login(class_server, "ana")
    mine = start_sample_job(ana, tiny_model_dir, 100_000, "ana's essay model", batch_size=8)
    wait_state(ana, mine, "running", "queued")

    context, page = sign_in(browser, class_server, "ben")
    try:
        assert page.get_by_role("tab", name="Class", exact=True).count() == 0  # students have no class view
        page.get_by_role("tab", name="Train", exact=True).click()
        page.locator("#job-progress").wait_for()
        assert mine not in page.content()
    finally:
        context.close()

    context, page = sign_in(browser, class_server, "lee")
    try:
        page.get_by_text("Signed in as lee (teacher)").wait_for()
        page.get_by_role("tab", name="Class", exact=True).click()
        jobs = page.locator("#class-jobs")
        jobs.get_by_role("gridcell", name=mine, exact=True).wait_for()
        page.locator("#class-overview").get_by_text("training now").wait_for()
        page.locator("#class-people").get_by_role("gridcell", name="ana", exact=True).wait_for()
        screenshot(page, "class_tab_teacher")
        jobs.get_by_role("gridcell", name=mine, exact=True).click()
        page.get_by_role("button", name="Cancel selected job", exact=True).click()
        page.get_by_text("cancel sent").wait_for()
        wait_state(ana, mine, "cancelled")
    finally:
        context.close()


def test_a_demo_shows_chosen_runs_and_trains_nothing(browser, tmp_path, tiny_model_dir):
    from gradio_client import Client

    (tmp_path / "data").mkdir()
    server = AppServer(tmp_path / "data", tiny_model_dir).start()
    try:
        client = Client(server.url, verbose=False)
        shown, hidden = start_sample_job(client, tiny_model_dir, 4, "demo model"), start_sample_job(client, tiny_model_dir, 2, "not shown")
        wait_state(client, shown, "completed")
        wait_state(client, hidden, "completed")
    finally:
        server.stop()
    demo = AppServer(tmp_path / "data", tiny_model_dir, args=("--demo", shown)).start()
    try:
        client = Client(demo.url, verbose=False)
        assert client.predict(shown, "a lovely film", api_name="/predict")["label"]
        with pytest.raises(Exception, match="No job .* in this demo"):
            client.predict(hidden, "a lovely film", api_name="/predict")
        with pytest.raises(Exception, match="Training is off: this server is a read-only demo"):
            start_sample_job(client, tiny_model_dir, 2, "sneaky")

        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(demo.url)
        page.get_by_text("read-only demo").wait_for()
        tabs = [tab.inner_text() for tab in page.get_by_role("tab").all()]
        assert tabs == ["Playground", "Compare"]
        page.get_by_label("Text", exact=True).fill("a lovely film")
        page.get_by_role("button", name="Predict", exact=True).click()
        page.get_by_text("ms").first.wait_for()
        page.get_by_role("tab", name="Compare", exact=True).click()
        assert not page.get_by_role("button", name="Train both", exact=True).is_visible()
        screenshot(page, "demo_mode_compare")
        context.close()
    finally:
        demo.stop()


def test_a_demo_of_an_unknown_job_does_not_start(tmp_path):
    import subprocess
    import sys

    from tests.ui.conftest import ROOT

    done = subprocess.run([sys.executable, "app.py", "--data-dir", str(tmp_path), "--demo", "nope"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "There is no job nope in" in done.stderr
    assert "Traceback" not in done.stderr
