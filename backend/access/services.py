"""What the server shares between requests, and the one gate every request passes: the data folder, kept uploads,
the job runner, who may see and do what (owners, teachers, demo mode) and the fair-use limits.

The UI receives one Services object and never builds its own state: a page reload or a restart loses nothing.
Every job action takes the Viewer the login made; nothing else decides whose jobs a request reaches.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from backend.access.users import LOCAL, Users, Viewer
from backend.data.reading import read_table
from backend.jobs.limits import Limits
from backend.models import catalog
from backend.schemas import QUEUED, RUNNING, JobSpec, RunRecord, StudioError
from backend.serving import batch_scoring, export
from backend.training.runs import safe_name

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"


@dataclass
class Services:
    data_dir: Path
    runner: object | None = None  # backend.jobs.runner.JobRunner once training is served
    model_dirs: list[Path] = field(default_factory=list)  # local model folders the operator offers besides the catalog
    users: Users | None = None  # None: no login, one local user
    limits: Limits = field(default_factory=Limits)
    demo_jobs: list[str] = field(default_factory=list)  # read-only demo: only these finished jobs, no training
    # Where the web server puts fresh uploads (Gradio's upload folder); when set, keep_upload takes new files from
    # there only. Empty (the CLI, tests): any readable file outside the data folder is a fresh upload.
    upload_dirs: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.model_dirs = [Path(folder).expanduser().resolve() for folder in self.model_dirs]
        self.upload_dirs = [Path(folder).expanduser().resolve() for folder in self.upload_dirs]
        for sub in ("uploads", "runs", "outputs", "places"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        self._submitting = threading.Lock()  # a limit check and the submit it allows happen as one step
        self._placing = threading.Lock()  # one read-change-write of a place file at a time

    # ---- who is asking ----

    @property
    def demo(self) -> bool:
        return bool(self.demo_jobs)

    def viewer(self, username: str | None) -> Viewer:
        """The person a login name stands for; without login everyone is the one local user."""
        return self.users.viewer(username) if self.users else LOCAL

    # ---- jobs, as this viewer may see and change them ----

    def jobs(self, viewer: Viewer) -> list[RunRecord]:
        """Newest first: a student's own jobs, every job for a teacher, the chosen runs in a demo."""
        if self.demo:
            return [self.runner.get(job_id, None) for job_id in self.demo_jobs]
        return self.runner.list_jobs(viewer.scope)

    def job(self, job_id: str, viewer: Viewer) -> RunRecord:
        if self.demo and job_id not in self.demo_jobs:
            raise StudioError(f"No job {job_id} in this demo; choose one of: {', '.join(self.demo_jobs)}.")
        return self.runner.get(job_id, None if self.demo else viewer.scope)

    def run_dir(self, job_id: str, viewer: Viewer) -> Path:
        return Path(self.job(job_id, viewer).run_dir)

    def submit(self, spec: JobSpec, viewer: Viewer, request_id: str | None = None) -> RunRecord:
        return self.submit_all([spec], viewer, [request_id])[0]

    def submit_all(self, specs: list[JobSpec], viewer: Viewer, request_ids: list[str | None]) -> list[RunRecord]:
        """Queue jobs for this person, all or none: they must fit their own limit and the queue's."""
        self._refuse_in_demo("Training")
        with self._submitting:
            fresh = [not (rid and self.runner.store.find_request(viewer.name, rid)) for rid in request_ids]
            self._check_room(viewer, sum(fresh))  # a double-clicked Train at the limit still finds its one job
            cap = self.limits.job_minutes
            return [self.runner.submit(self._capped(spec, cap), viewer.name, request_id=rid)
                    for spec, rid in zip(specs, request_ids)]

    def cancel(self, job_id: str, viewer: Viewer) -> RunRecord:
        self._refuse_in_demo("Cancelling jobs")
        return self.runner.cancel(job_id, viewer.scope)

    def resume(self, job_id: str, viewer: Viewer) -> RunRecord:
        self._refuse_in_demo("Resuming jobs")
        with self._submitting:
            record = self.runner.get(job_id, viewer.scope)
            if record.state not in (QUEUED, RUNNING):
                self._check_room(Viewer(record.owner, viewer.teacher), 1)
            return self.runner.resume(job_id, viewer.scope)

    def queue_overview(self) -> dict:
        """What a teacher sees of the machine: jobs training and waiting, training slots, and the limits."""
        active = self.runner.store.rows(states=(QUEUED, RUNNING))
        return {
            "running": sum(row["state"] == RUNNING for row in active),
            "queued": sum(row["state"] == QUEUED for row in active),
            "slots": self.runner.max_concurrent, "limits": self.limits.describe(),
        }

    def _check_room(self, viewer: Viewer, new_jobs: int) -> None:
        if not new_jobs:
            return
        active = self.runner.store.rows(states=(QUEUED, RUNNING))
        waiting = sum(row["state"] == QUEUED for row in active)
        mine = sum(row["owner"] == viewer.name for row in active)
        per_user, queue_size = self.limits.active_jobs_per_user, self.limits.queue_size
        if per_user and not viewer.teacher and mine + new_jobs > per_user:
            raise StudioError(f"You already have {mine} job{'s' * (mine != 1)} queued or running and this server "
                              f"allows {per_user} per person; wait for one to finish or cancel one, then start again.")
        if queue_size and waiting + new_jobs > queue_size:
            raise StudioError(f"The queue is full ({waiting} jobs waiting, the most this server takes); try again "
                              "when some have finished.")

    @staticmethod
    def _capped(spec: JobSpec, minutes: float | None) -> JobSpec:
        if not minutes or (spec.time_limit_minutes and spec.time_limit_minutes <= minutes):
            return spec
        return dataclasses.replace(spec, time_limit_minutes=minutes)

    def _refuse_in_demo(self, what: str) -> None:
        if self.demo:
            raise StudioError(f"{what} is off: this server is a read-only demo of chosen runs.")

    # ---- where each person left off: a reload or a restart keeps their place ----

    def place(self, owner: str) -> dict:
        """What this person last checked on the Data tab (files and chosen columns), the preview's model and max
        length, and the tab they were on; {} when nothing is kept."""
        try:
            place = json.loads(self._place_file(owner).read_text())
        except (OSError, ValueError):
            return {}
        return place if isinstance(place, dict) else {}

    def keep_place(self, owner: str, **changes) -> None:
        """Merge `changes` into the person's place; written whole and renamed, so a reader never sees half."""
        with self._placing:
            path = self._place_file(owner)
            temp = path.with_name(f".{uuid.uuid4().hex}.part")
            temp.write_text(json.dumps(self.place(owner) | changes))
            temp.replace(path)

    def _place_file(self, owner: str) -> Path:
        return self.data_dir / "places" / f"{safe_name(owner)}.json"

    # ---- files and models ----

    def output_path(self, owner: str, name: str) -> Path:
        """Where a file made for a person (a scored CSV, an export) is written: their folder in the data folder."""
        folder = self.data_dir / "outputs" / safe_name(owner)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / safe_name(name)

    def export(self, job_id: str, viewer: Viewer) -> Path:
        """The job's model as a zip (`python -m backend export`) in the person's outputs folder."""
        run_dir = self.run_dir(job_id, viewer)
        target = self.output_path(viewer.name, f"minilm-studio-{job_id}.zip")
        model = run_dir / "model"
        if target.is_file() and model.is_dir() and target.stat().st_mtime >= model.stat().st_mtime:
            return target  # already exported from this model: no second zip of hundreds of MB
        return export.export_run(run_dir, target)

    def score(self, job_id: str, viewer: Viewer, csv_path: str | Path) -> dict:
        """An uploaded CSV scored by the job's model into the person's outputs folder: batch scoring's summary, whose
        `output` is the scored file."""
        run_dir = self.run_dir(job_id, viewer)
        kept = self.keep_upload(csv_path, viewer.name)
        return batch_scoring.score_csv(run_dir, kept, self.output_path(viewer.name, f"scored-{job_id}-{kept.name}"))

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

        Only the caller's own files are taken: a fresh upload, one of their kept uploads (returned as it is), or a
        sample. Anything else in the data folder (another person's uploads, the job store, runs) is refused with
        the same words as a vanished upload, so a refusal tells nothing about what exists. The same content
        uploaded again (or checked again after a column change) is kept once. Uploads above this server's size or
        row limit are refused before they are kept.
        """
        source, name = Path(path).resolve(), Path(path).name
        own = self.data_dir / "uploads" / safe_name(owner)
        if source.is_file() and (source.is_relative_to(SAMPLE_DATA.resolve()) or source.is_relative_to(own)):
            return source
        fresh = not source.is_relative_to(self.data_dir) and (
            not self.upload_dirs or any(source.is_relative_to(folder) for folder in self.upload_dirs))
        if not (fresh and source.is_file()):
            raise StudioError(f"The uploaded file {name} is no longer on the server; please upload it again.")
        self._check_size(source, name)
        # A folder per content keeps the person's own file name, which reports and specs show back to them.
        with source.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()[:16]
        folder = own / digest
        target = folder / safe_name(source.name)
        if not target.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            temp = folder / f".{uuid.uuid4().hex}.part"  # renamed into place: a reader never sees half a file
            shutil.copyfile(source, temp)
            temp.replace(target)
        return target

    def _check_size(self, source: Path, name: str) -> None:
        size, limit = source.stat().st_size, self.limits.upload_bytes
        if limit and size > limit:
            raise StudioError(f"{name} is {size / 1024 / 1024:.1f} MB, above this server's {self.limits.upload_mb:g} MB "
                              "upload limit; upload a sample of its rows.")
        max_rows = self.limits.max_rows
        if max_rows and _line_count(source) > max_rows:  # more lines than the limit: count the rows for real
            read_table(source, max_rows=max_rows)


def _line_count(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def sample_files() -> dict[str, Path]:
    """The sample CSVs shipped in sample_data/, by file name."""
    return {path.name: path for path in sorted(SAMPLE_DATA.glob("*.csv"))}
