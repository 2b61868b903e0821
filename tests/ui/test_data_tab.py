"""The Data tab as a person uses it: upload a CSV, pick columns, read the check, look at the tokens."""
from __future__ import annotations

from tests.conftest import FIXTURES
from tests.ui.conftest import screenshot


def choose(page, label: str, option: str) -> None:
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_upload_pick_columns_and_preview_tokens(page):
    page.locator("#train-csv input[type=file]").set_input_files(str(FIXTURES / "support_tickets.csv"))
    summary = page.get_by_text("training rows")
    summary.wait_for()
    assert "Single-text classification" in page.locator("body").inner_text()

    choose(page, "Label column", "urgent")
    page.get_by_text("2 classes").wait_for()
    chart = page.get_by_text("Rows per class")
    chart.wait_for()

    page.get_by_text("[CLS]").first.wait_for()
    assert page.get_by_text("Suggested max length").is_visible()
    page.get_by_label("Show token ids and attention mask").check()
    page.get_by_text("mask 1").first.wait_for()
    screenshot(page, "data_tab_preview")


def test_a_sample_is_one_click_and_a_broken_file_gets_its_sentence(page):
    page.get_by_role("button", name="Similarity scores", exact=True).click()
    page.get_by_text("Regression (numeric labels)").first.wait_for()
    page.get_by_text("[SEP]").first.wait_for()

    page.locator("#train-csv").get_by_label("Clear").click()
    page.locator("#train-csv input[type=file]").set_input_files(str(FIXTURES / "malformed" / "gzip_renamed.csv"))
    page.get_by_text("looks like a gzip archive").wait_for()
    assert not page.get_by_text("Rows per class").is_visible()
    screenshot(page, "data_tab_error")
