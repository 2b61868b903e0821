"""The run folder: where each file lives, how it is written without ever being half-written, how it is read.

    spec.json       the job spec (re-runnable)          results.json   metrics and speed of a finished run
    metrics.jsonl   one JSON object a line (tracking)   outcome.json   {"state", "reason"}: the trainer's last act
    model/          the best model, a Hugging Face folder
    checkpoints/    step-00000042/ ... the last complete training state, what resume needs
    train.log       the trainer's stdout/stderr, written by the job runner

Files are replaced with write-to-temp, fsync, rename, so a reader or a crash sees the old or the new version.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from backend.schemas import JobSpec

SPEC, METRICS, RESULTS, OUTCOME, LOG = "spec.json", "metrics.jsonl", "results.json", "outcome.json", "train.log"
MODEL, CHECKPOINTS = "model", "checkpoints"
CHECKPOINT_PREFIX = "step-"
TEMP_PREFIX = ".tmp-"
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
LOW_SPACE = 2**20  # bytes: a save that fails with less than this left on its disk ran out of space
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class DiskFull(OSError):
    """Saving `saving` into a run folder ran out of disk space or quota; what was on disk before is untouched.

    `resume_step` is the step of the last complete checkpoint, where a resume continues (None: there is none).
    """

    def __init__(self, code: int, run_dir: Path, saving: str, resume_step: int | None):
        super().__init__(code, os.strerror(code), str(run_dir))
        self.saving, self.resume_step = saving, resume_step


def safe_name(name: str) -> str:
    """A file name that cannot climb out of its folder or surprise a shell."""
    cleaned = _UNSAFE.sub("_", Path(name).name).strip("._") or "upload"
    return cleaned[:80]


def _fsync_path(path: Path) -> None:
    """Flush a file or a directory entry to disk (a rename is only durable once its directory is synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: Path, value: Any) -> None:
    """Atomically replace `path` with `value` as indented JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2, allow_nan=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    _fsync_path(path.parent)


def read_json(path: Path) -> dict | None:
    """The JSON object at `path`, or None when it does not exist (yet) or is unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_spec(run_dir: Path, spec: JobSpec) -> None:
    write_json(Path(run_dir) / SPEC, spec.to_dict())


def read_spec(run_dir: Path) -> JobSpec:
    return JobSpec.load(Path(run_dir) / SPEC)


def read_results(run_dir: Path) -> dict | None:
    return read_json(Path(run_dir) / RESULTS)


def read_outcome(run_dir: Path) -> dict | None:
    """{"state": completed|diverged|stopped|failed, "reason": str}, or None while the trainer has not finished."""
    return read_json(Path(run_dir) / OUTCOME)


def temp_folder(parent: Path, name: str) -> Path:
    """A fresh hidden folder next to where `name` will live, so the final rename stays on one filesystem."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{name}-", dir=parent))


def commit_folder(temp: Path, final: Path) -> None:
    """Make a fully written `temp` folder become `final`, replacing any previous version.

    Files are fsynced before the rename, so after a crash `final` is either the old or the new complete folder.
    A folder cannot be renamed over a non-empty one, so the old one is moved aside first and removed after.
    """
    for file in temp.rglob("*"):
        if file.is_file():
            _fsync_path(file)
    old = None
    if final.exists():
        old = final.with_name(f"{TEMP_PREFIX}old-{final.name}")
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    temp.rename(final)
    _fsync_path(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover_model_folder(run_dir: Path) -> None:
    """Undo a crash between the two renames of commit_folder: put the previous model back."""
    model, old = Path(run_dir) / MODEL, Path(run_dir) / f"{TEMP_PREFIX}old-{MODEL}"
    if not model.exists() and old.exists():
        old.rename(model)


def checkpoint_name(step: int) -> str:
    return f"{CHECKPOINT_PREFIX}{step:08d}"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first (temporary folders of an interrupted save are not listed)."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX))


def latest_checkpoint(run_dir: Path) -> Path | None:
    checkpoints = list_checkpoints(run_dir)
    return checkpoints[-1] if checkpoints else None


def checkpoint_step(checkpoint: Path) -> int:
    return int(checkpoint.name[len(CHECKPOINT_PREFIX):])


def prune_checkpoints(run_dir: Path, keep: int = 1) -> None:
    """Remove all but the newest `keep` checkpoints, and leftovers of saves that never completed."""
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    folder = Path(run_dir) / CHECKPOINTS
    for leftover in folder.glob(f"{TEMP_PREFIX}*") if folder.is_dir() else []:
        shutil.rmtree(leftover, ignore_errors=True)


def list_runs(root: Path) -> list[Path]:
    """Run folders (those holding a spec.json) directly under `root`, newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if (p / SPEC).is_file()]
    return sorted(runs, key=lambda p: (p / SPEC).stat().st_mtime, reverse=True)


