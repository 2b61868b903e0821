"""Browser tests: the real app in its own process, driven by Debian's Chromium through Playwright.

Screenshots land in tests/ui/screenshots/ so a person can look at what the test saw.
"""
from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from bench.server import AppServer  # the launcher the benchmarks use too
from tests.conftest import SAMPLE_DATA

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, tiny_model_dir, tiny_model_dir_b):
    """The app on a fresh data folder for the whole session; yields (url, data_dir)."""
    server = AppServer(tmp_path_factory.mktemp("studio-data"), tiny_model_dir, tiny_model_dir_b).start()
    try:
        yield server.url, server.data_dir
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `make test` (scripts/setup.sh test installs it).")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def forget_places(data_dir: Path) -> None:
    """Each test's page starts as a new person's: on the Data tab with nothing checked (the app keeps where a person
    left off, data/places/, and the session's server is shared by all tests)."""
    for place in (Path(data_dir) / "places").glob("*.json"):
        place.unlink(missing_ok=True)


@pytest.fixture
def page(browser, app_server):
    forget_places(app_server[1])
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_server[0])
    page.get_by_text("MiniLM Studio").first.wait_for()
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


CLASS_ACCOUNTS = {"ana": ("ana-pw", "student"), "ben": ("ben-pw", "student"), "lee": ("lee-pw", "teacher")}


@pytest.fixture(scope="session")
def class_server(tmp_path_factory, tiny_model_dir, tiny_model_dir_b):
    """The app with login for two students (ana, ben) and a teacher (lee), on its own data folder."""
    data_dir = tmp_path_factory.mktemp("class-data")
    users = data_dir.parent / "class-users.csv"
    users.write_text("username,password,role\n" + "".join(f"{name},{pw},{role}\n"
                                                          for name, (pw, role) in CLASS_ACCOUNTS.items()))
    server = AppServer(data_dir, tiny_model_dir, tiny_model_dir_b, args=("--users", str(users))).start()
    try:
        yield server
    finally:
        server.stop()


def login(server: AppServer, name: str):
    """A gradio_client session signed in as one of CLASS_ACCOUNTS."""
    from gradio_client import Client

    return Client(server.url, auth=(name, CLASS_ACCOUNTS[name][0]), verbose=False)


def start_sample_job(client, model_dir, steps: int, name: str, batch_size: int = 16) -> str:
    """A job on the sentiment sample through /start_job; returns its id."""
    from gradio_client import handle_file

    return client.predict(handle_file(str(SAMPLE_DATA / "sentiment_reviews.csv")), model=str(model_dir),
                          preset="quick", max_steps=steps, batch_size=batch_size, max_length=32, name=name,
                          api_name="/start_job")["job_id"]


def wait_state(client, job_id: str, *states: str, timeout: float = 300) -> dict:
    """The job's status once it is in one of `states`, through /job_status."""
    deadline = time.monotonic() + timeout
    while (status := client.predict(job_id, api_name="/job_status"))["state"] not in states:
        assert time.monotonic() < deadline, f"job {job_id} is {status['state']}, not {states}"
        time.sleep(0.5)
    return status


def finished_pair(url: str, model_dir, csv, prefix: str, **options) -> list[str]:
    """Two finished jobs (seeds 1 and 2) on a CSV, started through /start_job as a script would; their ids."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    jobs = [client.predict(handle_file(str(csv)), model=str(model_dir), preset="quick", max_steps=8, batch_size=16,
                           seed=seed, name=f"{prefix} seed {seed}", api_name="/start_job", **options)["job_id"]
            for seed in (1, 2)]
    for job in jobs:
        wait_state(client, job, "completed", "failed", "diverged", "cancelled")
    states = [client.predict(job, api_name="/job_status")["state"] for job in jobs]
    assert states == ["completed", "completed"], states
    return jobs


def assert_export_downloads(page, job_id: str, tmp_path) -> None:
    """The Results tab's Prepare download gives a zip with the model's config and its model card."""
    page.get_by_role("button", name="Prepare download", exact=True).click()
    link = page.locator(f"a[href$='minilm-studio-{job_id}.zip']")
    link.wait_for(timeout=60_000)
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "model.zip"
    download.value.save_as(saved)
    names = zipfile.ZipFile(saved).namelist()
    assert any(name.endswith("/config.json") for name in names) and any(name.endswith("/README.md") for name in names)
