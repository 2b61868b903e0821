"""Extractive QA and multi-label classification as a person uses them: check, preview, train, watch, predict,
compare, look at the errors and export, in the browser, on the tiny model."""
from __future__ import annotations

import pytest

from tests.conftest import SAMPLE_DATA
from tests.ui.conftest import assert_export_downloads, finished_pair, screenshot
from tests.ui.test_playground_compare_results import choose, open_tab

QA_CSV, MULTI_LABEL_CSV = SAMPLE_DATA / "qa_questions.csv", SAMPLE_DATA / "support_tickets_multilabel.csv"
CONTEXT = ("The Hop Harvest Fair is a festival held once a year. Each year the Hop Harvest Fair comes to Lisbury. "
           "Mireille Whitlock has organised it for a decade.")


@pytest.fixture(scope="module")
def qa_jobs(app_server, tiny_model_dir):
    return finished_pair(app_server[0], tiny_model_dir, QA_CSV, "qa", max_length=64)


@pytest.fixture(scope="module")
def multi_label_jobs(app_server, tiny_model_dir):
    return finished_pair(app_server[0], tiny_model_dir, MULTI_LABEL_CSV, "tags", max_length=32)


def start_from_train_tab(page, sample: str, data_note: str, model_name: str) -> None:
    page.get_by_role("button", name=sample, exact=True).click()
    page.get_by_role("tab", name="Train").click()
    page.get_by_text(data_note).wait_for()
    page.locator("#train-model").get_by_role("combobox").click()
    page.get_by_role("option", name=f"{model_name} (", exact=False).click()
    page.get_by_text("Estimated training time").wait_for()
    page.get_by_role("button", name="Start training", exact=True).click()
    page.get_by_text("Started job").wait_for()
    page.locator("#job-progress").get_by_text("completed").wait_for(timeout=180_000)
    page.get_by_text("Best checkpoint").wait_for()


def compare_seeds(page, prefix: str) -> None:
    """The Compare tab on the two finished jobs of a task (seeds 1 and 2), until the verdict is written."""
    open_tab(page, "Compare")
    choose(page, "compare-run-a", f"{prefix} seed 1")
    choose(page, "compare-run-b", f"{prefix} seed 2")
    page.get_by_role("button", name="Compare", exact=True).click()
    page.locator("#compare-verdict").get_by_text("validation").first.wait_for(timeout=120_000)


def open_results(page, run: str, summary: str) -> None:
    """The Results tab on one run, until its summary line shows."""
    open_tab(page, "Results")
    page.get_by_role("button", name="Refresh list", exact=True).last.click()
    choose(page, "results-run", run)
    page.get_by_text(summary).wait_for(timeout=60_000)


# ---------------------------------------------------------------- extractive QA


def test_qa_data_check_maps_the_columns_and_previews_the_windows(page):
    page.get_by_role("button", name="Questions & answers", exact=True).click()
    page.get_by_text("Extractive question answering").first.wait_for()
    assert page.get_by_label("Question column").is_visible()
    assert page.get_by_label("Context column").is_visible()
    assert page.locator("#answer-start-column").is_visible()
    page.get_by_text("Windows per question (mean)").wait_for()
    page.get_by_text("window 1: context characters").first.wait_for()
    assert page.get_by_text("Questions with and without an answer in the context").is_visible()
    screenshot(page, "qa_data_check")


def test_qa_trains_from_the_train_tab(page, tiny_model_dir):
    start_from_train_tab(page, "Questions & answers", "Data: qa_questions.csv", tiny_model_dir.name)
    assert "F1" in page.locator("#job-progress").inner_text()
    screenshot(page, "qa_train_completed")


