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
