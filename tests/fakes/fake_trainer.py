"""A stand-in for `python -m backend.trainer --run-dir DIR [--resume]` that keeps the worker contract in a second.

It reads DIR/spec.json; `max_steps` is the number of steps and `name` picks a behaviour:
"" trains normally, "crash" raises at step 3 (exit 1), "diverge" ends with outcome diverged at step 3,
"fail" ends with outcome failed, "deaf" ignores SIGTERM, "slow-stop" takes a second to stop. Each step sleeps
FAKE_STEP_SECONDS (default 0.05) and checkpoints as checkpoints/step-NNNNNNNN/ (the layout of backend/training/runs.py).
As the real trainer: SIGTERM finishes the step, checkpoints and writes outcome "stopped"; later SIGTERMs are ignored.
It notes a SIGTERM in DIR/sigterm, and appends argv and CUDA_VISIBLE_DEVICES to DIR/starts.jsonl at each start.
"""
import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

STEP_SECONDS = float(os.environ.get("FAKE_STEP_SECONDS", "0.05"))


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)  # atomic, as the real trainer should do it


def latest_step(run_dir: Path) -> int:
    return max(int(p.name[len("step-"):]) for p in (run_dir / "checkpoints").glob("step-*"))


def save_checkpoint(run_dir: Path, step: int) -> None:
    if (run_dir / "checkpoints" / f"step-{step:08d}").exists():
        return
    temp = run_dir / "checkpoints" / ".tmp-save"
    temp.mkdir(parents=True, exist_ok=True)
    (temp / "state.json").write_text(json.dumps({"step": step}))
    temp.rename(run_dir / "checkpoints" / f"step-{step:08d}")
    for old in (run_dir / "checkpoints").glob("step-*"):
        if old.name != f"step-{step:08d}":
            (old / "state.json").unlink()
            old.rmdir()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    spec = json.loads((run_dir / "spec.json").read_text())
    mode, steps = spec["name"], spec["max_steps"] or 10
    with open(run_dir / "starts.jsonl", "a") as file:
        file.write(json.dumps({"argv": sys.argv[1:], "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}) + "\n")

    stop = []

    def on_sigterm(signum, frame):
        stop.append(1)
        (run_dir / "sigterm").touch()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # more SIGTERMs do not cut the checkpoint, as in the real trainer
    signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "deaf" else on_sigterm)
    step = latest_step(run_dir) if args.resume else 0
    print(f"fake trainer: starting at step {step}", flush=True)
    while step < steps:
        if stop:
            time.sleep(1.0 if mode == "slow-stop" else 0)  # a long last step
            save_checkpoint(run_dir, step)
            write_json(run_dir / "outcome.json", {"state": "stopped", "reason": f"stopped at step {step}"})
            return 0
        time.sleep(STEP_SECONDS)
        step += 1
        print(f"step {step}/{steps}", flush=True)
        if mode == "crash" and step == 3:
            raise RuntimeError("fake failure at step 3")
        if mode == "diverge" and step == 3:
            write_json(run_dir / "outcome.json", {"state": "diverged", "reason": "The loss became NaN at step 3."})
            return 0
        save_checkpoint(run_dir, step)
    if mode == "fail":
        write_json(run_dir / "outcome.json", {"state": "failed", "reason": "The eval CSV has no rows."})
        return 0
    write_json(run_dir / "results.json", {"steps": step})
    write_json(run_dir / "outcome.json", {"state": "completed", "reason": ""})
    return 0


if __name__ == "__main__":
    sys.exit(main())
