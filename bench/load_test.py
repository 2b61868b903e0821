"""Load test: 30 concurrent sessions preview and predict while one job trains.

Reports latency per endpoint and errors, and whether the server's memory, open files and threads come back to
their baseline afterwards.

How the sessions, users and jobs are arranged. Jobs belong to their owner and a student predicts only with their
own (a teacher's jobs are not theirs either), so every session gets a finished model of its own:

- The app runs in its own process (bench/server.py) on a fresh temporary data folder. With login (the default;
  app.py's `--users`), a users file lists student01..studentNN and session i signs in as student i through
  Gradio's login, as a class would. `--no-login` runs the same sessions without it, all as the one local user.
- Set-up: each session's finished model, a job of `--setup-steps` (1) steps on sample_data's reviews. With
  `--setup api` (the default) every session submits its own through /start_job at once and waits on /job_status;
  the runner trains them one by one, one process each (about 2.5 minutes for 30 here). With `--setup store` (the
  default with `--quick`, and the test's) the script trains them in its own process before the server starts,
  through the job store the server then opens (seconds). Then one long job (student01's, on 6,000 rows) starts
  and is confirmed running: the "one job trains" during the load, cancelled at the end. So the server's model
  cache sees 30 models, as it does when a class uses the Playground; `--one-model` (with `--no-login`) makes every
  session predict with the same one, for comparison.
- Warm-up: the load itself (the same sessions, up to 3 rounds), so the thread pool, the tokenizers, the model
  cache and the allocator are at their working size. Baseline: read at rest (quiet_usage): the server's RSS
  (VmRSS), open files (/proc/PID/fd) and threads.
- Load: N new sessions sign in at once, then from a common start each does R rounds of /preview_tokens (the
  sample CSV, uploaded each time) and /predict (its own model, a different sentence each round), back to back with
  no pause. Every call is timed end to end from the client (upload, queue, work, answer); every exception is
  recorded. A sampler reads the server's usage every 0.2 s for the peak. With no pause between calls, latency is
  about sessions / throughput: the numbers are what 30 people clicking at once would wait, on a machine this
  load generator shares (its CPU time is reported beside the server's).
- After: all clients closed, the usage is read at rest again; the long job must still be running and have
  trained during the load; it is then cancelled and must end cancelled.

Tolerances, against the warmed baseline: open files within +5 and threads within +4 (in every run open files came
back exactly and threads to within one; a leak per session or per call would add 30 or hundreds); RSS within +20% (at least
+64 MB). After an identical warm-up RSS rose 33-127 MB (4-13%) in 9 runs; about 15 MB of that is Gradio's
per-session state (0.5 MB for each new session, kept until state_session_capacity, 1,000 in the app, sessions), the rest
allocator and model-cache churn that levels off over repeated waves (bench/README.md). 20% is 1.5 times the
worst seen, and far below a model or a request kept per call (a real model is 90 MB; there are 300 predictions).

    python bench/load_test.py [--sessions 30] [--rounds 10] [--model all-minilm-l6] [--quick] [--no-login]
"""
from __future__ import annotations

import argparse
import csv
import secrets
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.schemas import FINISHED_STATES  # noqa: E402
from bench.load_report import Call, Report, check, errors, summary, table  # noqa: E402,F401  check: the test uses it
from bench.results import append_results  # noqa: E402
from bench.server import AppServer, Sampler, Usage, app_flags, cpu_seconds, own_cpu_seconds, usage  # noqa: E402

SAMPLE_CSV = ROOT / "sample_data" / "sentiment_reviews.csv"
SENTENCES = ("I loved the train journey; the seating was excellent.", "The phone broke after a day.",
             "The service was fine, nothing special.", "Great value and a delightful price.",
             "The headphones were a little too quiet for me.")
CALL_TIMEOUT = 300.0  # seconds for one call, queueing included; beyond it the call counts as an error
MAX_WARM_UP_ROUNDS = 3  # the warm-up is the load itself (up to 3 rounds): the allocator reaches its working size


_T0 = time.monotonic()


