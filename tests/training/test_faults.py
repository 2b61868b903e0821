"""A disk that fills up while a checkpoint is saved: the job fails with a sentence saying so, the previous
checkpoint stays whole, nothing half-written is left behind, and once there is space again resume finishes the run.

In process on the tiny model, with the disk filling up inside the writers accelerate's save_state uses; then, where
this machine lets a test mount a small tmpfs, the same with a real worker on a really full filesystem.
"""
from __future__ import annotations

import errno
import functools
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from accelerate.utils import other as accelerate_saving
from safetensors import SafetensorError
from safetensors.torch import load_file

from backend.jobs.runner import JobRunner
from backend.schemas import COMPLETED, FAILED, DataSpec, JobSpec
from backend.training import run_control, runs, trainer
from backend.training.tracking import read_metrics
from tests.conftest import SAMPLE_DATA
from tests.job_helpers import wait_for

STEPS, EVERY = 30, 10  # checkpoints at steps 10, 20 and 30; the disk fills up during the one at step 20


def long_spec(model_dir: Path) -> JobSpec:
    """Checkpoints every 10 steps and one evaluation, at the end: before it, checkpoints are all that is written."""
    return JobSpec(data=DataSpec(train_csv=str(SAMPLE_DATA / "sentiment_reviews.csv")), model=str(model_dir),
                   max_steps=STEPS, batch_size=8, max_length=32, precision="fp32", seed=3, eval_every_steps=1000,
                   checkpoint_every_steps=EVERY)


def disk_full_reason(run_dir) -> str:
    return (f"The disk holding {run_dir} is full (No space left on device) while saving a checkpoint; "
            f"free some space, then resume: training continues from step {EVERY}.")


def fingerprint(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


def fills_up_during(real, file_name: str, step: int, error: Exception, seen: dict):
    """`real` (a save function: obj, path, ...), except that the disk fills up half-way through `file_name` of the
    checkpoint of `step`; `seen["kept"]` is then the fingerprint of the checkpoint that was complete at that moment."""
    def save(obj, path, *args, **kwargs):
        real(obj, path, *args, **kwargs)
        path = Path(path)
        if path.name == file_name and path.parent.name == runs.TEMP_PREFIX + runs.checkpoint_name(step):
            seen["kept"] = fingerprint(runs.latest_checkpoint(path.parents[2]))
            os.truncate(path, path.stat().st_size // 2)
            raise error
    return save


# The writers accelerate's save_state calls, the file each writes, and how it says the disk is full: Python's own
# OSError, or safetensors' wording of it. (torch.save's real wording, "unexpected pos", is met on the tmpfs below.)
WRITERS = {
    "optimizer via torch.save": (torch, "save", "optimizer.bin", OSError(errno.ENOSPC, "No space left on device")),
    "model via safetensors": (accelerate_saving, "safe_save_file", "model.safetensors", SafetensorError(
        "Error while serializing: I/O error: No space left on device (os error 28)")),
}


@pytest.mark.parametrize("writer", WRITERS)
def test_a_full_disk_while_checkpointing_keeps_the_last_checkpoint_and_resume_finishes(writer, tmp_path, tiny_model_dir,
                                                                                      monkeypatch):
    module, name, file_name, error = WRITERS[writer]
    runner = JobRunner(tmp_path / "data", devices=[])
    job = runner.submit(long_spec(tiny_model_dir), "alice")
    run_dir, seen = Path(job.run_dir), {}
    monkeypatch.setattr(module, name, fills_up_during(getattr(module, name), file_name, 2 * EVERY, error, seen))

    failed = runner.run_inline(job.job_id, "alice")

    assert failed.state == FAILED and failed.error == disk_full_reason(run_dir)
    assert runs.read_outcome(run_dir) == {"state": "failed", "reason": failed.error}
    kept = runs.latest_checkpoint(run_dir)
    assert kept.name == runs.checkpoint_name(EVERY)
    assert fingerprint(kept) == seen["kept"]  # not a byte of the previous checkpoint changed
    assert list((run_dir / runs.CHECKPOINTS).iterdir()) == [kept]  # the half-written one is gone, space freed
    assert "classifier.weight" in load_file(kept / "model.safetensors")
    assert "state" in torch.load(kept / "optimizer.bin", weights_only=True)

    monkeypatch.undo()  # space is back
    runner.resume(job.job_id, "alice")
    steps = []
    watched = functools.partial(trainer.train, on_step=lambda progress: steps.append(progress.step))
    done = runner.run_inline(job.job_id, "alice", train=watched)

    assert done.state == COMPLETED, done.error
    assert steps[0] == EVERY + 1 and steps[-1] == STEPS  # continued from the kept checkpoint, not from scratch
    assert [line["step"] for line in read_metrics(run_dir)] == list(range(1, STEPS + 1))  # no step logged twice
    assert runs.read_results(run_dir)["steps"] == STEPS
    assert not (run_dir / runs.CHECKPOINTS).exists()  # a completed job keeps its model, not its checkpoints


def test_a_full_disk_while_saving_the_best_model_keeps_the_previous_one(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / runs.MODEL).mkdir(parents=True)
    (run_dir / runs.MODEL / "model.safetensors").write_bytes(b"the previous best model")

    class HalfSaved:
        def save_pretrained(self, folder, state_dict=None):
            (Path(folder) / "model.safetensors").write_bytes(b"half of a new")
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    accelerator = SimpleNamespace(is_main_process=True, get_state_dict=lambda model: {},
                                  unwrap_model=lambda model: model, wait_for_everyone=lambda: None)
    with pytest.raises(runs.DiskFull) as caught:
        runs.save_model(accelerator, HalfSaved(), tokenizer=None, run_dir=run_dir)

    assert sorted(p.name for p in run_dir.iterdir()) == [runs.MODEL]  # no .tmp-model-* left behind
    assert (run_dir / runs.MODEL / "model.safetensors").read_bytes() == b"the previous best model"
    assert run_control.failure_reason(caught.value) == (
        f"The disk holding {run_dir} is full (No space left on device) while saving the best model; free some "
        "space, then start the job again: it has no checkpoint to resume from yet.")


def test_failure_reasons_for_full_disks_say_what_to_do():
    plain = OSError(errno.ENOSPC, "No space left on device")
    assert run_control.failure_reason(plain) == (
        "The disk is full (No space left on device); free some space, then resume from the last checkpoint "
        "(or start the job again if it has none).")
    quota = OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), "/srv/studio/runs/x/metrics.jsonl")
    assert run_control.failure_reason(quota).startswith(
        f"The disk holding /srv/studio/runs/x/metrics.jsonl is over your quota ({os.strerror(errno.EDQUOT)});")
    denied = OSError(errno.EACCES, "Permission denied")  # not a full disk: the plain wording
    assert run_control.failure_reason(denied) == "PermissionError: [Errno 13] Permission denied"


