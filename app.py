"""MiniLM Studio: `python app.py [--host H] [--port P] [--data-dir D] [--users FILE] ...`. Parses flags, builds the
app, launches it."""
from __future__ import annotations

import argparse
import os
import sys


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="MiniLM Studio: fine-tune MiniLM on your CSVs and compare it with BERT-Base.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 to serve a class)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--data-dir", default="studio-data", help="uploads, the job store and runs; survives restarts")
    parser.add_argument("--max-concurrent-jobs", type=int, default=None,
                        help="training jobs at once (default: one per GPU, one on CPU)")
    parser.add_argument("--allow-model-dir", action="append", default=[], metavar="DIR",
                        help="offer a local Hugging Face model folder besides the catalog (repeatable)")
    parser.add_argument("--monitoring", action="store_true",
                        help="turn on Gradio's /monitoring dashboard (off by default; analytics stay off unless "
                             "GRADIO_ANALYTICS_ENABLED=True)")
    access = parser.add_argument_group("a class on one server (see README: Running a class)")
    access.add_argument("--users", metavar="FILE", help="turn on login: a CSV username,password,role (role student or "
                        "teacher); STUDIO_USERS='ana:pw,lee:pw:teacher' adds accounts from the environment")
    access.add_argument("--demo", action="append", default=[], metavar="JOB_ID",
                        help="read-only demo of this finished job (repeatable): playground and compare only, no training")
    limits = parser.add_argument_group("fair use (with login the class defaults apply; 0 means no limit)")
    limits.add_argument("--max-active-jobs", type=int, metavar="N", help="jobs queued or running per student (class: 2)")
    limits.add_argument("--max-queue", type=int, metavar="N", help="jobs waiting on the server (class: 60)")
    limits.add_argument("--job-time-limit", type=float, metavar="MIN",
                        help="minutes a job may train; it then keeps its best model (class: 15)")
    limits.add_argument("--max-upload-mb", type=float, metavar="MB", help="largest upload (class: 25; else 200)")
    limits.add_argument("--max-rows", type=int, metavar="N", help="rows per CSV (class: 50,000; else 1,000,000)")
    return parser.parse_args()


def make_services(args: argparse.Namespace, runner):
    """The server's shared state from the flags; a StudioError names a flag's problem in one sentence."""
    from backend.access.services import Services
    from backend.access.users import load_users
    from backend.jobs.limits import Limits
    from backend.schemas import COMPLETED, StudioError

    users = load_users(args.users)
    plain = users.plain_text_names() if users else []
    if plain:
        shown = ", ".join(plain[:5]) + (f" and {len(plain) - 5} more" if len(plain) > 5 else "")
        print(f"warning: {len(plain)} account(s) keep the password as plain text ({shown}); anyone who reads the "
              "users file can sign in as them. Store hashes instead: python -m backend hash-password",
              file=sys.stderr)
    limits = (Limits.for_class() if users else Limits()).with_overrides(
        active_jobs_per_user=args.max_active_jobs, queue_size=args.max_queue, job_minutes=args.job_time_limit,
        upload_mb=args.max_upload_mb, max_rows=args.max_rows)
    for job_id in args.demo:
        row = runner.store.get(job_id)
        if row is None:
            raise StudioError(f"There is no job {job_id} in {runner.data_dir}; pass the id of a finished job there.")
        if row["state"] != COMPLETED:
            raise StudioError(f"Job {job_id} has not completed, so it cannot be shown in a demo; pick a finished job.")
    from ui.downloads import upload_folder

    return Services(data_dir=args.data_dir, runner=runner, model_dirs=args.allow_model_dir, users=users,
                    limits=limits, demo_jobs=args.demo, upload_dirs=[upload_folder()])


def main() -> None:
    args = parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing phones home from a classroom server
    from backend.jobs.runner import JobRunner
    from backend.schemas import StudioError
    from ui.app import build_app, launch_options

    runner = JobRunner(args.data_dir, max_concurrent=args.max_concurrent_jobs)
    try:
        services = make_services(args, runner)
    except StudioError as exc:
        sys.exit(f"error: {exc}")
    runner.start()  # settles jobs a previous server left running (interrupted, resumable), then runs the queue
    try:
        app = build_app(services)
        app.queue(default_concurrency_limit=4).launch(
            server_name=args.host, server_port=args.port, **launch_options(services, monitoring=args.monitoring),
        )
    finally:
        runner.stop()


if __name__ == "__main__":
    main()
