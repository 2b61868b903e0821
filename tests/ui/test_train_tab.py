"""The Train tab as a person uses it: start a job, watch it live, reload, cancel, resume."""
from __future__ import annotations

from tests.ui.conftest import screenshot


def prepare_job(page, model_name: str, epochs: int | None = None) -> None:
    """Sample data, the tiny local model, and optionally a long job (more epochs of small batches)."""
    page.get_by_role("button", name="Sentiment reviews", exact=True).click()
    page.get_by_text("[CLS]").first.wait_for()
    page.get_by_role("tab", name="Train").click()
    page.get_by_text("Data: sentiment_reviews.csv").wait_for()
    page.locator("#train-model").get_by_role("combobox").click()
    page.get_by_role("option", name=f"{model_name} (", exact=False).click()
    page.get_by_text("Estimated training time").wait_for()
    if epochs:
        page.get_by_text("Hyperparameters").click()
        number = page.locator("#epochs input[type=number]")
        number.fill(str(epochs))
        number.press("Enter")
        page.locator("#batch-size").get_by_role("combobox").click()
        page.get_by_role("option", name="8", exact=True).click()


def job_view(page):
    return page.locator("#job-progress")


def test_start_a_job_watch_it_complete_and_reload(page, tiny_model_dir):
    prepare_job(page, tiny_model_dir.name)
    page.get_by_role("button", name="Start training", exact=True).click()
    page.get_by_text("Started job").wait_for()
    view = job_view(page)
    view.get_by_text("completed").wait_for(timeout=120_000)
    page.get_by_text("Best checkpoint").wait_for()
    assert "step" in view.inner_text() and "samples/s" in view.inner_text()
    screenshot(page, "train_tab_completed")

    page.reload()
    page.get_by_role("tab", name="Train").click()
    job_view(page).get_by_text("completed").wait_for()  # the watched job comes back after a reload


def test_cancel_a_running_job_then_resume_it(page, tiny_model_dir):
    # 50 epochs of batches of 8: about 1,500 steps, long enough to cancel twice even on an idle machine.
    prepare_job(page, tiny_model_dir.name, epochs=50)
    page.get_by_role("button", name="Start training", exact=True).click()
    view = job_view(page)
    view.get_by_text("running").wait_for(timeout=60_000)
    view.get_by_text("samples/s").wait_for(timeout=60_000)  # it has trained some steps
    page.get_by_role("button", name="Cancel job", exact=True).click()
    view.get_by_text("cancelled").wait_for(timeout=60_000)
    screenshot(page, "train_tab_cancelled")

    resume = page.get_by_role("button", name="Resume job", exact=True)
    resume.click()
    view.get_by_text("running").wait_for(timeout=60_000)
    page.get_by_role("button", name="Cancel job", exact=True).click()
    view.get_by_text("cancelled").wait_for(timeout=60_000)
