"""Playground, Compare and Results as a person uses them, on two finished runs of the tiny model."""
from __future__ import annotations

import pytest

from tests.conftest import SAMPLE_DATA
from tests.ui.conftest import assert_export_downloads, finished_pair, screenshot


@pytest.fixture(scope="module")
def two_runs(app_server, tiny_model_dir):
    """Two finished jobs (different seeds) started through the API, as a script would."""
    return finished_pair(app_server[0], tiny_model_dir, SAMPLE_DATA / "sentiment_reviews.csv", "tiny", max_length=32)


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def choose(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id}").get_by_role("combobox").click()
    page.get_by_role("option", name=option, exact=False).first.click()


def test_two_models_answer_side_by_side_with_reasons(two_runs, page):
    open_tab(page, "Playground")
    page.get_by_role("button", name="Refresh list", exact=True).first.click()
    choose(page, "play-run-a", "tiny seed 1")
    choose(page, "play-run-b", "tiny seed 2")
    page.get_by_label("Text", exact=True).fill("The hotel room was lovely and the staff were kind.")
    page.get_by_role("button", name="Predict", exact=True).click()
    page.get_by_text("The two models").wait_for()
    assert page.get_by_text(" ms").first.is_visible()
    page.get_by_text("lovely").first.wait_for()  # the attribution shows the words
    screenshot(page, "playground_side_by_side")


def test_compare_two_finished_runs(two_runs, page):
    open_tab(page, "Compare")
    choose(page, "compare-run-a", "tiny seed 1")
    choose(page, "compare-run-b", "tiny seed 2")
    page.get_by_role("button", name="Compare", exact=True).click()
    verdict = page.locator("#compare-verdict")
    verdict.get_by_text("validation rows").first.wait_for(timeout=120_000)
    assert page.get_by_role("gridcell", name="Latency, one text (p50)").is_visible()
    page.get_by_text("Published reference").click()
    page.get_by_text("MiniLM-L12-H384 (33M)").wait_for()
    screenshot(page, "compare_two_runs")


def test_results_show_errors_and_the_export_downloads(two_runs, page, tmp_path):
    open_tab(page, "Results")
    page.get_by_role("button", name="Refresh list", exact=True).last.click()
    choose(page, "results-run", "tiny seed 1")
    page.get_by_text("validation rows · accuracy").wait_for(timeout=60_000)
    assert page.get_by_text("Confusion matrix").is_visible()
    assert_export_downloads(page, two_runs[0], tmp_path)
    screenshot(page, "results_and_export")


def test_train_both_sides_from_the_compare_tab_and_read_the_verdict(page, tiny_model_dir, tiny_model_dir_b):
    page.get_by_role("button", name="Paraphrase pairs", exact=True).click()
    page.get_by_text("[SEP]").first.wait_for()
    open_tab(page, "Compare")
    choose(page, "side-minilm", tiny_model_dir.name)
    choose(page, "side-bert", tiny_model_dir_b.name)
    page.get_by_text("Quick demo").click()
    page.get_by_text("The recipe").wait_for()
    page.get_by_role("button", name="Train both", exact=True).click()
    page.get_by_text("MiniLM side · ").first.wait_for()
    page.locator("#compare-verdict").get_by_text("validation rows").first.wait_for(timeout=300_000)
    assert "BERT-Base side" in page.locator("#compare-verdict").inner_text()
    screenshot(page, "compare_train_both")


def test_the_results_tab_pushes_with_a_password_field_and_says_why_it_cannot(two_runs, page):
    """The app runs offline here (HF_HUB_OFFLINE): the push fails in one sentence and the token field empties.
    A push that lands its files is tests/test_push.py, against the hub stand-in."""
    open_tab(page, "Results")
    page.get_by_role("button", name="Refresh list", exact=True).last.click()
    choose(page, "results-run", "tiny seed 1")
    token = page.locator("#push-token input, #push-token textarea").first
    assert token.get_attribute("type") == "password"
    page.locator("#push-repo input, #push-repo textarea").first.fill("student/reviews-tiny")
    token.fill("hf_never_shown")
    page.get_by_role("button", name="Push to hub", exact=True).click()
    page.locator("#push-note").get_by_text("Nothing was pushed: HF_HUB_OFFLINE is set").wait_for()
    assert token.input_value() == ""
    assert "hf_never_shown" not in page.content()
    screenshot(page, "results_push_offline")
