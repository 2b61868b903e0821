"""Worker processes as the operating system sees them: is this pid our worker, stop it gently or for good,
and make it die with the server (Linux PR_SET_PDEATHSIG). Linux and POSIX only (/proc, killpg, prctl)."""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1


def is_worker(pid: int, run_dir: str) -> bool:
    """True if pid is alive and is the worker of run_dir; a pid reused by another program is not."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(run_dir).encode() in args


def ask_to_stop(pid: int) -> None:
    """SIGTERM to the worker alone: it coordinates its own children; signalling them too could break its last step."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)  # the worker leads its own group: nothing it spawned survives it
    except ProcessLookupError:
        pass


def wait_gone(workers: list[tuple[int, str]], timeout: float) -> list[tuple[int, str]]:
    """Wait until these (pid, run_dir) workers have exited or timeout passed; returns those still alive."""
    deadline = time.monotonic() + timeout
    while (alive := [w for w in workers if is_worker(*w)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def stop_orphans(orphans: list[tuple[int, str]], timeout: float) -> None:
    """Stop the workers a dead server left behind.

    They heard SIGTERM when it died (PR_SET_PDEATHSIG) and are finishing a step and checkpointing; a second
    SIGTERM would be wasted (the trainer ignores it while stopping). So they get time first; a
    SIGTERM goes only to those still alive after it, in case nothing told them, and SIGKILL ends the rest.
    """
    alive = wait_gone(orphans, timeout)
    for stop, grace in ((ask_to_stop, timeout), (kill_group, 5.0)):
        for pid, _ in alive:
            stop(pid)
        alive = wait_gone(alive, grace)


def die_with_parent(parent_pid: int):
    """A preexec_fn making Linux SIGTERM the worker when the runner thread dies, even by kill -9 of the server.

    The signal follows the thread that forked, which is why only the runner's own thread starts workers.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork: nothing gets loaded in the child

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent_pid:
            os._exit(1)  # the server died before prctl took effect: nobody would ever stop this worker
    return arm
