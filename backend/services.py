"""What the server shares between requests: the data folder, the kept uploads, the job runner.

The UI receives one Services object and never builds its own state: a page reload or a restart loses nothing.
"""
from __future__ import annotations

import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

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

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        for sub in ("uploads", "runs"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)

    def keep_upload(self, path: str | Path, owner: str) -> Path:
        """Copy an uploaded file into the data folder, so jobs can rely on it after the browser's temp copy is gone.

        Files already kept (a sample, or a file already in the data folder) are returned as they are.
        """
        source = Path(path).resolve()
        if not source.is_file():
            raise StudioError(f"The uploaded file {Path(path).name} is no longer on the server; please upload it again.")
        if source.is_relative_to(SAMPLE_DATA.resolve()) or source.is_relative_to(self.data_dir):
            return source
        # One folder per upload keeps the person's own file name, which reports and specs show back to them.
        folder = self.data_dir / "uploads" / safe_name(owner) / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        folder.mkdir(parents=True)
        target = folder / safe_name(source.name)
        shutil.copyfile(source, target)
        return target


def sample_files() -> dict[str, Path]:
    """The sample CSVs shipped in sample_data/, by file name."""
    return {path.name: path for path in sorted(SAMPLE_DATA.glob("*.csv"))}