def disk_size(path: Path) -> int:
    """Bytes used by the files under `path` (a file or a folder); 0 when it does not exist."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


# Writing a training run's artefacts. `accelerator` is the trainer's accelerate.Accelerator (only its methods are
# used, so this module does not import accelerate and readers of run folders stay light).

def disk_full_errno(exc: BaseException, folder: Path) -> int | None:
    """ENOSPC or EDQUOT if `exc`, raised while writing into `folder`, means the disk (or quota) ran out; else None.

    Writers word it their own way: Python raises OSError, safetensors "No space left on device (os error 28)",
    and torch.save only "unexpected pos 576 vs 534", where the space left on the disk is what tells why.
    """
    for cause in (exc, exc.__cause__, exc.__context__):
        if isinstance(cause, OSError) and cause.errno in DISK_FULL_ERRNOS:
            return cause.errno
        for code in DISK_FULL_ERRNOS:
            if cause is not None and os.strerror(code) in str(cause):
                return code
    try:
        return errno.ENOSPC if shutil.disk_usage(folder).free < LOW_SPACE else None
    except OSError:
        return None


@contextlib.contextmanager
def removed_on_failure(temp: Path, run_dir: Path, saving: str):
    """Remove the half-written `temp` folder if the save in this block fails, so it takes no disk space.

    A full disk is raised as DiskFull, whatever the writer called it, naming the checkpoint a resume would use.
    """
    try:
        yield
    except Exception as exc:
        code = disk_full_errno(exc, run_dir)  # before the removal frees the space that says so
        shutil.rmtree(temp, ignore_errors=True)
        if code is None:
            raise
        kept = latest_checkpoint(run_dir)
        raise DiskFull(code, run_dir, saving, checkpoint_step(kept) if kept else None) from exc


def save_model(accelerator, model, tokenizer, run_dir: Path) -> None:
    """A Hugging Face folder (config with id2label, safetensors, tokenizer), swapped in whole."""
    state_dict = accelerator.get_state_dict(model)  # every process calls it: it gathers under sharded setups
    if accelerator.is_main_process:
        temp = temp_folder(run_dir, MODEL)
        with removed_on_failure(temp, run_dir, "the best model"):
            accelerator.unwrap_model(model).save_pretrained(temp, state_dict=state_dict)
            tokenizer.save_pretrained(temp)
            commit_folder(temp, run_dir / MODEL)
    accelerator.wait_for_everyone()


def save_checkpoint(accelerator, run_dir: Path, step: int) -> None:
    """Model, optimizer, scheduler, progress and RNG states, written to a temp folder and renamed into place.

    Every process writes its own RNG state into the same folder; the main process then commits it and drops
    the previous checkpoint. A crash at any moment leaves the previous complete checkpoint in place; a failed
    save (a full disk) also removes what it had written.
    """
    folder = run_dir / CHECKPOINTS
    temp = folder / f"{TEMP_PREFIX}{checkpoint_name(step)}"
    with removed_on_failure(temp, run_dir, "a checkpoint"):
        if accelerator.is_main_process:
            shutil.rmtree(temp, ignore_errors=True)
            temp.mkdir(parents=True)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(temp))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            commit_folder(temp, folder / checkpoint_name(step))
            prune_checkpoints(run_dir, keep=1)
    accelerator.wait_for_everyone()


def forget_attempt(run_dir: Path) -> None:
    """Remove what an earlier attempt in this folder left, so curves and models of two attempts never mix."""
    for name in (CHECKPOINTS, MODEL):
        shutil.rmtree(run_dir / name, ignore_errors=True)
    for name in (METRICS, RESULTS, OUTCOME):
        (run_dir / name).unlink(missing_ok=True)
    for leftover in run_dir.glob(f"{TEMP_PREFIX}*"):  # model folders of a save that never completed
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
