"""MiniLM against the BERT-Base side on the task kinds of issue 6, the way the Compare tab's "Train both" runs them.

For each CSV: the Data tab's check and token preview, head_to_head.plan_comparison (same data, split, seed,
epochs, max length and batch size; each model its own learning rate), each job run as the app runs it
(`python -m backend.trainer --run-dir DIR`, its own process), then compare.compare_runs, which measures
single-text latency and batch throughput of both models in this one process. Speed is reported as ratios.

    python bench/task_kinds.py                                   # the QA and multi-label samples, quick preset
    python bench/task_kinds.py --csv my_questions.csv --preset standard
    python bench/task_kinds.py --max-steps 60                    # a shorter run (both sides the same)
    python bench/task_kinds.py --reuse                           # keep trained runs, measure quality and speed again

The samples are invented and easy; read the quality columns as "both learn the task", not as a benchmark score.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from results import append_results  # noqa: E402

from backend.tasks import loading  # noqa: E402
from backend.schemas import DataSpec  # noqa: E402
from backend.serving import compare, head_to_head  # noqa: E402
from backend.training import runs  # noqa: E402

OUT = REPO / "bench" / "out" / "task_kinds"
SAMPLES = [REPO / "sample_data" / name for name in ("qa_questions.csv", "support_tickets_multilabel.csv")]
SHOWN = {  # task -> the metrics worth a column, main metric first
    "extractive_qa": ("f1", "exact", "has_ans_f1", "no_ans_f1"),
    "multi_label_classification": ("micro_f1", "macro_f1", "subset_accuracy"),
}


def run_job(spec, folder: Path) -> float:
    """Train one spec in its own process; wall seconds end to end."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    runs.write_spec(folder, spec)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "backend.trainer", "--run-dir", str(folder)], cwd=REPO,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{spec.name} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def bench_csv(csv: Path, preset: str, max_steps: int | None, reuse: bool = False) -> list[str]:
    data = DataSpec(train_csv=str(csv))
    preview = loading.preview_data(data, None, 512, 0, with_bert=False)
    report = loading.validate(data)
    data.task = report.task
    plan = head_to_head.plan_comparison(data, preset=preset, suggested_max_length=preview["suggested_max_length"])
    folders = {}
    for role in ("minilm", "bert"):
        spec = plan[role]
        spec.max_steps = max_steps
        folders[role] = OUT / f"{csv.stem}-{role}"
        if reuse and (folders[role] / runs.RESULTS).is_file():
            continue
        wall = run_job(spec, folders[role])
        print(f"{csv.name}: {spec.name} trained in {wall:.0f} s", flush=True)
    result = compare.compare_runs(folders["minilm"], folders["bert"], remeasure=True)
    a, b = result["a"], result["b"]
    shown = SHOWN.get(report.task, (result["main_metric"],))
    quality = "; ".join(f"{name} {a['metrics'].get(name, float('nan')):.3f} vs {b['metrics'].get(name, float('nan')):.3f}"
                        for name in shown)
    latency = a["speed"]["latency_p50_ms"] / b["speed"]["latency_p50_ms"]
    throughput = a["speed"]["throughput_rows_per_s"] / b["speed"]["throughput_rows_per_s"]
    train_speed = a["train_samples_per_second"] / b["train_samples_per_second"]
    row = (f"{report.task_name}, {csv.name} ({report.rows} train / {report.eval_rows} eval rows), "
           f"{a['name']} vs {b['name']}, preset {preset}, max length {plan['minilm'].max_length}"
           f"{f', {max_steps} steps' if max_steps else ''}: {quality}; MiniLM single-text latency **{latency:.2f}x** "
           f"(p50 {a['speed']['latency_p50_ms']:.1f} vs {b['speed']['latency_p50_ms']:.1f} ms, measured in one "
           f"process), batch throughput **{throughput:.1f}x** ({a['speed']['throughput_rows_per_s']:g} vs "
           f"{b['speed']['throughput_rows_per_s']:g} rows/s), training samples/s {train_speed:.1f}x (two processes "
           f"one after the other: noisier), {a['num_parameters'] / 1e6:.1f}M vs {b['num_parameters'] / 1e6:.1f}M "
           "parameters")
    print(row)
    return [row]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", type=Path, action="append", help="a CSV to run (repeatable); default: the samples")
    parser.add_argument("--preset", default="quick", choices=("quick", "standard", "thorough"))
    parser.add_argument("--max-steps", type=int, help="cap both runs at this many steps")
    parser.add_argument("--reuse", action="store_true", help="reuse runs already trained in bench/out/task_kinds")
    args = parser.parse_args()
    rows = []
    for csv in args.csv or SAMPLES:
        rows += bench_csv(csv, args.preset, args.max_steps, args.reuse)
    append_results("MiniLM vs the BERT-Base side on QA and multi-label (`python bench/task_kinds.py`)", rows)


if __name__ == "__main__":
    main()
