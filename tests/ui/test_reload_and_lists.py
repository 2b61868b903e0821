"""A reload keeps a person's place, run lists stay current without changing a choice, and the tables read at 1400 px."""
from __future__ import annotations

from tests.conftest import SAMPLE_DATA
from tests.ui.conftest import finished_pair, screenshot
from tests.ui.test_playground_compare_results import choose, open_tab


def test_a_reload_mid_way_keeps_the_data_and_the_tab_and_training_goes_on(page, tiny_model_dir):
    page.locator("#train-csv input[type=file]").set_input_files(str(SAMPLE_DATA / "sentiment_reviews.csv"))
    page.get_by_text("[CLS]").first.wait_for()
    page.get_by_text("The preview suggests a max length of").wait_for()  # says what the slider does with the suggestion
    open_tab(page, "Train")
    page.get_by_text("Data: sentiment_reviews.csv").wait_for()

    page.reload()  # F5 between Data and Train: no upload again
    page.get_by_text("Data: sentiment_reviews.csv").wait_for()  # back on the Train tab, with the checked data
    assert page.get_by_role("tab", name="Train", exact=True).get_attribute("aria-selected") == "true"
    page.locator("#train-model").get_by_role("combobox").click()
    page.get_by_role("option", name=f"{tiny_model_dir.name} (", exact=False).click()
    page.get_by_text("Estimated training time").wait_for()
    page.get_by_role("button", name="Start training", exact=True).click()
    page.get_by_text("Started job").wait_for()
    page.locator("#job-progress").get_by_text("completed").wait_for(timeout=120_000)
    assert "samples/s (average, evaluations excluded)" in page.locator("#job-progress").inner_text()
    screenshot(page, "reload_train_after_reload")

    open_tab(page, "Compare")
    assert not page.get_by_text("Check your data on the Data tab first").is_visible()
    open_tab(page, "Data")
    page.get_by_text("Checked sentiment_reviews.csv").wait_for()  # the check and its preview came back too
    page.get_by_text("[CLS]").first.wait_for()
    screenshot(page, "reload_data_after_reload")


def test_run_lists_fill_by_themselves_and_keep_the_choice(page, app_server, tiny_model_dir):
    open_tab(page, "Results")
    jobs = finished_pair(app_server[0], tiny_model_dir, SAMPLE_DATA / "sentiment_reviews.csv", "lists", max_length=32)
    choose(page, "results-run", "lists seed 1")  # listed without "Refresh list": the list follows by itself
    page.get_by_text("validation rows · accuracy").wait_for(timeout=60_000)
    page.get_by_role("button", name="Refresh list", exact=True).last.click()
    page.wait_for_timeout(1500)
    assert jobs[0] in page.locator("#results-run input").input_value()  # not moved to the newest run
    screenshot(page, "results_mistakes_1400")

    open_tab(page, "Playground")
    choose(page, "play-run-a", "lists seed 1")
    choose(page, "play-run-b", "lists seed 1")
    page.get_by_label("Text", exact=True).fill("A fine evening.")
    page.get_by_role("button", name="Predict", exact=True).click()
    page.get_by_text("the same run").wait_for()

    open_tab(page, "Compare")
    choose(page, "compare-run-a", "lists seed 1")
    choose(page, "compare-run-b", "lists seed 2")
    page.get_by_role("button", name="Compare", exact=True).click()
    page.locator("#compare-verdict").get_by_text("validation rows").first.wait_for(timeout=120_000)
    for header in ("A − B", "better", "A ÷ B"):  # the key columns are on screen, not clipped at the right
        cell = page.get_by_role("columnheader", name=header, exact=True).first
        box = cell.bounding_box()
        assert box and box["x"] + box["width"] <= 1400, (header, box)
    screenshot(page, "compare_tables_1400")