# ---- a really full filesystem: a small tmpfs holding the runs folder, and a real worker ----

@pytest.fixture
def small_disk():
    """mount(folder, size_bytes): a tmpfs there for this test, unmounted after it; skips where mounting is refused."""
    mounted = []

    def mount(folder: Path, size: int) -> Path:
        if os.geteuid() != 0 or not shutil.which("mount"):
            pytest.skip("mounting a small tmpfs needs root and mount(8); the in-process disk-full tests cover the rest")
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size // 1024}k", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"this machine does not allow mounting a tmpfs ({done.stderr.strip()}), as most CI containers")
        mounted.append(folder)
        return folder
    yield mount
    for folder in mounted:
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)  # still busy: detach it now, free later


def test_a_really_full_disk_fails_the_worker_with_a_reason_and_resume_finishes(tmp_path, tiny_model_dir, small_disk):
    # A checkpoint is the model plus Adam's two moments: about 3x the weights. The disk leaves room for 1.5 of them, so
    # the first checkpoint fits and the second runs out half-way. A ballast file stands for everything else on the
    # disk; deleting it leaves room for what the resumed run holds at once (two checkpoints and the best model).
    checkpoint = 3 * (tiny_model_dir / "model.safetensors").stat().st_size
    runs_dir = small_disk(tmp_path / "data" / "runs", 3 * checkpoint + checkpoint * 3 // 2)
    ballast = runs_dir / "someone-elses-files.bin"
    ballast.write_bytes(bytes(3 * checkpoint))
    runner = JobRunner(tmp_path / "data", devices=[], poll_interval=0.1, stop_timeout=20.0)
    runner.start()
    try:
        job = runner.submit(long_spec(tiny_model_dir), "alice").job_id
        failed = wait_for(runner, job, FAILED, timeout=180)
        run_dir = Path(failed.run_dir)
        assert failed.error == disk_full_reason(run_dir), (failed.error, (run_dir / runs.LOG).read_text()[-3000:])
        kept = runs.latest_checkpoint(run_dir)
        assert kept.name == runs.checkpoint_name(EVERY)
        assert list((run_dir / runs.CHECKPOINTS).iterdir()) == [kept]
        assert "classifier.weight" in load_file(kept / "model.safetensors")
        assert "state" in torch.load(kept / "optimizer.bin", weights_only=True)

        ballast.unlink()  # the person frees some space
        runner.resume(job, "alice")
        done = wait_for(runner, job, COMPLETED, timeout=180)
        log = (run_dir / runs.LOG).read_text()
        assert f"from step {EVERY}," in log.split("attempt 2")[-1]  # the second attempt started at the kept checkpoint
        assert runs.read_results(run_dir)["steps"] == STEPS and done.error is None
        assert [line["step"] for line in read_metrics(run_dir)] == list(range(1, STEPS + 1))
    finally:
        runner.stop()
        runner.store.close()
