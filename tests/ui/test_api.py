"""The named API endpoints, called as a script would call them (gradio_client)."""
from __future__ import annotations

import pytest

from tests.conftest import FIXTURES, SAMPLE_DATA


@pytest.fixture(scope="module")
def client(app_server):
    from gradio_client import Client

    return Client(app_server[0], verbose=False)


def test_validate_csv_returns_the_cli_report(client):
    from gradio_client import handle_file

    report = client.predict(handle_file(str(SAMPLE_DATA / "sentiment_reviews.csv")), api_name="/validate_csv")
    assert report["task"] == "text_classification"
    assert report["labels"] == ["negative", "neutral", "positive"]


def test_validate_csv_says_what_is_wrong(client):
    from gradio_client import handle_file

    with pytest.raises(Exception, match="gzip archive"):
        client.predict(handle_file(str(FIXTURES / "malformed" / "gzip_renamed.csv")), api_name="/validate_csv")


def test_preview_tokens_returns_statistics_and_the_bert_side(client):
    from gradio_client import handle_file

    preview = client.predict(handle_file(str(FIXTURES / "support_tickets.csv")), model="all-minilm-l6",
                             max_length=64, label_column="team", api_name="/preview_tokens")
    assert preview["model"] == "all-minilm-l6" and preview["rows"] == 16
    assert preview["suggested_max_length"] >= 16
    assert preview["bert"]["model"] == "mpnet-base"
    assert "stands in" in preview["bert"]["why"]


# The "Use via API" page: every endpoint named and documented (INTERFACES.md), nothing unnamed.
PROMISED = {"/validate_csv", "/preview_tokens", "/start_job", "/job_status", "/cancel_job", "/resume_job", "/list_jobs",
            "/predict", "/compare_runs", "/error_analysis", "/export_run", "/score_csv"}


def test_the_api_page_shows_only_named_documented_endpoints(client):
    info = client.view_api(return_format="dict", print_info=False)
    assert not info["unnamed_endpoints"]
    assert PROMISED <= set(info["named_endpoints"])
    assert set(info["named_endpoints"]) <= PROMISED | {"/start_distillation"}, set(info["named_endpoints"]) - PROMISED
    documented = client._get_api_info()["named_endpoints"]
    assert all(documented[name].get("description") for name in info["named_endpoints"])


@pytest.fixture(scope="module")
def finished_job(client, tiny_model_dir):
    from tests.ui.conftest import start_sample_job, wait_state

    job_id = start_sample_job(client, tiny_model_dir, 4, "api files")
    wait_state(client, job_id, "completed")
    return job_id


def test_export_run_sends_the_zip(client, finished_job):
    import zipfile

    saved = client.predict(finished_job, api_name="/export_run")
    assert saved.endswith(f"minilm-studio-{finished_job}.zip")
    names = zipfile.ZipFile(saved).namelist()
    assert any(name.endswith("/config.json") for name in names) and any(name.endswith("/README.md") for name in names)


def test_score_csv_sends_the_scored_csv(client, finished_job, write_csv):
    import pandas as pd
    from gradio_client import handle_file

    csv = write_csv("text\na lovely film\n=1+1 awful\n", name="to_score.csv")
    scored = pd.read_csv(client.predict(finished_job, handle_file(str(csv)), api_name="/score_csv"))
    assert list(scored["text"]) == ["a lovely film", "'=1+1 awful"]  # a formula cell stays text in a spreadsheet
    assert {"predicted_label", "confidence"} <= set(scored.columns)


def test_score_csv_says_what_is_wrong_in_one_sentence(client, finished_job, write_csv):
    from gradio_client import handle_file

    csv = write_csv("title\na lovely film\n", name="no_text.csv")
    with pytest.raises(Exception, match=r"no_text\.csv has no text column 'text'") as refused:
        client.predict(finished_job, handle_file(str(csv)), api_name="/score_csv")
    assert "Traceback" not in str(refused.value) and "allowed_paths" not in str(refused.value)