def test_qa_playground_marks_the_answer_in_the_context(qa_jobs, page):
    open_tab(page, "Playground")
    page.get_by_role("button", name="Refresh list", exact=True).first.click()
    choose(page, "play-run-a", "qa seed 1")
    choose(page, "play-run-b", "qa seed 2")
    page.get_by_label("Question", exact=True).wait_for()
    page.get_by_label("Question", exact=True).fill("Who organises the Hop Harvest Fair?")
    page.locator("#play-text-pair textarea").fill(CONTEXT)
    page.get_by_role("button", name="Predict", exact=True).click()
    verdict = page.locator("#play-verdict")
    verdict.get_by_text("The two models").wait_for()
    assert " ms" in verdict.inner_text()
    assert "no answer" in verdict.inner_text() or "“" in verdict.inner_text()
    page.get_by_text("The answer, marked in the context").first.wait_for()
    page.locator("#play-why-a").get_by_text("Lisbury", exact=False).first.wait_for()  # the context is shown
    screenshot(page, "qa_playground")


def test_qa_compare_results_and_export(qa_jobs, page, tmp_path):
    compare_seeds(page, "qa")
    assert page.get_by_role("gridcell", name="Latency, one text (p50)").is_visible()
    screenshot(page, "qa_compare")

    open_results(page, "qa seed 1", "validation questions · exact match")
    page.get_by_text("answerable").first.wait_for()
    screenshot(page, "qa_results")
    assert_export_downloads(page, qa_jobs[0], tmp_path)


# ---------------------------------------------------------------- multi-label


def test_multi_label_data_check_finds_the_separator_and_counts_each_label(page):
    page.get_by_role("button", name="Support tickets (multi-label)", exact=True).click()
    page.get_by_text("Multi-label classification").first.wait_for()
    assert page.locator("#label-separator").is_visible()
    assert page.locator("#label-separator input").input_value() == "| (bar)"
    page.get_by_text("Rows per label").wait_for()
    page.get_by_text("[CLS]").first.wait_for()
    screenshot(page, "multi_label_data_check")


def test_multi_label_as_several_0_1_columns(page, tmp_path):
    rows = ["I love this, thank you", "you are an idiot", "what a stupid idea, idiot", "see you tomorrow",
            "this is garbage and so are you", "nice work on the report", "shut up, moron", "great game last night"]
    flags = ["0,0,0", "1,0,1", "1,1,1", "0,0,0", "1,1,0", "0,0,0", "1,0,1", "0,0,0"]
    csv = tmp_path / "comments.csv"
    csv.write_text("comment,toxic,obscene,insult\n" + "".join(f'"{r}",{f}\n' for r, f in zip(rows * 3, flags * 3)))
    page.locator("#train-csv input[type=file]").set_input_files(str(csv))
    page.get_by_text("Multi-label classification").first.wait_for()
    picker = page.locator("#label-columns")
    for name in ("toxic", "obscene", "insult"):
        assert picker.get_by_text(name, exact=True).is_visible()
    assert not page.locator("#label-separator").is_visible()
    page.get_by_text("Rows per label").wait_for()
    screenshot(page, "multi_label_columns")


def test_multi_label_trains_from_the_train_tab(page, tiny_model_dir):
    start_from_train_tab(page, "Support tickets (multi-label)", "Data: support_tickets_multilabel.csv",
                         tiny_model_dir.name)
    assert "micro-F1" in page.locator("#job-progress").inner_text()


def test_multi_label_playground_threshold_changes_the_labels_given(multi_label_jobs, page):
    open_tab(page, "Playground")
    page.get_by_role("button", name="Refresh list", exact=True).first.click()
    choose(page, "play-run-a", "tags seed 1")
    page.locator("#play-threshold").wait_for()
    page.get_by_label("Text", exact=True).fill("I was charged twice and the app crashes when I log in.")
    page.get_by_role("button", name="Predict", exact=True).click()
    verdict = page.locator("#play-verdict")
    verdict.get_by_text("at threshold 0.50").wait_for()
    number = page.locator("#play-threshold input[type=number]")
    number.fill("0.05")
    number.press("Enter")
    verdict.get_by_text("at threshold 0.05").wait_for()
    assert "no label" not in verdict.inner_text()  # at 0.05 every label of an untrained sigmoid head is given
    screenshot(page, "multi_label_playground")


