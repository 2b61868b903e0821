"""Downloads from a data folder outside both the working directory and the temp dir (a real server's
`--data-dir /srv/studio`): the scored CSV and the model zip arrive in the browser, and a hand-out holds one file."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from backend.schemas import StudioError
from bench.server import AppServer
from tests.conftest import SAMPLE_DATA
from tests.ui.conftest import ROOT, assert_export_downloads, screenshot, start_sample_job, wait_state
from ui import downloads

OUTSIDE = Path("/var/tmp")  # not Python's temp dir here (checked below), nor under the working directory


@pytest.fixture(scope="module")
def server_outside(tiny_model_dir):
    data_dir = Path(tempfile.mkdtemp(prefix="studio-downloads-", dir=OUTSIDE))
    for folder in (Path(tempfile.gettempdir()), ROOT):
        assert not data_dir.resolve().is_relative_to(folder.resolve()), (data_dir, folder)
    server = AppServer(data_dir, tiny_model_dir).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def job_outside(server_outside, tiny_model_dir):
    from gradio_client import Client

    client = Client(server_outside.url, verbose=False)
    job_id = start_sample_job(client, tiny_model_dir, 4, "far away")
    wait_state(client, job_id, "completed")
    return job_id


@pytest.fixture
def far_page(browser, server_outside):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server_outside.url)
    page.get_by_text("MiniLM Studio").first.wait_for()
    yield page
    context.close()


def open_tab(page, name: str, shows: str, seconds: float = 60) -> None:
    """Open a tab and wait for one of its elements: the page's load may still be reopening the tab of last time."""
    deadline = time.monotonic() + seconds
    while True:
        page.get_by_role("tab", name=name, exact=True).click()
        try:
            page.locator(f"#{shows}").wait_for(state="visible", timeout=3_000)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise


def choose(page, elem_id: str, option: str, seconds: float = 60) -> None:
    """Pick an option once the list has it: a busy server may fill the list after the page shows."""
    deadline = time.monotonic() + seconds
    while True:
        page.locator(f"#{elem_id}").get_by_role("combobox").click()
        wanted = page.get_by_role("option", name=option, exact=False).first
        try:
            wanted.wait_for(timeout=3_000)
            wanted.click()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            page.keyboard.press("Escape")


def test_the_scored_csv_downloads_from_a_data_folder_outside(job_outside, far_page, tmp_path):
    page = far_page
    open_tab(page, "Playground", "play-run-a")
    choose(page, "play-run-a", "far away")
    page.locator("#play-batch-csv input[type=file]").set_input_files(str(SAMPLE_DATA / "sentiment_reviews.csv"))
    page.get_by_role("button", name="Score every row", exact=True).click()
    page.get_by_text("Scored ").first.wait_for()
    link = page.locator("#play-scored a[download]").first
    link.wait_for()
    screenshot(page, "download_scored_csv")
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "scored.csv"
    download.value.save_as(saved)
    scored = pd.read_csv(saved)
    assert len(scored) == len(pd.read_csv(SAMPLE_DATA / "sentiment_reviews.csv"))
    assert {"predicted_label", "confidence"} <= set(scored.columns)
    assert not page.get_by_text("allowed_paths").count()  # no library message anywhere on the page


def test_the_model_zip_downloads_from_a_data_folder_outside(job_outside, far_page, tmp_path):
    page = far_page
    open_tab(page, "Results", "results-run")
    choose(page, "results-run", "far away")
    page.get_by_text("validation rows").first.wait_for(timeout=60_000)
    assert_export_downloads(page, job_outside, tmp_path)
    screenshot(page, "download_model_zip")
    assert zipfile.ZipFile(tmp_path / "model.zip").testzip() is None
    assert not page.get_by_text("allowed_paths").count()


# ---- the hand-out itself (no browser)


def test_a_hand_out_is_one_file_in_a_fresh_unguessable_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "upload_folder", lambda: tmp_path / "gradio")
    (tmp_path / "outputs").mkdir()
    source = tmp_path / "outputs" / "scored.csv"
    source.write_text("text,predicted_label\nhi,pos\n")
    (tmp_path / "outputs" / "someone-else.csv").write_text("private")
    first, second = Path(downloads.hand_out(source)), Path(downloads.hand_out(source))
    assert first.parent != second.parent and len(first.parent.name) == 32
    assert [path.name for path in first.parent.iterdir()] == ["scored.csv"]
    assert first.read_text() == source.read_text()
    assert first.parent.parent == tmp_path / "gradio" / downloads.FOLDER


def test_old_hand_outs_are_swept_away(tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "upload_folder", lambda: tmp_path / "gradio")
    source = tmp_path / "model.zip"
    source.write_bytes(b"zip")
    old = Path(downloads.hand_out(source)).parent
    stale = time.time() - downloads.KEEP_SECONDS - 60
    os.utime(old, (stale, stale))
    fresh = Path(downloads.hand_out(source)).parent
    assert not old.exists() and fresh.is_dir()


def test_a_hand_out_that_fails_says_so_in_one_sentence(tmp_path, monkeypatch):
    blocker = tmp_path / "gradio"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setattr(downloads, "upload_folder", lambda: blocker)
    source = tmp_path / "scored.csv"
    source.write_text("x")
    with pytest.raises(StudioError, match=r"^scored\.csv is ready on the server but could not be handed to your browser"):
        downloads.hand_out(source)
