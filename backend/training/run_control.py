"""Run control around the training loop: what starts, stops, retries and reports a run, apart from training itself.

    StopSignal       SIGTERM/SIGINT as a graceful stop, agreed on by every process
    retry_on_oom     out of memory: halve the batch, double accumulation, try again
    choose_precision auto/fp32/bf16/fp16 for this machine
    Outcome          outcome.json's record; write_outcome writes it, failure_reason words a failure for it
    describe_device, progress_bar: what a person sees of the run in train.log and results.json

backend.training.trainer uses these and re-exports them under their old names; none of them knows about the loop.
"""
from __future__ import annotations

import dataclasses
import errno
import gc
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from backend.schemas import JobSpec, StudioError
from backend.training import runs

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Outcome:
    state: str  # completed | diverged | stopped | failed
    reason: str


class StopSignal:
    """SIGTERM/SIGINT ask for a graceful stop: finish the step, checkpoint, outcome "stopped", exit 0.

    A second Ctrl-C (SIGINT) acts as it normally would, so a person pressing it twice gets out at once. A second
    SIGTERM is ignored: it comes from software (a runner, a dying server), and cutting the checkpoint short would
    lose the work the first one asked to keep; a runner that must end a worker uses SIGKILL.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __enter__(self) -> "StopSignal":
        self.flag, self.previous = False, {}
        if threading.current_thread() is threading.main_thread():  # Python allows handlers only there
            self.previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def _handle(self, signum, frame) -> None:
        self.flag = True
        print(f"Received {signal.Signals(signum).name}: stopping after this step, with a checkpoint.",
              file=sys.stderr, flush=True)
        again = signal.SIG_IGN if signum == signal.SIGTERM else self.previous.get(signum, signal.SIG_DFL)
        signal.signal(signum, again)

    def __exit__(self, *exc_info) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def requested(self, accelerator) -> bool:
        if accelerator.num_processes == 1:
            return self.flag
        # All processes must stop after the same step, or the others would wait forever in the next all-reduce.
        if self.flag:
            accelerator.set_trigger()
        return accelerator.check_trigger()


class TimeLimit:
    """A job's wall-clock budget, counted from the worker's start (a server caps jobs so a class shares the machine).

    Past it, training ends as if it had reached its last step: evaluate, keep the best model, complete.
    """

    clock = staticmethod(time.monotonic)

    def __init__(self, minutes: float | None):
        self.minutes, self.started = minutes, self.clock()

    def reached(self, accelerator) -> bool:
        if not self.minutes:
            return False
        over = self.clock() - self.started > self.minutes * 60
        if accelerator.num_processes == 1:
            return over
        # Every process must end after the same step; clocks differ a little, so they agree on the latest verdict.
        flag = torch.tensor([float(over)], device=accelerator.device)
        return bool(accelerator.reduce(flag, reduction="sum").item() > 0)

    def outcome(self, step: int, total_steps: int) -> Outcome:
        return Outcome("completed", f"Reached this server's time limit of {self.minutes:g} min at step {step} of "
                                    f"{total_steps}; the model kept is the best one evaluated so far.")


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc))


def retry_on_oom(attempt, spec: JobSpec, before_retry):
    """attempt(spec); on out-of-memory, halve the batch and double accumulation (same effective batch), retry."""
    while True:
        try:
            return attempt(spec)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            if spec.batch_size == 1:
                raise StudioError("Out of memory even with batch size 1; lower max_length or choose a smaller model.") from exc
        # Out here the exception and its traceback (which holds the model) are gone, so the memory can be freed.
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        spec = dataclasses.replace(spec, batch_size=spec.batch_size // 2,
                                   gradient_accumulation_steps=spec.gradient_accumulation_steps * 2)
        print(f"Out of memory: retrying with batch size {spec.batch_size} and {spec.gradient_accumulation_steps} "
              "accumulation steps.", file=sys.stderr)
        before_retry(spec)


def choose_precision(requested: str, cuda: bool) -> str:
    """auto: bf16 (or fp16) on a GPU; bf16 on a CPU with native bf16 instructions; else fp32. Others as asked."""
    if requested not in PRECISIONS:
        raise StudioError(f"Unknown precision {requested!r}: use one of {', '.join(PRECISIONS)}.")
    if requested == "auto":
        if cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_has_native_bf16() else "fp32"
    if requested == "fp16" and not cuda:
        raise StudioError("fp16 training needs a GPU; use precision bf16 or fp32 on this machine.")
    if requested == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise StudioError("This GPU does not support bf16; use precision fp16 or fp32.")
    return requested


def cpu_has_native_bf16() -> bool:
    """Without avx512_bf16 or amx_bf16 a CPU emulates bf16, which is slower than plain fp32."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, StudioError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in runs.DISK_FULL_ERRNOS:
        # A full disk is a failure the person can fix at once: say so, and where a resume will then continue.
        disk = f"The disk holding {exc.filename}" if exc.filename else "The disk"
        full = "is over your quota" if exc.errno == errno.EDQUOT else "is full"
        if not isinstance(exc, runs.DiskFull):
            return (f"{disk} {full} ({exc.strerror}); free some space, then resume from the last checkpoint "
                    "(or start the job again if it has none).")
        then = (f"then resume: training continues from step {exc.resume_step}" if exc.resume_step is not None
                else "then start the job again: it has no checkpoint to resume from yet")
        return f"{disk} {full} ({exc.strerror}) while saving {exc.saving}; free some space, {then}."
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"


def write_outcome(run_dir: Path, outcome: Outcome) -> None:
    # RANK rather than the Accelerator: this also runs when creating the Accelerator failed.
    if int(os.environ.get("RANK", "0")) == 0:
        runs.write_json(run_dir / runs.OUTCOME, dataclasses.asdict(outcome))


def progress_bar(accelerator, total: int, done: int):
    from tqdm import tqdm

    # In train.log (not a terminal) redraw rarely, so the log stays readable.
    return tqdm(total=total, initial=done, unit="step", file=sys.stderr, dynamic_ncols=True,
                mininterval=0.2 if sys.stderr.isatty() else 10, disable=not accelerator.is_main_process)


def peak_memory_mb(accelerator) -> float:
    """The process's high-water mark: GPU memory allocated on CUDA, else resident memory (RSS) on the CPU."""
    if accelerator.device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(accelerator.device) / 2**20, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KiB


def describe_device(accelerator) -> str:
    if accelerator.device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(accelerator.device)})"
    return f"{accelerator.device.type} ({torch.get_num_threads()} threads)"
