"""The model catalog: where models resolve (without network), the split-zip assembly, parameter counts, loading."""
from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from backend import tasks
from backend.models import catalog, files as model_files
from backend.schemas import StudioError
from tests.tiny_model import packaged_minilm_dir


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path, monkeypatch):
    """Empty Hugging Face and studio caches, and a fresh hub probe memory, for every test."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("MINILM_STUDIO_CACHE", str(tmp_path / "studio-cache"))
    monkeypatch.setattr(catalog, "_HUB_PROBES", {})


@pytest.fixture
def hub_down(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def fake_hf_cache(tiny_model_dir: Path, hub_id: str, weights: str = "model.safetensors") -> Path:
    """The layout huggingface_hub writes: models--org--name/refs/main and snapshots/<commit>/."""
    repo = Path(catalog.hf_cache_dir()) / f"models--{hub_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    shutil.copy(tiny_model_dir / "config.json", snapshot / "config.json")
    shutil.copy(tiny_model_dir / "model.safetensors", snapshot / weights)
    return snapshot


def split_zip(tmp_path: Path, files: dict[str, bytes], part_size: int) -> list[Path]:
    """A zip of files, cut into parts of part_size bytes like the packaged all-mpnet-base-v2.zip.00N."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    data = buffer.getvalue()
    parts = []
    for number, start in enumerate(range(0, len(data), part_size), 1):
        part = tmp_path / f"model.zip.{number:03d}"
        part.write_bytes(data[start:start + part_size])
        parts.append(part)
    return parts


def fake_model_zip(tmp_path: Path, tiny_model_dir: Path) -> list[Path]:
    files = {
        "inner/config.json": (tiny_model_dir / "config.json").read_bytes(),
        "inner/model.safetensors": (tiny_model_dir / "model.safetensors").read_bytes(),
        "inner/vocab.txt": (tiny_model_dir / "vocab.txt").read_bytes(),
        "inner/desktop.ini": b"[.ShellClassInfo]",
        "inner/1_Pooling/config.json": b"{}",
        "inner/1_Pooling/Desktop.ini": b"[.ShellClassInfo]",
        "inner/../escape.txt": b"must not leave the folder",
        "elsewhere/readme.txt": b"not part of the model",
    }
    return split_zip(tmp_path, files, part_size=40_000)


# ---------------------------------------------------------------- the table


def test_table_names_roles_and_sizes_are_truthful():
    assert set(catalog.MODELS) >= {"minilm-l12", "all-minilm-l6", "bert-base", "mpnet-base"}
    assert catalog.MODELS["minilm-l12"].hub_id == "microsoft/MiniLM-L12-H384-uncased"
    assert catalog.MODELS["bert-base"].hub_id == "bert-base-uncased"
    assert "not BERT" in catalog.MODELS["mpnet-base"].note
    assert catalog.MODELS["mpnet-base"].family == "MPNet"
    for info in catalog.MODELS.values():
        assert info.role in catalog.ROLE_CHOICES
        assert 20e6 < info.num_parameters < 120e6
        assert 0 < info.learning_rate < 1e-3 and info.batch_size > 0 and info.max_length >= 16
    for choices in catalog.ROLE_CHOICES.values():
        assert all(key in catalog.MODELS for key in choices)


# ---------------------------------------------------------------- resolving


def test_packaged_minilm_resolves_with_its_exact_parameter_count():
    found = catalog.resolve("all-minilm-l6")
    assert found.source == "packaged" and found.available
    assert Path(found.location) == packaged_minilm_dir()
    assert found.num_parameters == 22_713_216  # position_ids in the header is a buffer, not a parameter


def test_a_hub_only_model_is_unavailable_offline_with_a_reason(hub_down):
    found = catalog.resolve("minilm-l12")
    assert found.source == "unavailable" and not found.available
    assert found.reason.startswith("MiniLM-L12-H384 is not available offline")
    assert "HF_HUB_OFFLINE" in found.reason and found.reason.endswith(".")


def test_the_local_hugging_face_cache_is_found_without_network(tiny_model_dir, hub_down):
    snapshot = fake_hf_cache(tiny_model_dir, "bert-base-uncased")
    found = catalog.resolve("bert-base")
    assert (found.source, Path(found.location)) == ("cache", snapshot)


