"""Hub models: the revision each is pinned to, what the hub holds there, fetching it once into the studio cache as
a folder that transformers loads locally (safetensors only), and how far a download has got.

Nothing runs on import, and nothing but the configured endpoint (HF_ENDPOINT, else huggingface.co) is asked. The
endpoint, the offline switches and the caches are read from the environment at every call, not at import.

transformers never sees a hub id from us: it loads the assembled folder with local_files_only=True. That keeps it
off its automatic safetensors conversion (transformers 5.23 modeling_utils `_get_resolved_checkpoint_files` calls
`safetensors_conversion.auto_conversion` for a hub id whose repo has no safetensors, which lists the repo's
discussions and then calls a conversion Space on another host; with use_safetensors=False it starts the same in a
background thread). DISABLE_SAFETENSORS_CONVERSION, the switch that code reads, is set too, for any other caller.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlparse

from backend.models.downloads import Progress, describe_mb, sha256_of, stderr_report, stream_to
from backend.models.files import studio_cache_dir
from backend.schemas import StudioError

os.environ.setdefault("DISABLE_SAFETENSORS_CONVERSION", "1")

DEFAULT_ENDPOINT = "https://huggingface.co"
OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
# The revision each hub model is fetched at. bert-base-uncased: the commit that public Hugging Face caches show as
# its snapshot (models--bert-base-uncased/snapshots/86b5e09...; no page of the hub could be read from here). For
# microsoft/MiniLM-L12-H384-uncased no commit could be found, so "main" is pinned explicitly rather than an invented
# sha: the commit "main" pointed to at the first fetch is kept in the studio cache and used (and recorded in
# spec.json and results.json) by every later run. MINILM_STUDIO_REVISIONS overrides any of these.
PINNED_REVISIONS = {
    "microsoft/MiniLM-L12-H384-uncased": "main",
    "bert-base-uncased": "86b5e0934494bd15c9632b12f734a8a67f723594",
}
REVISIONS_VAR = "MINILM_STUDIO_REVISIONS"  # "bert-base-uncased=<commit>,microsoft/MiniLM-L12-H384-uncased=<commit>"
CONFIG = "config.json"
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
WEIGHTS = ("model.safetensors", "pytorch_model.bin")  # best first; .bin is read weights-only and saved as safetensors
SAFETENSORS = "model.safetensors"
RECORD = "hub.json"  # in an assembled folder: where it came from
LOOKUP_TTL_S = 300.0
LOOKUP_TIMEOUT_S = 10.0
COMMIT = re.compile(r"[0-9a-f]{40}")


class HubUnavailable(StudioError):
    """The hub cannot give a model: the message is one sentence saying why."""


class HubUnreachable(HubUnavailable):
    """The hub did not answer (or is not asked: offline)."""


@dataclass(frozen=True)
class RepoFiles:
    """What the hub holds of one model at one commit: the files the studio needs and their sizes in bytes."""

    hub_id: str
    revision: str  # as pinned ("main" or a commit)
    commit: str
    files: tuple[tuple[str, int, str | None], ...]  # (name, bytes, sha256 of LFS files)
    weights: str  # model.safetensors or pytorch_model.bin

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size, _ in self.files)


# ---------------------------------------------------------------- settings, read at call time


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def host() -> str:
    return urlparse(endpoint()).hostname or endpoint()


def offline_reason() -> str | None:
    """'HF_HUB_OFFLINE is set' when an offline switch is on, else None."""
    for name in OFFLINE_VARS:
        if os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return f"{name} is set"
    return None


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment at call time (tests and users may change it)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    return Path(home) / "hub"


def pinned_revision(hub_id: str) -> str:
    """The revision hub_id is fetched at: MINILM_STUDIO_REVISIONS wins over the table, "main" for anything else."""
    for item in os.environ.get(REVISIONS_VAR, "").split(","):
        name, _, revision = item.strip().partition("=")
        if name.strip() == hub_id and revision.strip():
            return revision.strip()
    return PINNED_REVISIONS.get(hub_id, "main")


def repo_folder(hub_id: str) -> Path:
    return studio_cache_dir() / "hub" / f"models--{hub_id.replace('/', '--')}"


# ---------------------------------------------------------------- what is in the cache


def cached(hub_id: str, tokenizer_only: bool = False) -> Path | None:
    """The assembled folder of hub_id at its pinned revision, if a fetch completed it before.

    tokenizer_only: a folder with the config and tokenizer files is enough (the whole model's folder also does).
    """
    revision = pinned_revision(hub_id)
    commit = revision if COMMIT.fullmatch(revision) else _read_ref(hub_id, revision)
    if not commit:
        return None
    folders = [_folder(hub_id, commit, False)] + ([_folder(hub_id, commit, True)] if tokenizer_only else [])
    return next((folder for folder in folders if (folder / RECORD).is_file()
                 and (tokenizer_only or (folder / SAFETENSORS).is_file())), None)


def _folder(hub_id: str, commit: str, tokenizer_only: bool) -> Path:
    return repo_folder(hub_id) / "tokenizers" / commit if tokenizer_only else repo_folder(hub_id) / commit


def cached_commit(folder: Path) -> str | None:
    """The commit an assembled folder came from (None for any other folder)."""
    try:
        return json.loads((Path(folder) / RECORD).read_text(encoding="utf-8"))["commit"]
    except (OSError, ValueError, KeyError):
        return None


def _read_ref(hub_id: str, revision: str) -> str | None:
    try:
        commit = (repo_folder(hub_id) / "refs" / revision).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return None
    return commit if COMMIT.fullmatch(commit) else None


# ---------------------------------------------------------------- what the hub holds

_LOOKUPS: dict[tuple[str, str, str], tuple[float, RepoFiles | HubUnavailable]] = {}


def look_up(hub_id: str, fresh: bool = False) -> RepoFiles:
    """The files hub_id has at its pinned revision, from the hub's model info; remembered a few minutes.

    Raises HubUnavailable with one sentence: offline, unreachable, no such repo or revision, no usable weights.
    """
    why = offline_reason()
    if why:
        raise HubUnreachable(f"the hub is not asked because {why}")
    revision = pinned_revision(hub_id)
    key = (endpoint(), hub_id, revision)
    checked_at, found = _LOOKUPS.get(key, (-float("inf"), None))
    if fresh or found is None or time.monotonic() - checked_at > LOOKUP_TTL_S:
        found = _ask_hub(hub_id, revision)
        _LOOKUPS[key] = (time.monotonic(), found)
    if isinstance(found, HubUnavailable):
        raise found
    return found


def _ask_hub(hub_id: str, revision: str) -> RepoFiles | HubUnavailable:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        info = HfApi(endpoint=endpoint()).model_info(hub_id, revision=revision, files_metadata=True,
                                                     timeout=LOOKUP_TIMEOUT_S, token=False)
    except RevisionNotFoundError:
        return HubUnavailable(f"{hub_id} has no revision {revision!r} on {host()}")
    except RepositoryNotFoundError:
        return HubUnavailable(f"{hub_id} does not exist on {host()} (or it is private)")
    except Exception as exc:  # connection refused, timeouts, proxies, HTTP 5xx: the hub is not usable right now
        return HubUnreachable(f"{host()} cannot be reached ({_first_line(exc)})")
    sizes = {sibling.rfilename: sibling.size or 0 for sibling in info.siblings or ()}
    hashes = {sibling.rfilename: sibling.lfs.sha256 for sibling in info.siblings or () if sibling.lfs}
    weights = next((name for name in WEIGHTS if name in sizes), None)
    if weights is None or CONFIG not in sizes:
        missing = "a config.json" if CONFIG not in sizes else "model.safetensors or pytorch_model.bin"
        return HubUnavailable(f"{hub_id} at {revision} has no usable weights: it lacks {missing}")
    names = (CONFIG, weights) + tuple(name for name in TOKENIZER_FILES if name in sizes)
    return RepoFiles(hub_id, revision, info.sha or revision,
                     tuple((name, sizes[name], hashes.get(name)) for name in names), weights)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---------------------------------------------------------------- fetching


def fetch(hub_id: str, name: str | None = None, report=None, tokenizer_only: bool = False) -> Path:
    """The assembled folder of hub_id at its pinned revision, downloading and assembling it first if needed.

    tokenizer_only fetches the config and tokenizer files alone (kilobytes, for a token preview); training fetches
    the weights as well.
    One process downloads at a time per model (a file lock): a second job waits and then finds it in the cache.
    An interrupted download keeps its bytes (downloads/<commit>/<file>.part) and the next call resumes it with a
    Range request: huggingface_hub 2.4's hf_hub_download deletes a partial file when it fails, so the files are
    fetched here, from the same resolve URLs, with huggingface_hub's session (its headers and offline switch).
    `report(done_bytes, total_bytes)` is called as bytes arrive; by default a line on stderr.
    """
    name = name or hub_id
    folder = cached(hub_id, tokenizer_only)
    if folder:
        return folder
    with _lock(hub_id):
        folder = cached(hub_id, tokenizer_only)
        if folder:
            return folder
        files = look_up(hub_id, fresh=True)
        wanted = [entry for entry in files.files if not (tokenizer_only and entry[0] == files.weights)]
        progress = Progress(progress_file(hub_id), name, sum(size for _, size, _ in wanted),
                            report or stderr_report(name))
        paths = {}
        for filename, size, sha256 in wanted:
            paths[filename] = _download(files, filename, size, sha256, progress)
            progress.file_done(size)
        folder = _assemble(files, paths, _folder(files.hub_id, files.commit, tokenizer_only))
        for path in paths.values():  # a converted .bin is left; a partial file of another fetch is kept
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            next(iter(paths.values())).parent.rmdir()
        progress.finish()
    return folder


@contextlib.contextmanager
def _lock(hub_id: str):
    from filelock import FileLock

    locks = studio_cache_dir() / "hub" / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(locks / f"{hub_id.replace('/', '--')}.lock")):
        yield


def _download(files: RepoFiles, filename: str, size: int, sha256: str | None, progress: Progress) -> Path:
    part = repo_folder(files.hub_id) / "downloads" / files.commit / f"{filename}.part"
    part.parent.mkdir(parents=True, exist_ok=True)
    try:
        stream_to(part, f"{endpoint()}/{files.hub_id}/resolve/{files.commit}/{quote(filename)}", size, progress)
    except Exception as exc:  # the reason is the library's; the sentence says what to do
        progress.fail()
        raise HubUnavailable(f"Downloading {filename} of {files.hub_id} from {host()} stopped after "
                             f"{describe_mb(progress.done)} of {describe_mb(progress.total)} "
                             f"({_first_line(exc)}); run it again to resume where it stopped.") from None
    if sha256 and sha256_of(part) != sha256:
        part.unlink()
        raise HubUnavailable(f"{filename} of {files.hub_id} arrived damaged (its SHA-256 does not match the hub's); "
                             "run it again to download it anew.")
    return part


def _assemble(files: RepoFiles, paths: dict[str, Path], target: Path) -> Path:
    """config, tokenizer and model.safetensors (when fetched) in target, written to a temp folder and renamed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=".assembling-", dir=target.parent))
    try:
        for filename, path in paths.items():
            if filename == files.weights and filename != SAFETENSORS:
                save_bin_as_safetensors(path, temp / SAFETENSORS, files.hub_id)
            else:
                os.replace(path, temp / filename)
        record = {"hub_id": files.hub_id, "revision": files.revision, "commit": files.commit,
                  "weights_from": files.weights, "files": {name: size for name, size, _ in files.files if name in paths},
                  "endpoint": endpoint()}
        (temp / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        temp.chmod(0o755)  # the cache is shared by the server and the trainers it starts
        if target.exists():
            shutil.rmtree(target)  # an incomplete folder from before (cached() did not accept it)
        os.replace(temp, target)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    if files.revision != files.commit:
        refs = repo_folder(files.hub_id) / "refs"
        refs.mkdir(exist_ok=True)
        (refs / files.revision).write_text(files.commit, encoding="utf-8")
    return target


def save_bin_as_safetensors(source: Path, target: Path, hub_id: str) -> None:
    """Read a pytorch_model.bin with PyTorch's weights-only loader (no pickled code runs) and save it as safetensors."""
    import torch
    from safetensors.torch import save_file

    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise HubUnavailable(f"The pytorch_model.bin of {hub_id} could not be read as plain weights "
                             f"({_first_line(exc)}), so it is not loaded.") from None
    if not isinstance(state, dict) or not state:
        raise HubUnavailable(f"The pytorch_model.bin of {hub_id} holds no weights table, so it is not loaded.")
    # clone: tied weights share storage in a .bin, and safetensors refuses shared tensors
    tensors = {key: value.detach().clone().contiguous() for key, value in state.items() if torch.is_tensor(value)}
    save_file(tensors, str(target), metadata={"format": "pt"})


# ---------------------------------------------------------------- progress of a fetch, for the UI


def progress_file(hub_id: str) -> Path:
    return repo_folder(hub_id) / "download.json"


def download_line(hub_id: str, max_age_s: float = 30.0) -> str | None:
    """'Downloading MiniLM-L12-H384: 40 of 133 MB' while a download of hub_id is under way (in any process)."""
    try:
        state = json.loads(progress_file(hub_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if state.get("state") != "downloading" or time.time() - state.get("at", 0) > max_age_s:
        return None
    return f"Downloading {state['name']}: {describe_mb(state['done'])} of {describe_mb(state['total'])}"