def test_multi_label_compare_results_and_export(multi_label_jobs, page, tmp_path):
    compare_seeds(page, "tags")
    assert page.get_by_role("gridcell", name="micro F1").first.is_visible()

    open_results(page, "tags seed 1", "validation rows · micro-F1")
    page.get_by_text("Per label at threshold 0.50").wait_for()
    screenshot(page, "multi_label_results")
    assert_export_downloads(page, multi_label_jobs[0], tmp_path)


def test_the_api_checks_and_predicts_both_task_kinds(app_server, qa_jobs, multi_label_jobs):
    from gradio_client import Client, handle_file

    client = Client(app_server[0], verbose=False)
    qa = client.predict(handle_file(str(QA_CSV)), api_name="/validate_csv")
    assert (qa["task"], qa["answer_start_column"]) == ("extractive_qa", "answer_start")
    tags = client.predict(handle_file(str(MULTI_LABEL_CSV)), label_separator="|", api_name="/validate_csv")
    assert tags["task"] == "multi_label_classification" and tags["label_separator"] == "|"
    windows = client.predict(handle_file(str(QA_CSV)), max_length=64, doc_stride=16, rows=1, api_name="/preview_tokens")
    assert windows["doc_stride"] == 16 and windows["windows"]["max"] > 1

    answer = client.predict(qa_jobs[0], "Who organises the Hop Harvest Fair?", CONTEXT, api_name="/predict")
    assert set(answer) >= {"answer", "start", "end", "score", "no_answer", "no_answer_score", "latency_ms"}
    low = client.predict(multi_label_jobs[0], "I was charged twice.", threshold=0.01, api_name="/predict")
    assert low["threshold"] == 0.01 and sorted(low["labels"]) == sorted(low["scores"])  # every label at 0.01


# ---------------------------------------------------------------- token classification (named entities)

NER_CSV = SAMPLE_DATA / "ner_people_places.csv"


@pytest.fixture(scope="module")
def ner_job(app_server, tiny_model_dir):
    """One NER job started through /start_job, long enough for the tiny model to tag some places."""
    from gradio_client import Client, handle_file

    from tests.ui.conftest import wait_state

    client = Client(app_server[0], verbose=False)
    job = client.predict(handle_file(str(NER_CSV)), model=str(tiny_model_dir), preset="quick", max_steps=120,
                         batch_size=16, seed=1, name="ner seed 1", max_length=32, learning_rate=0.005,
                         api_name="/start_job")["job_id"]
    assert wait_state(client, job, "completed", "failed", "diverged", "cancelled")["state"] == "completed"
    return job


def test_ner_from_the_sample_button_to_the_playground(ner_job, page):
    page.get_by_role("button", name="People & places (NER)", exact=True).click()
    page.get_by_text("Token classification (named entities)").first.wait_for()
    assert page.get_by_label("Tokens column (words, space-separated or a JSON list)").is_visible()
    page.get_by_text("Windows per sentence (mean)").wait_for()
    page.get_by_text("the tag is learnt on the").wait_for()  # the sample sentences as words, pieces and tags
    assert page.get_by_text("Words per tag").is_visible()
    screenshot(page, "ner_data_check")

    open_tab(page, "Playground")
    page.get_by_role("button", name="Refresh list", exact=True).first.click()
    choose(page, "play-run-a", "ner seed 1")
    page.get_by_text("Entities in the text (type and confidence)").first.wait_for()
    page.get_by_label("Text", exact=True).fill("Residents of Quillon met Ada Lovelace in Sundmark on Friday .")
    page.get_by_role("button", name="Predict", exact=True).click()
    verdict = page.locator("#play-verdict")
    verdict.get_by_text(" ms").wait_for()
    page.locator("#play-why-a").get_by_text("Residents", exact=False).first.wait_for()  # the text, entities marked
    screenshot(page, "ner_playground")