def say(message: str) -> None:
    """Progress on stderr, so a long run shows where it is."""
    print(f"[{time.monotonic() - _T0:6.0f} s] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- users and sessions


def write_users(path: Path, count: int) -> list[tuple[str, str]]:
    """A users file with student01..studentNN, each with a random password; returns the logins."""
    logins = [(f"student{i:02d}", secrets.token_urlsafe(12)) for i in range(1, count + 1)]
    path.write_text("username,password,role\n" + "".join(f"{name},{pw},student\n" for name, pw in logins))
    return logins


def connect(url: str, login: tuple[str, str] | None):
    from gradio_client import Client

    return Client(url, auth=login, verbose=False, analytics_enabled=False)


def call(client, endpoint: str, *args, **kwargs):
    return client.submit(*args, api_name=f"/{endpoint}", **kwargs).result(timeout=CALL_TIMEOUT)


def timed(calls: list[Call], endpoint: str, function) -> object:
    """Run function, append its Call (latency, or the error it raised) to calls; returns its value or None."""
    started = time.perf_counter()
    try:
        value = function()
    except Exception as exc:  # an error is a result here: it is counted, never raised
        calls.append(Call(endpoint, time.perf_counter() - started, f"{type(exc).__name__}: {exc}"[:300]))
        return None
    calls.append(Call(endpoint, time.perf_counter() - started))
    return value


def preview(client, model: str) -> dict:
    from gradio_client import handle_file

    return call(client, "preview_tokens", handle_file(str(SAMPLE_CSV)), model=model, max_length=64)


def predict(client, job_id: str, text: str) -> dict:
    return call(client, "predict", job_id, text)


def session_rounds(client, model: str, job_id: str, rounds: int, index: int, calls: list[Call]) -> None:
    """R rounds of a preview and a prediction; odd sessions predict first, so both endpoints are busy at once."""
    for round_no in range(rounds):
        text = SENTENCES[(index + round_no) % len(SENTENCES)]
        steps = [("preview_tokens", lambda: preview(client, model)), ("predict", lambda: predict(client, job_id, text))]
        for endpoint, step in steps if index % 2 == 0 else reversed(steps):
            timed(calls, endpoint, step)


# ---------------------------------------------------------------- jobs


def submit(client, model: str, max_steps: int, name: str) -> str:
    from gradio_client import handle_file

    status = call(client, "start_job", handle_file(str(SAMPLE_CSV)), model=model, preset="quick",
                  max_steps=max_steps, name=name)
    return status["job_id"]


def wait_for(client, job_id: str, states: tuple[str, ...], timeout: float) -> dict:
    """Poll /job_status until the job is in one of states; a job that finishes otherwise is an error."""
    deadline = time.monotonic() + timeout
    while True:
        status = call(client, "job_status", job_id)
        if status["state"] in states:
            return status
        if status["finished"]:
            raise RuntimeError(f"job {job_id} ended {status['state']}: {status.get('error')}\n{status['log_tail']}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} still {status['state']} after {timeout:.0f} s")
        time.sleep(1.0)


def connect_all(url: str, logins: list) -> list:
    with ThreadPoolExecutor(len(logins)) as pool:
        return list(pool.map(lambda login: connect(url, login), logins))


def train_through_api(clients: list, model: str, steps: int) -> list[str]:
    """Every session submits its own short job at once (/start_job) and waits for it (/job_status)."""
    with ThreadPoolExecutor(len(clients)) as pool:
        job_ids = list(pool.map(lambda c: submit(c, model, steps, "load test: finished model"), clients))
    say(f"set-up: {len(clients)} sessions submitted their own {steps}-step job")
    for client, job_id in zip(clients, job_ids):
        wait_for(client, job_id, ("completed",), timeout=900)
    say("set-up: every session's job completed")
    return job_ids


def train_in_store(data_dir: Path, owners: list[str], model: str, steps: int) -> list[str]:
    """Each owner's finished job, trained one after another in this process before the server starts, through
    the job store the server then opens (JobRunner.run_inline): the state a class is in when it comes back to
    models trained in an earlier lesson. Seconds where the API's one process per job takes minutes."""
    from backend.jobs.runner import JobRunner
    from backend.schemas import DataSpec, JobSpec

    model = str(Path(model).resolve()) if Path(model).is_dir() else model  # as the server's check_model keys it
    spec = JobSpec(data=DataSpec(train_csv=str(SAMPLE_CSV)), model=model, max_steps=steps, batch_size=16,
                   max_length=64, name="load test: finished model")
    runner, job_ids = JobRunner(data_dir), []
    try:
        for owner in owners:
            job_id = runner.submit(spec, owner).job_id
            if runner.run_inline(job_id, owner).state != "completed":
                raise RuntimeError(f"the set-up job of {owner} did not complete: {runner.get(job_id, owner).error}")
            job_ids.append(job_id)
    finally:
        runner.store.close()
    say(f"set-up: {len(owners)} finished job(s) trained in the job store")
    return job_ids


# ---------------------------------------------------------------- the load


def run_sessions(url: str, logins: list, model: str, job_ids: list[str], rounds: int) -> list[Call]:
    """N new sessions connect at once, then from a common start each runs its rounds; every call is recorded."""
    start = threading.Barrier(len(logins))

    def session(index: int) -> list[Call]:
        calls: list[Call] = []
        client = timed(calls, "connect", lambda: connect(url, logins[index]))
        try:
            start.wait(timeout=CALL_TIMEOUT)
        except threading.BrokenBarrierError:
            pass  # a session whose connect hung past the timeout: the others go on without it
        if client is not None:
            session_rounds(client, model, job_ids[index], rounds, index, calls)
            client.close()
        return calls

    with ThreadPoolExecutor(len(logins)) as pool:
        return [c for calls in pool.map(session, range(len(logins))) for c in calls]


def quiet_usage(server: AppServer, login, long_job: str) -> tuple[Usage, dict]:
    """The server's usage at rest, read the same way before and after the load; also the long job's status.

    anyio, which runs the endpoints in worker threads, stops a thread idle for 10 s only when the next request
    comes. So: 11 s with no client, one /job_status from a new client (which also says how the long job is
    doing), the client closed, 2 s for its connections to end, then read. Otherwise the thread count would only
    tell how many requests happened to be in flight at once, the last time it was busy.
    """
    time.sleep(11.0)
    client = connect(server.url, login)
    status = call(client, "job_status", long_job)
    client.close()
    time.sleep(2.0)
    return usage(server.pid), status


def long_csv(folder: Path, copies: int = 20) -> Path:
    """The sample rows `copies` times over, each copy's texts made distinct: epochs of minutes, not seconds, so the
    long job checkpoints (and writes to disk) as a real job on a class's data would, not every few seconds."""
    with SAMPLE_CSV.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    path = folder / "long_training.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "text": f"{row['text']} (take {k})"} for k in range(copies) for row in rows)
    return path


def start_long_job(client, model: str, csv: Path) -> str:
    """The job that trains during the load: queued after the set-up jobs, waited on until it runs."""
    from gradio_client import handle_file

    status = call(client, "start_job", handle_file(str(csv)), model=model, preset="quick", max_steps=1_000_000,
                  name="load test: the job that trains")
    wait_for(client, status["job_id"], ("running",), timeout=300)
    return status["job_id"]


def run_load(server: AppServer, logins: list, model: str, rounds: int, job_ids: list[str] | None = None,
             setup_steps: int = 1, one_model: bool = False) -> Report:
    """The whole scenario against a started server; logins are (user, password) pairs, or Nones without login.
    job_ids are the sessions' finished jobs if already trained (train_in_store); else each session trains one.
    one_model: all sessions predict with the first session's model (without login only: jobs have owners)."""
    report = Report(len(logins), rounds, model, login=logins[0] is not None, setup="store" if job_ids else "api")
    started = time.monotonic()
    clients = connect_all(server.url, logins if job_ids is None and not one_model else logins[:1])
    job_ids = job_ids or train_through_api(clients, model, setup_steps)
    job_ids = [job_ids[0]] * len(logins) if one_model else job_ids
    report.models = len(set(job_ids))
    long_job = start_long_job(clients[0], model, long_csv(server.data_dir))
    for client in clients:
        client.close()
    warm_up_rounds = min(rounds, MAX_WARM_UP_ROUNDS)
    say(f"the long job {long_job} is running; warm-up: {len(logins)} sessions x {warm_up_rounds} round(s)")
    report.warm_up_errors = errors(run_sessions(server.url, logins, model, job_ids, warm_up_rounds))
    report.setup_seconds = time.monotonic() - started
    report.baseline, status = quiet_usage(server, logins[0], long_job)
    step_at_start, sampler = status["progress"]["step"], Sampler(server.pid)
    sampler.start()
    say(f"baseline {report.baseline}; the load starts: {len(logins)} sessions x {rounds} rounds")
    started, cpu_before = time.monotonic(), (cpu_seconds(server.pid), own_cpu_seconds())
    report.calls = run_sessions(server.url, logins, model, job_ids, rounds)
    report.load_seconds, report.peak = time.monotonic() - started, sampler.stop()
    report.cpu = (cpu_seconds(server.pid) - cpu_before[0], own_cpu_seconds() - cpu_before[1])
    say(f"the load ended; peak {report.peak}")
    report.after, status = quiet_usage(server, logins[0], long_job)
    say(f"after {report.after}")
    report.training_steps = (step_at_start, status["progress"]["step"])
    report.problems = check(report, status["state"])
    report.training_state = cancel(server.url, logins[0], long_job)
    if report.training_state != "cancelled":
        report.problems.append(f"the long job ended {report.training_state} when cancelled")
    return report


def cancel(url: str, login, job_id: str) -> str:
    """Cancel the job and wait for it to end; returns the state it ended in."""
    client = connect(url, login)
    call(client, "cancel_job", job_id)
    state = wait_for(client, job_id, FINISHED_STATES, timeout=300)["state"]
    client.close()
    return state


# ---------------------------------------------------------------- the command


def make_logins(folder: Path, sessions: int, login: bool) -> list:
    """With login, a users file of student01..studentNN in folder and their (name, password); else Nones."""
    if not login:
        return [None] * sessions
    if "--users" not in app_flags():
        raise SystemExit("app.py has no --users flag: run with --no-login")
    return write_users(folder / "users.csv", sessions)


def owners(logins: list) -> list[str]:
    from backend.access.users import LOCAL_USER

    return [login[0] if login else LOCAL_USER for login in logins]


def serve(folder: Path, model: str, logins: list, max_concurrent_jobs: int | None = None) -> AppServer:
    """The app on the data folder folder/data (the users file of make_logins when logins are given)."""
    extra = ["--users", str(folder / "users.csv")] if logins[0] else []
    extra += ["--max-concurrent-jobs", str(max_concurrent_jobs)] if max_concurrent_jobs else []
    model_dirs = [Path(model).resolve()] if Path(model).is_dir() else []
    # Its own upload folder, so what the load leaves in it goes with the temporary folder.
    server = AppServer(folder / "data", *model_dirs, args=extra, env={"GRADIO_TEMP_DIR": str(folder / "uploads")})
    return server.start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=None, help="rounds per session (default 10; 3 with --quick)")
    parser.add_argument("--model", default="all-minilm-l6", help="a catalog key or a local model folder")
    parser.add_argument("--quick", action="store_true",
                        help="the scale the test suite runs: 3 rounds, the sessions' jobs trained in the store")
    parser.add_argument("--no-login", action="store_true", help="no users file: every session is the local user")
    parser.add_argument("--setup", choices=["api", "store"], default=None,
                        help="how each session's finished job is made: api (each session's /start_job, one "
                             "process per job; the default) or store (trained in this process before the server "
                             "starts; the default with --quick)")
    parser.add_argument("--one-model", action="store_true",
                        help="with --no-login: every session predicts with the same model (the model cache's best "
                             "case, to compare with one model per session)")
    parser.add_argument("--setup-steps", type=int, default=1, help="training steps of each session's own job")
    parser.add_argument("--max-concurrent-jobs", type=int, default=None, help="passed to app.py")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder and server log")
    parser.add_argument("--no-append", action="store_true", help="print only, do not append to bench/RESULTS.md")
    args = parser.parse_args()
    rounds, setup = args.rounds or (3 if args.quick else 10), args.setup or ("store" if args.quick else "api")
    if args.one_model and not args.no_login:
        parser.error("--one-model needs --no-login: a signed-in student predicts only with their own jobs")

    folder, server = Path(tempfile.mkdtemp(prefix="load-test-")), None
    try:
        logins = make_logins(folder, args.sessions, not args.no_login)
        job_ids = None
        if setup == "store":
            trained = owners(logins)[:1] if args.one_model else owners(logins)
            job_ids = train_in_store(folder / "data", trained, args.model, args.setup_steps)
        server = serve(folder, args.model, logins, args.max_concurrent_jobs)
        report = run_load(server, logins, args.model, rounds, job_ids, args.setup_steps, args.one_model)
    finally:
        if server:
            server.stop()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(table(report))
    for failed in (report.warm_up_errors + errors(report.calls))[:5]:
        print(f"error in {failed.endpoint}: {failed.error}")
    print("PASS" if not report.problems else "FAIL: " + "; ".join(report.problems))
    if args.keep:
        print(f"kept {folder} (server log: {server.log})")
    if not args.no_append:
        append_results("load_test", [summary(report)])
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
