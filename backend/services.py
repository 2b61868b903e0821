"""What the server shares between requests: the data folder, the kept uploads, the job runner.

The UI receives one Services object and never builds its own state: a page reload or a restart loses nothing.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from backend import catalog
from backend.schemas import StudioError

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file name that cannot climb out of its folder or surprise a shell."""
    cleaned = _UNSAFE.sub("_", Path(name).name).strip("._") or "upload"
    return cleaned[:80]


@dataclass
class Services:
    data_dir: Path
    runner: object | None = None  # backend.jobs.JobRunner once training is served
    model_dirs: list[Path] = field(default_factory=list)  # local model folders the operator offers besides the catalog

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.model_dirs = [Path(folder).expanduser().resolve() for folder in self.model_dirs]
        for sub in ("uploads", "runs", "outputs"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)

    def output_path(self, owner: str, name: str) -> Path:
        """Where a file made for a person (a scored CSV, an export) is written: their folder in the data folder."""
        folder = self.data_dir / "outputs" / safe_name(owner)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / safe_name(name)

    def models(self) -> list[catalog.Resolution]:
        """What people on this server may pick: the available catalog models, then the operator's folders."""
        found = [catalog.resolve(key) for key in catalog.MODELS] + [catalog.resolve(d) for d in self.model_dirs]
        return [resolution for resolution in found if resolution.available]

    def check_model(self, key_or_dir: str) -> str:
        """A catalog key (or its hub id) or an offered folder, as the key to put in a job spec; else a refusal.

        Browsers may send anything, so a server never loads a folder the operator did not offer.
        """
        if key_or_dir in catalog.MODELS or any(info.hub_id == key_or_dir for info in catalog.MODELS.values()):
            return key_or_dir
        if key_or_dir and Path(key_or_dir).expanduser().resolve() in self.model_dirs:
            return str(Path(key_or_dir).expanduser().resolve())
        offered = ", ".join(r.key for r in self.models())
        raise StudioError(f"Model {key_or_dir!r} is not offered on this server; choose one of: {offered}.")

    def keep_upload(self, path: str | Path, owner: str) -> Path:
        """Copy an uploaded file into the data folder, so jobs can rely on it after the browser's temp copy is gone.

        Files already kept (a sample, or a file already in the data folder) are returned as they are, and the same
        content uploaded again (or checked again after a column change) is kept once.
        """
        source = Path(path).resolve()
        if not source.is_file():
            raise StudioError(f"The uploaded file {Path(path).name} is no longer on the server; please upload it again.")
        if source.is_relative_to(SAMPLE_DATA.resolve()) or source.is_relative_to(self.data_dir):
            return source
        # A folder per content keeps the person's own file name, which reports and specs show back to them.
        with source.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()[:16]
        folder = self.data_dir / "uploads" / safe_name(owner) / digest
        target = folder / safe_name(source.name)
        if not target.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            temp = folder / f".{uuid.uuid4().hex}.part"  # renamed into place: a reader never sees half a file
            shutil.copyfile(source, temp)
            temp.replace(target)
        return target


def sample_files() -> dict[str, Path]:
    """The sample CSVs shipped in sample_data/, by file name."""
    return {path.name: path for path in sorted(SAMPLE_DATA.glob("*.csv"))}