def test_a_cached_model_without_safetensors_does_not_count(tiny_model_dir, hub_down):
    fake_hf_cache(tiny_model_dir, "bert-base-uncased", weights="pytorch_model.bin")
    assert catalog.resolve("bert-base").source == "unavailable"


def test_hub_ids_of_catalog_models_are_accepted_as_keys():
    assert catalog.resolve("sentence-transformers/all-MiniLM-L6-v2").key == "all-minilm-l6"


def test_unknown_names_are_refused_with_the_choices(tmp_path):
    with pytest.raises(StudioError, match="minilm-l12"):
        catalog.resolve("gpt-17")
    with pytest.raises(StudioError, match="no config.json"):
        catalog.resolve(tmp_path)


# ---------------------------------------------------------------- hub probe


def test_offline_variables_answer_at_once(monkeypatch):
    monkeypatch.setattr(catalog, "_probe", lambda address: pytest.fail("probed while offline"))
    for name in catalog.OFFLINE_VARS:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv(name, "1")
        assert catalog.hub_status() == (False, f"{name} is set")
        monkeypatch.delenv(name)


def test_the_hub_probe_is_remembered(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    probes = []
    monkeypatch.setattr(catalog, "_probe", lambda address: probes.append(address) or False)
    assert catalog.hub_status() == (False, "huggingface.co does not answer")
    assert catalog.hub_status()[0] is False
    assert probes == [("huggingface.co", 443)]


# ---------------------------------------------------------------- defaults


def test_defaults_fall_back_to_what_is_here_and_say_why(hub_down):
    minilm, why = catalog.default_model("minilm")
    assert minilm.key == "all-minilm-l6"
    assert why.startswith("MiniLM-L12-H384 (microsoft/MiniLM-L12-H384-uncased) is not available offline, "
                          "so all-MiniLM-L6-v2")
    bert, why = catalog.default_model("bert")
    assert (bert.key, bert.source) == ("mpnet-base", "packaged")
    assert why.startswith("BERT-Base uncased (bert-base-uncased) is not available offline, so MPNet-base")
    assert "not BERT" in why and why.endswith("stands in.")


def test_the_preferred_model_wins_when_it_is_cached(tiny_model_dir, hub_down):
    fake_hf_cache(tiny_model_dir, "bert-base-uncased")
    bert, why = catalog.default_model("bert")
    assert bert.key == "bert-base" and "local Hugging Face cache" in why
    with pytest.raises(StudioError, match="role"):
        catalog.default_model("gpt")


def test_list_models_is_json_safe(hub_down):
    rows = catalog.list_models()
    assert [row["key"] for row in rows] == list(catalog.MODELS)
    json.dumps(rows)
    for row in rows:
        assert row["source"] in {"packaged", "local", "cache", "hub", "unavailable"}
        assert row["reason"] and row["display_name"] and row["num_parameters"]


# ---------------------------------------------------------------- local folders and parameter counts


def test_a_local_folder_resolves_with_a_name_from_its_config(tiny_model_dir):
    from transformers import BertModel

    found = catalog.resolve(str(tiny_model_dir))
    assert found.source == "local" and found.location == str(tiny_model_dir.resolve())
    assert found.display_name == f"{tiny_model_dir.name} (BERT, 2 layers, hidden 32)"
    assert found.num_parameters == catalog.count_parameters(BertModel.from_pretrained(tiny_model_dir))


def test_a_local_folder_without_safetensors_is_unavailable(tiny_model_dir, tmp_path):
    folder = tmp_path / "bin-only"
    folder.mkdir()
    shutil.copy(tiny_model_dir / "config.json", folder / "config.json")
    found = catalog.resolve(folder)
    assert found.source == "unavailable" and "safetensors" in found.reason
    assert found.num_parameters is None


def test_sharded_safetensors_are_counted_from_their_headers(tmp_path):
    import torch
    from safetensors.torch import save_file

    save_file({"a": torch.zeros(3, 4)}, tmp_path / "model-00001-of-00002.safetensors")
    save_file({"b": torch.zeros(5), "position_ids": torch.zeros(7, dtype=torch.int64)},
              tmp_path / "model-00002-of-00002.safetensors")
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors",
                            "position_ids": "model-00002-of-00002.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    assert model_files.count_folder_parameters(tmp_path) == 17


# ---------------------------------------------------------------- the split zip


def test_a_split_zip_is_assembled_once_without_junk(tmp_path, tiny_model_dir, monkeypatch):
    parts = fake_model_zip(tmp_path, tiny_model_dir)
    assert len(parts) > 2
    target = tmp_path / "cache" / "models" / "inner"
    assert model_files.assemble_split_zip(parts, target, "inner") == target
    names = sorted(str(path.relative_to(target)) for path in target.rglob("*"))
    assert names == ["1_Pooling", "1_Pooling/config.json", "config.json", "model.safetensors", "vocab.txt"]
    assert (target / "model.safetensors").read_bytes() == (tiny_model_dir / "model.safetensors").read_bytes()
    assert not (target.parent / "escape.txt").exists()
    assert [path.name for path in target.parent.iterdir() if path.name.startswith(".inner-")] == []  # no temp left
    monkeypatch.setattr(model_files, "_extract", lambda *args: pytest.fail("assembled twice"))
    assert model_files.assemble_split_zip(parts, target, "inner") == target


def test_a_broken_split_zip_is_a_readable_error(tmp_path, tiny_model_dir):
    parts = fake_model_zip(tmp_path, tiny_model_dir)
    target = tmp_path / "out" / "inner"
    with pytest.raises(StudioError, match="reinstall"):
        model_files.assemble_split_zip(parts[1:], target, "inner")
    assert not target.exists()
    with pytest.raises(StudioError, match="not installed"):
        model_files.assemble_split_zip([], target, "inner")


def test_mpnet_is_packaged_until_assembled_then_cached(tmp_path, tiny_model_dir, monkeypatch):
    parts = fake_model_zip(tmp_path, tiny_model_dir)
    before = catalog.resolve("mpnet-base")
    assert before.source == "packaged" and "first use" in before.reason
    mpnet = tmp_path / "studio-cache" / "models" / "all-mpnet-base-v2"
    assert Path(before.location) == model_files.mpnet_dir() == mpnet
    monkeypatch.setitem(catalog.MATERIALIZE, "mpnet-base",
                        lambda: model_files.assemble_split_zip(parts, model_files.mpnet_dir(), "inner"))
    resolution, location = catalog.load_location("mpnet-base")
    assert Path(location) == model_files.mpnet_dir() and (Path(location) / "config.json").is_file()
    after = catalog.resolve("mpnet-base")
    assert after.source == "cache" and after.num_parameters == catalog.resolve(tiny_model_dir).num_parameters


# ---------------------------------------------------------------- loading


def test_tokenizers_are_cached(tiny_model_dir):
    first = catalog.load_tokenizer(tiny_model_dir)
    assert catalog.load_tokenizer(str(tiny_model_dir)) is first
    assert first("hello world")["input_ids"] == [101, 7592, 2088, 102]


def test_classification_models_carry_sorted_labels_and_load_quietly(tiny_model_dir, capfd):
    model = catalog.load_model(tiny_model_dir, tasks.get("text_classification"), ["spam", "ham", "spam", "eggs"])
    assert type(model).__name__ == "BertForSequenceClassification"
    assert model.config.num_labels == 3
    assert model.config.id2label == {0: "eggs", 1: "ham", 2: "spam"}
    assert model.config.label2id == {"eggs": 0, "ham": 1, "spam": 2}
    assert "LOAD REPORT" not in capfd.readouterr().err


def test_regression_models_have_one_output(tiny_model_dir):
    model = catalog.load_model(tiny_model_dir, tasks.get("regression"))
    assert (model.config.num_labels, model.config.problem_type) == (1, "regression")


def test_the_packaged_sentence_transformer_loads_as_a_classifier():
    import torch

    model = catalog.load_model("all-minilm-l6", tasks.get("pair_classification"), ["no", "yes"])
    assert model.config.num_hidden_layers == 6 and model.dtype == torch.float32
    # the encoder kept its trained weights: only the head is new
    assert catalog.count_parameters(model) == 22_713_216 + 384 * 2 + 2


def test_loading_refuses_bad_requests_with_readable_errors(tiny_model_dir, hub_down):
    with pytest.raises(StudioError, match="at least two different labels"):
        catalog.load_model(tiny_model_dir, tasks.get("text_classification"), ["only"])
    with pytest.raises(StudioError, match="Unknown task"):
        catalog.load_model(tiny_model_dir, tasks.get("summarisation"), ["a", "b"])
    with pytest.raises(StudioError, match="not available offline"):
        catalog.load_tokenizer("minilm-l12")
