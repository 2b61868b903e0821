"""The seed's own models from the hub, against the local stand-in (tests/hub_stub.py): resolving truthfully,
loading old (.bin-only) and new repos safely, downloads once and resumable, offline afterwards, nothing but the
configured endpoint asked."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from backend import tasks
from backend.models import catalog, hub
from backend.__main__ import main
from backend.schemas import StudioError
from tests.conftest import FIXTURES
from tests.hub_stub import BERT_ID, MINILM_ID, go_offline

ROOT = Path(__file__).resolve().parents[2]


def assert_only_the_stub_was_asked(stub) -> None:
    assert stub.requests, "the stand-in was never asked"
    assert stub.stray_requests() == []


def downloads(stub, filename: str) -> int:
    """How many times filename was asked for (a large file's GET is then redirected to the stand-in's storage)."""
    return sum("/resolve/" in path and path.endswith(f"/{filename}") for path in stub.paths("GET"))


def train(tmp_path: Path, model: str, name: str) -> dict:
    out = tmp_path / name
    code = main(["train", "--train-csv", str(FIXTURES / "support_tickets.csv"), "--text-column", "comment",
                 "--label-column", "team", "--model", model, "--max-steps", "2", "--batch-size", "8",
                 "--max-length", "24", "--output-dir", str(out)])
    assert code == 0
    return {"results": json.loads((out / "results.json").read_text()), "spec": json.loads((out / "spec.json").read_text())}


# ---------------------------------------------------------------- resolving


def test_hub_models_resolve_from_the_model_info_with_a_sentence(hub_stub):
    minilm = catalog.resolve("minilm-l12")
    assert (minilm.source, minilm.revision) == ("hub", hub_stub.commits[MINILM_ID])
    assert minilm.reason.startswith("Downloads ") and "MB from 127.0.0.1 on first use" in minilm.reason
    assert catalog.resolve("bert-base").source == "hub"
    asked = [path for path in hub_stub.paths() if path != "/api/agent-harnesses"]  # huggingface_hub's own, daily
    assert asked == [f"/api/models/{MINILM_ID}/revision/main",
                     f"/api/models/{BERT_ID}/revision/{hub_stub.commits[BERT_ID]}"]
    assert not Path(catalog.hf_cache_dir()).exists()  # resolving downloads nothing

    (small, why_small), (large, why_large) = catalog.default_model("minilm"), catalog.default_model("bert")
    assert (small.key, large.key) == ("minilm-l12", "bert-base")
    assert "stands in" not in why_small + why_large and why_small.startswith("MiniLM-L12-H384 (microsoft/")


def test_a_missing_repo_missing_weights_and_offline_each_say_why(hub_stub, monkeypatch):
    hub_stub.repos.pop(BERT_ID)
    assert catalog.resolve("bert-base").reason == ("BERT-Base uncased is not available: bert-base-uncased does not "
                                                   "exist on 127.0.0.1 (or it is private).")
    hub_stub.add_repo(MINILM_ID, {"config.json": b"{}", "vocab.txt": b"[PAD]\n"})
    monkeypatch.setattr(hub, "_LOOKUPS", {})
    weightless = catalog.resolve("minilm-l12")
    assert weightless.source == "unavailable" and "has no usable weights" in weightless.reason

    go_offline(monkeypatch)
    offline = catalog.resolve("minilm-l12")
    assert offline.source == "unavailable" and "HF_HUB_OFFLINE is set" in offline.reason


def test_an_unreachable_hub_is_not_available(hub_stub, monkeypatch):
    hub_stub.stop()
    found = catalog.resolve("minilm-l12")
    assert found.source == "unavailable" and "127.0.0.1 does not answer" in found.reason


def test_a_revision_that_does_not_exist_is_refused(hub_stub, monkeypatch):
    monkeypatch.setenv(hub.REVISIONS_VAR, f"{MINILM_ID}={'0' * 40},{BERT_ID}={hub_stub.commits[BERT_ID]}")
    found = catalog.resolve("minilm-l12")
    assert found.reason == (f"MiniLM-L12-H384 is not available: {MINILM_ID} has no revision '{'0' * 40}' "
                            "on 127.0.0.1.")
    with pytest.raises(StudioError, match="has no revision"):
        catalog.load_model("minilm-l12", tasks.get("text_classification"), ["a", "b"])
    assert catalog.resolve("bert-base").source == "hub"  # the pin is per model


# ---------------------------------------------------------------- loading safely, training, offline afterwards


def test_both_seed_models_train_then_train_again_offline_from_the_cache(hub_stub, tmp_path, monkeypatch):
    online = {key: train(tmp_path, key, f"{key}-online") for key in ("minilm-l12", "bert-base")}
    for key, hub_id in (("minilm-l12", MINILM_ID), ("bert-base", BERT_ID)):
        assert online[key]["results"]["model_revision"] == hub_stub.commits[hub_id]
        assert online[key]["spec"]["model_revision"] == hub_stub.commits[hub_id]
    folder = hub.cached(MINILM_ID)  # the .bin-only repo became a safetensors folder
    assert sorted(path.name for path in folder.iterdir()) == ["config.json", "hub.json", "model.safetensors",
                                                              "vocab.txt"]
    assert json.loads((folder / "hub.json").read_text())["weights_from"] == "pytorch_model.bin"
    assert_only_the_stub_was_asked(hub_stub)
    assert downloads(hub_stub, "pytorch_model.bin") == 1

    hub_stub.stop()
    go_offline(monkeypatch)
    assert catalog.resolve("minilm-l12").reason.startswith("In the cache (")
    for key in ("minilm-l12", "bert-base"):
        offline = train(tmp_path, key, f"{key}-offline")
        assert offline["results"]["model_revision"] == online[key]["results"]["model_revision"]


def test_a_pickle_that_is_not_plain_weights_is_refused(tmp_path):
    import pickle

    class Sneaky:
        def __reduce__(self):
            return (os.system, ("echo never",))

    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(pickle.dumps({"weight": Sneaky()}, protocol=2))
    with pytest.raises(StudioError, match="could not be read as plain weights"):
        hub.save_bin_as_safetensors(path, tmp_path / "model.safetensors", "someone/sneaky")
    assert not (tmp_path / "model.safetensors").exists()


# ---------------------------------------------------------------- downloads


def test_an_interrupted_download_says_why_and_the_next_try_resumes(hub_stub):
    size = len(hub_stub.files(MINILM_ID)["pytorch_model.bin"])
    hub_stub.break_after["pytorch_model.bin"] = size // 3
    with pytest.raises(StudioError) as failure:
        hub.fetch(MINILM_ID, "MiniLM-L12-H384", report=lambda done, total: None)
    message = str(failure.value)
    assert message.startswith(f"Downloading pytorch_model.bin of {MINILM_ID} from 127.0.0.1 stopped after ")
    assert message.endswith("run it again to resume where it stopped.") and "\n" not in message
    assert hub.cached(MINILM_ID) is None

    hub_stub.refuse_gets.clear()
    seen = []
    assert hub.fetch(MINILM_ID, "MiniLM-L12-H384", report=lambda done, total: seen.append((done, total))) \
        == hub.cached(MINILM_ID)
    ranges = [{k.lower(): v for k, v in request.headers.items()}.get("range") for request in hub_stub.requests
              if request.method == "GET" and request.path.endswith("pytorch_model.bin")]
    assert ranges[0] is None and ranges[-1] == f"bytes={size // 3}-"
    assert seen[-1][0] == seen[-1][1] > size


def test_two_jobs_needing_the_same_model_download_it_once(hub_stub):
    folders, errors = [], []

    def fetch():
        try:
            folders.append(hub.fetch(BERT_ID, report=lambda done, total: None))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(folders) == 2 and folders[0] == folders[1]
    assert downloads(hub_stub, "model.safetensors") == 1


def test_fetch_models_shows_progress_and_leaves_the_models_for_offline_use(hub_stub, tmp_path):
    env = dict(os.environ)  # HF_ENDPOINT and the caches as the fixture set them, read by a fresh interpreter
    result = subprocess.run([sys.executable, "-m", "backend", "fetch-models"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(row["key"], row["source"]) for row in rows] == [("minilm-l12", "cache"), ("bert-base", "cache")]
    assert rows[0]["revision"] == hub_stub.commits[MINILM_ID]
    assert "Downloading MiniLM-L12-H384: " in result.stderr and " MB of " in result.stderr
    assert_only_the_stub_was_asked(hub_stub)

    offline = subprocess.run([sys.executable, "-m", "backend", "models", "--json"], cwd=ROOT,
                             env=env | {"HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=120)
    sources = {row["key"]: row["source"] for row in json.loads(offline.stdout)}
    assert sources["minilm-l12"] == sources["bert-base"] == "cache"


def test_two_training_processes_download_once_and_log_the_progress(hub_stub, runners, write_csv):
    from backend.schemas import COMPLETED, DataSpec, JobSpec
    from backend.jobs.status import download_in
    from tests.job_helpers import wait_for

    runner = runners(command=None, max_concurrent=2)
    spec = JobSpec(data=DataSpec(train_csv=str(FIXTURES / "support_tickets.csv"), text_column="comment",
                                 label_column="team"), model="minilm-l12", max_steps=2, batch_size=8, max_length=16)
    jobs = [runner.submit(spec, "alice").job_id for _ in range(2)]
    records = [wait_for(runner, job, COMPLETED, timeout=300) for job in jobs]
    assert downloads(hub_stub, "pytorch_model.bin") == 1
    logs = [(Path(record.run_dir) / "train.log").read_text() for record in records]
    assert any("Downloading MiniLM-L12-H384: " in log for log in logs)
    assert download_in("Training ...\nDownloading MiniLM-L12-H384: 1.2 of 4 MB") == "Downloading MiniLM-L12-H384: 1.2 of 4 MB"
    assert_only_the_stub_was_asked(hub_stub)


def test_fetch_models_offline_says_why_in_one_line_per_model(hub_stub, monkeypatch, capsys):
    go_offline(monkeypatch)
    assert main(["fetch-models", "minilm-l12", "bert-base"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert [line.split(":")[1].strip() for line in errors] == ["MiniLM-L12-H384 is not available offline",
                                                               "BERT-Base uncased is not available offline"]
    assert all("HF_HUB_OFFLINE is set" in line for line in errors)
    assert hub_stub.requests == []
