"""Bytes from a URL into a file that a later call resumes (an HTTP Range request), and the progress of it: a
callback, a redrawn line on stderr, and a small JSON file another process (the web UI) reads.

backend.models.hub decides what to download and where it goes; this module only moves and counts bytes.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from pathlib import Path

READ_TIMEOUT_S = 10.0
REPORT_EVERY_S = 0.5
CHUNK_BYTES = 1 << 20


def describe_mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB" if size >= 1e6 else f"{size / 1e6:.1f} MB"


def stream_to(part: Path, url: str, size: int, progress: Progress) -> None:
    """Append the bytes of url after those already in part (a Range request); the server may answer 200 anew."""
    from huggingface_hub.utils import build_hf_headers, get_session

    done = part.stat().st_size if part.exists() else 0
    if done == size and size:  # complete already: a later file of the same fetch failed before
        return
    if done > size:
        part.unlink()
        done = 0
    headers = build_hf_headers(token=False) | ({"Range": f"bytes={done}-"} if done else {})
    with get_session().stream("GET", url, headers=headers, follow_redirects=True, timeout=READ_TIMEOUT_S) as answer:
        if answer.status_code not in (200, 206):
            raise OSError(f"HTTP {answer.status_code} {answer.reason_phrase}")
        mode = "ab" if answer.status_code == 206 else "wb"
        done = done if mode == "ab" else 0
        with open(part, mode) as sink:
            for chunk in answer.iter_bytes():  # as they arrive: a dropped connection loses none
                sink.write(chunk)
                done += len(chunk)
                progress.at(done)
    if done != size:
        raise OSError(f"the connection ended after {done} of {size} bytes")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- progress people can see


class Progress:
    """Bytes done of all files of one fetch: reported to a callback and to a small file the UI reads."""

    def __init__(self, path: Path, name: str, total: int, report):
        self.path, self.name, self.total, self.report = path, name, total, report
        self.before = 0  # bytes of the files already done
        self.done = 0
        self._reported_at = 0.0

    def at(self, file_bytes: int) -> None:
        self.done = self.before + max(0, file_bytes)
        if time.monotonic() - self._reported_at >= REPORT_EVERY_S:
            self._emit("downloading")

    def file_done(self, size: int) -> None:
        self.before += size
        self.done = self.before

    def fail(self) -> None:
        self._emit("failed")

    def finish(self) -> None:
        self.done = self.total
        self._emit("done")

    def _emit(self, state: str) -> None:
        self._reported_at = time.monotonic()
        self.report(self.done, self.total)
        with contextlib.suppress(OSError):
            path = self.path
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_name(f".{path.name}.{os.getpid()}")
            temp.write_text(json.dumps({"state": state, "done": self.done, "total": self.total,
                                        "at": time.time(), "name": self.name}), encoding="utf-8")
            os.replace(temp, path)


def stderr_report(name: str):
    """A report callback that redraws one line on stderr (train.log keeps the latest state of the line)."""
    def report(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\rDownloading {name}: {describe_mb(done)} of {describe_mb(total)}", end=end, file=sys.stderr,
              flush=True)
    return report
