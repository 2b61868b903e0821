"""The app in its own process on a free port, for scripts and tests that talk to it over HTTP; and what that
process uses (resident memory, open files, threads, CPU time) as the kernel reports it.

    server = AppServer(data_dir, model_dir, args=("--users", "users.csv")).start()
    ...  server.url, server.pid
    server.stop()

The same launcher as tests/ui/conftest.AppServer, with the same arguments (so the conftest can import this one
instead), plus extra environment and the pid.
"""
from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the app did not answer within {seconds} s:\n{log.read_text()[-3000:]}")


def app_flags() -> str:
    """`python app.py --help`: which flags this checkout's app takes."""
    return subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True).stdout


class AppServer:
    """`python app.py` on a free port with a data folder, offering model_dirs besides the catalog."""

    def __init__(self, data_dir: Path, *model_dirs: Path, args: tuple[str, ...] = (), env: dict | None = None):
        self.data_dir, self.model_dirs, self.port = Path(data_dir), model_dirs, free_port()
        self.args, self.extra_env = tuple(str(arg) for arg in args), dict(env or {})
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = self.data_dir / "server.log"
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def start(self) -> "AppServer":
        env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
        env.update(self.extra_env)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        allowed = [arg for folder in self.model_dirs for arg in ("--allow-model-dir", str(folder))]
        with open(self.log, "a") as out:
            self.process = subprocess.Popen(
                [sys.executable, "app.py", "--port", str(self.port), "--data-dir", str(self.data_dir), *allowed,
                 *self.args],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )
        wait_until_up(self.url, self.process, self.log)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


# ---------------------------------------------------------------- the server process, read from outside


@dataclass
class Usage:
    """The server process as the kernel sees it."""

    rss_mb: float
    fds: int
    threads: int


def usage(pid: int) -> Usage:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return Usage(int(status["VmRSS"].split()[0]) / 1024, len(os.listdir(f"/proc/{pid}/fd")), int(status["Threads"]))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included, its children not)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


class Sampler(threading.Thread):
    """Reads the server's usage every `every` seconds until stopped; keeps the peak of each number."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self._stop_event = pid, every, usage(pid), threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            now = usage(self.pid)
            self.peak = Usage(max(self.peak.rss_mb, now.rss_mb), max(self.peak.fds, now.fds),
                              max(self.peak.threads, now.threads))

    def stop(self) -> Usage:
        self._stop_event.set()
        self.join()
        return self.peak
