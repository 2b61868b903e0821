"""MiniLM Studio: `python app.py [--host H] [--port P] [--data-dir D]`. Parses flags, builds the app, launches it."""
from __future__ import annotations

import argparse
import os


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="MiniLM Studio: fine-tune MiniLM on your CSVs and compare it with BERT-Base.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 to serve a class)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--data-dir", default="studio-data", help="uploads, the job store and runs; survives restarts")
    parser.add_argument("--max-concurrent-jobs", type=int, default=None,
                        help="training jobs at once (default: one per GPU, one on CPU)")
    parser.add_argument("--allow-model-dir", action="append", default=[], metavar="DIR",
                        help="offer a local Hugging Face model folder besides the catalog (repeatable)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing phones home from a classroom server
    from backend.jobs import JobRunner
    from backend.services import Services
    from ui.app import build_app, launch_options

    runner = JobRunner(args.data_dir, max_concurrent=args.max_concurrent_jobs)
    services = Services(data_dir=args.data_dir, runner=runner, model_dirs=args.allow_model_dir)
    runner.start()  # settles jobs a previous server left running (interrupted, resumable), then runs the queue
    try:
        app = build_app(services)
        app.queue(default_concurrency_limit=4).launch(
            server_name=args.host, server_port=args.port, **launch_options(services),
        )
    finally:
        runner.stop()


if __name__ == "__main__":
    main()
