"""Shared fixtures: tiny locally built models and tiny CSVs, so the suite runs in minutes on a 2-core CPU.

Nothing here touches the network: HF_HUB_OFFLINE is set before transformers is imported.
"""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest

from tests.tiny_model import build_tiny_model

pytest_plugins = ["tests.job_helpers", "tests.hub_stub"]  # job fixtures (data_dir, runners); the hub stand-in

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_DATA = Path(__file__).parent.parent / "sample_data"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer, hidden-32 BERT with the real all-MiniLM-L6-v2 tokenizer, saved as a Hugging Face folder."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_model_dir_b(tmp_path_factory) -> Path:
    """A second, larger tiny BERT (3 layers, hidden 64): the other side of a head-to-head in tests."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model-b"), seed=1, hidden=64, layers=3)


@pytest.fixture
def write_csv(tmp_path):
    """Write text (or bytes) to a CSV file in tmp_path and return its path."""
    def write(content: str | bytes, name: str = "data.csv") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path
    return write
