"""Pushing a finished run to the hub (the local stand-in): the export's files land in a private repo; every
failure is one sentence; the token is never written anywhere."""
from __future__ import annotations

import json

import pytest

from backend.training import trainer
from backend.__main__ import main
from backend.serving.push import push_run
from backend.schemas import DataSpec, JobSpec, StudioError
from tests.conftest import FIXTURES
from tests.hub_stub import TOKENS, go_offline

TOKEN = next(iter(TOKENS))


@pytest.fixture(scope="module")
def finished(tiny_model_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("push") / "run"
    spec = JobSpec(data=DataSpec(train_csv=str(FIXTURES / "support_tickets.csv"), text_column="comment",
                                 label_column="team"), model=str(tiny_model_dir), max_steps=2, batch_size=8,
                   max_length=24, name="Tickets · tiny")
    trainer.train(spec, run_dir)
    return run_dir


def test_a_push_lands_the_exported_files_in_a_private_repo(hub_stub, finished, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert main(["export", "--run-dir", str(finished), "--push-to-hub", "student/tickets-minilm"]) == 0
    pushed = json.loads(capsys.readouterr().out)
    assert pushed["repo_id"] == "student/tickets-minilm" and pushed["private"] is True
    files = hub_stub.files("student/tickets-minilm")
    expected = {path.name for path in (finished / "model").iterdir()} | {"README.md", "spec.json", "results.json"}
    assert set(files) == expected == set(pushed["files"])
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= expected
    assert hub_stub.repos["student/tickets-minilm"].private
    assert files["model.safetensors"] == (finished / "model" / "model.safetensors").read_bytes()
    assert json.loads(files["config.json"])["id2label"] == {"0": "billing", "1": "technical"}
    card = files["README.md"].decode()
    assert card.startswith("---") and 'from_pretrained("student/tickets-minilm")' in card
    assert hub_stub.stray_requests() == []
    every_file = b"".join(path.read_bytes() for path in finished.rglob("*") if path.is_file())
    assert TOKEN.encode() not in every_file and TOKEN.encode() not in b"".join(files.values())


def test_push_failures_are_one_sentence_and_never_show_the_token(hub_stub, finished, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    cases = [({"token": None}, "Pushing needs a hub token"),
             ({"token": "hf_wrong"}, "refused the token"),
             ({"token": TOKEN, "repo_id": "someone-else/model"}, "may not create someone-else/model"),
             ({"token": TOKEN, "repo_id": "not a name"}, "is not a hub repository name")]
    push_run(finished, "student/taken", token=TOKEN)
    cases.append(({"token": TOKEN, "repo_id": "student/taken"}, "student/taken already exists"))
    for options, fragment in cases:
        options = {"repo_id": "student/new-model"} | options
        with pytest.raises(StudioError) as failure:
            push_run(finished, options.pop("repo_id"), **options)
        message = str(failure.value)
        assert fragment in message and "\n" not in message and TOKEN not in message and "hf_wrong" not in message

    go_offline(monkeypatch)
    with pytest.raises(StudioError, match="HF_HUB_OFFLINE is set"):
        push_run(finished, "student/offline", token=TOKEN)
    hub_stub.stop()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    from huggingface_hub import constants
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(StudioError, match="cannot be reached"):
        push_run(finished, "student/unreachable", token=TOKEN)
