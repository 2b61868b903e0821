"""`python -m backend`: JSON on stdout, one readable line and exit 2 for unusable input, never a traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.__main__ import main
from tests.conftest import FIXTURES, SAMPLE_DATA

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "backend", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_validate_prints_the_report_as_json(capsys):
    assert main(["validate", str(SAMPLE_DATA / "paraphrase_pairs.csv")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "pair_classification"
    assert (report["text_column"], report["text_pair_column"], report["label_column"]) == ("sentence1", "sentence2", "label")
    assert sum(report["label_counts"].values()) == report["rows"]


def test_validate_takes_column_choices(capsys):
    assert main(["validate", str(FIXTURES / "support_tickets.csv"), "--text-column", "comment",
                 "--label-column", "urgent"]) == 0
    assert json.loads(capsys.readouterr().out)["labels"] == ["no", "yes"]


@pytest.mark.parametrize("name, fragment", [
    ("gzip_renamed.csv", "gzip archive"),
    ("empty.csv", "empty"),
    ("single_class.csv", "nothing to learn"),
])
def test_unusable_input_exits_2_with_one_line_and_no_traceback(name, fragment):
    result = run_cli("validate", str(FIXTURES / "malformed" / name))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_an_unknown_column_names_the_available_ones(capsys):
    assert main(["validate", str(FIXTURES / "support_tickets.csv"), "--label-column", "priority"]) == 2
    error = capsys.readouterr().err
    assert "priority" in error and "comment" in error


def test_preview_reports_length_statistics_and_tokens(capsys, tiny_model_dir):
    assert main(["preview", str(SAMPLE_DATA / "sentiment_reviews.csv"), "--model", str(tiny_model_dir),
                 "--max-length", "16", "--rows", "2"]) == 0
    preview = json.loads(capsys.readouterr().out)
    for key in ("mean", "p50", "p95", "max", "truncated_share", "unk_rate", "suggested_max_length"):
        assert key in preview
    assert preview["truncated_share"] > 0  # 16 tokens cut some reviews
    assert len(preview["samples"]) == 2
    assert preview["samples"][0]["tokens"][0] == {"token": "[CLS]", "id": 101, "kind": "special"}


def test_models_lists_the_catalog_with_where_each_resolves(capsys):
    assert main(["models", "--json"]) == 0
    rows = {row["key"]: row for row in json.loads(capsys.readouterr().out)}
    assert {"minilm-l12", "all-minilm-l6", "bert-base", "mpnet-base"} <= set(rows)
    assert rows["all-minilm-l6"]["source"] == "packaged"
    assert rows["bert-base"]["source"] == "unavailable"
    assert "not available offline" in rows["bert-base"]["reason"]


def test_models_table_says_which_defaults_were_chosen():
    result = run_cli("models")
    assert result.returncode == 0
    assert "default minilm: " in result.stdout and "all-MiniLM-L6-v2" in result.stdout
    assert "default bert: " in result.stdout and "MPNet-base" in result.stdout


def test_train_writes_a_run_folder_and_its_spec_reruns(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "run"
    code = main(["train", "--train-csv", str(SAMPLE_DATA / "sentiment_reviews.csv"), "--model", str(tiny_model_dir),
                 "--max-steps", "4", "--batch-size", "16", "--max-length", "32", "--output-dir", str(out)])
    assert code == 0
    results = json.loads(capsys.readouterr().out)
    assert results["task"] == "text_classification" and results["steps"] == 4
    for name in ("spec.json", "metrics.jsonl", "results.json", "model/config.json", "model/model.safetensors"):
        assert (out / name).exists(), name
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}

    again = tmp_path / "again"
    assert main(["train", "--config", str(out / "spec.json"), "--output-dir", str(again)]) == 0
    assert json.loads((again / "spec.json").read_text())["data"] == json.loads((out / "spec.json").read_text())["data"]


def test_train_refuses_an_unknown_model_in_one_line():
    result = run_cli("train", "--train-csv", str(SAMPLE_DATA / "sentiment_reviews.csv"), "--model", "gpt-17",
                     "--output-dir", "/tmp/never-written")
    assert result.returncode == 2
    assert result.stderr.startswith("error: Unknown model 'gpt-17'")
    assert "Traceback" not in result.stderr


def test_hash_password_prints_a_hash_the_users_file_accepts(tmp_path):
    from backend.access.users import load_users

    done = subprocess.run([sys.executable, "-m", "backend", "hash-password", "--stdin"], cwd=ROOT, input="s3cret\n",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("pbkdf2_sha256$") and "s3cret" not in done.stdout
    users_file = tmp_path / "users.csv"
    users_file.write_text(f"username,password,role\nana,{done.stdout.strip()},student\n")
    users = load_users(users_file, env="")
    assert users.check("ana", "s3cret") and not users.check("ana", "secret")
    empty = subprocess.run([sys.executable, "-m", "backend", "hash-password", "--stdin"], cwd=ROOT, input="\n",
                           capture_output=True, text=True, timeout=120)
    assert empty.returncode == 2 and "empty password" in empty.stderr and "Traceback" not in empty.stderr


# ---------------------------------------------------------------- extractive QA

QA_SAMPLE = str(SAMPLE_DATA / "qa_questions.csv")


def test_validate_reads_the_qa_sample_with_its_column_names(capsys):
    assert main(["validate", QA_SAMPLE, "--question-column", "question", "--context-column", "context",
                 "--answer-column", "answer_text", "--answer-start-column", "answer_start"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "extractive_qa" and report["answer_start_column"] == "answer_start"
    assert (report["text_column"], report["text_pair_column"], report["label_column"]) == (
        "question", "context", "answer_text")
    assert sum(report["label_counts"].values()) == report["rows"] and "grouped by context" in report["split"]


def test_preview_of_the_qa_sample_shows_windows(capsys):
    assert main(["preview", QA_SAMPLE, "--model", "all-minilm-l6", "--max-length", "96", "--doc-stride", "16",
                 "--rows", "1"]) == 0
    preview = json.loads(capsys.readouterr().out)
    assert (preview["task"], preview["max_length"], preview["doc_stride"]) == ("extractive_qa", 96, 16)
    assert preview["windows"]["max"] > 1 and preview["answers_in_window_share"] == 1.0
    assert preview["samples"][0]["windows"][0]["tokens"][0]["kind"] == "special"
    assert preview["bert"]["task"] == "extractive_qa"


def test_a_bad_qa_csv_exits_2_with_one_line(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text("context,question,answer_text,answer_start\nThe Nile flows.,What flows?,,\n"
                    "Rome is old.,What is old?,Paris,0\n", encoding="utf-8")
    result = run_cli("validate", str(path))
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: No question of qa.csv has an answer found in its context")


def test_train_takes_the_doc_stride_into_the_spec():
    from backend.__main__ import build_parser, job_spec_from

    args = build_parser().parse_args(["train", "--train-csv", QA_SAMPLE, "--model", "all-minilm-l6",
                                      "--doc-stride", "48", "--answer-start-column", "answer_start",
                                      "--output-dir", "/tmp/never-written"])
    spec = job_spec_from(args)
    assert spec.doc_stride == 48 and spec.data.answer_start_column == "answer_start"
