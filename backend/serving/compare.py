"""Two finished runs side by side: quality, size, speed, curves and the examples they disagree on.

compare_runs reads what the runs wrote (results.json, metrics.jsonl, model/) and measures inference speed once per
run (cached as speed.json in the run folder). Numbers are stated as differences and ratios, and a short `verdict`
turns them into sentences; nothing in the verdict is written in advance. Models are named truthfully: the offline
BERT-Base side is MPNet-base, which is BERT-Base size but not BERT.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

from backend import tasks
from backend.models import catalog
from backend.models.files import safetensors_files
from backend.schemas import JobSpec, StudioError
from backend.training import runs
from backend.training.tracking import read_metrics

METRIC_NAMES = {
    "accuracy": "accuracy", "macro_f1": "macro F1", "f1": "F1", "mcc": "MCC", "pearson": "Pearson r",
    "spearman": "Spearman rho", "mse": "MSE", "loss": "validation loss",
    "micro_f1": "micro F1", "subset_accuracy": "subset accuracy",  # multi-label
    "exact": "exact match", "has_ans_exact": "exact match (has answer)", "has_ans_f1": "F1 (has answer)",  # QA
    "no_ans_exact": "exact match (no answer)", "no_ans_f1": "F1 (no answer)",
    "total": "questions", "has_ans_total": "questions with an answer", "no_ans_total": "questions without an answer",
}
POINT_METRICS = {"accuracy", "macro_f1", "f1", "mcc", "pearson", "spearman", "micro_f1", "subset_accuracy", "exact",
                 "has_ans_exact", "has_ans_f1", "no_ans_exact", "no_ans_f1"}  # 0..1 scores: differences in points
COUNT_METRICS = {"total", "has_ans_total", "no_ans_total"}  # question counts: the data, not a model's quality
LOWER_IS_BETTER = {"loss", "mse"}
SPEED_TEXTS = 50  # validation texts timed per run
SPEED_SETTINGS = {"repeats": 50, "batch_rows": 256}  # single-text calls timed; rows in the batch run
SPEED_FILE, SPEED_VERSION = "speed.json", 1
DATA_FIELDS = ("train_csv", "eval_csv", "text_column", "text_pair_column", "label_column", "eval_fraction",
               "split_seed", "label_separator", "label_columns")
BUDGET_FIELDS = ("epochs", "max_steps", "max_length", "batch_size")
MAX_DISAGREEMENTS = 50
SAME = 0.05  # points below which two scores read as equal
NEAR = 1.05  # ratios closer to 1 than this read as "about the same"


# ---------------------------------------------------------------- describing a run


def finished_run(run_dir) -> tuple[Path, JobSpec, dict]:
    """(folder, spec, results) of a finished run, or a sentence saying why it cannot be used yet."""
    run_dir = Path(run_dir)
    results = runs.read_results(run_dir)
    if not (run_dir / runs.SPEC).is_file():
        raise StudioError(f"{run_dir} is not a run folder (no spec.json); pick a folder a training job wrote.")
    if results is None or not safetensors_files(run_dir / runs.MODEL):
        raise StudioError(f"{run_dir.name} has not finished training (no results.json or model/); "
                          "wait for it to complete or pick a finished run.")
    return run_dir, runs.read_spec(run_dir), results


def model_identity(model: str, run_dir: Path | None = None) -> dict:
    """Key, display name, family and a truthful label of the base model a spec names (catalog key or folder)."""
    info = next((i for i in catalog.MODELS.values() if model in (i.key, i.hub_id)), None)
    if info is not None:
        found = {"key": info.key, "display_name": info.display_name, "family": info.family, "role": info.role,
                 "hub_id": info.hub_id}
    else:
        folder = Path(model) if Path(model).is_dir() or run_dir is None else Path(run_dir) / runs.MODEL
        resolution = catalog.resolve(folder)
        found = {"key": model, "display_name": resolution.display_name, "family": resolution.family,
                 "role": resolution.role, "hub_id": None}
    return found | {"label": truthful_label(found["display_name"], found["family"], found["role"])}


def truthful_label(display_name: str, family: str, role: str | None) -> str:
    """E.g. "MPNet-base (BERT-Base size, not BERT)": a stand-in on the BERT-Base side never passes for BERT."""
    if role == "bert" and family != "BERT":
        return f"{display_name} (BERT-Base size, not BERT)"
    return display_name if family.lower() in display_name.lower() else f"{display_name} ({family})"


def describe_side(run_dir: Path, spec, results: dict) -> dict:
    identity = model_identity(spec.model, run_dir)
    main = results.get("main_metric") or tasks.get(results["task"]).main_metric
    return {
        "run_dir": str(run_dir), "name": spec.name or identity["label"], "model": identity["key"],
        "display_name": identity["display_name"], "family": identity["family"], "label": identity["label"],
        "task": results["task"], "labels": results.get("labels"), "metrics": results.get("metrics", {}),
        "main_metric": main, "main_value": results.get("metrics", {}).get(main),
        "num_parameters": results.get("num_parameters"),
        "disk_mb": round(runs.disk_size(run_dir / runs.MODEL) / 1e6, 2),
        "train_runtime_s": results.get("train_runtime_s"),
        "train_samples_per_second": results.get("train_samples_per_second"),
        "peak_memory_mb": results.get("peak_memory_mb"),  # only when the trainer recorded it
        "precision": results.get("precision"), "device": results.get("device"),
        "train_rows": results.get("train_rows"), "eval_rows": results.get("eval_rows"),
        "settings": {name: getattr(spec, name) for name in (*BUDGET_FIELDS, "learning_rate", "seed")},
    }


# ---------------------------------------------------------------- checks


def check_comparable(a: dict, b: dict) -> None:
    if a["task"] != b["task"]:
        raise StudioError(f"These runs solve different tasks ({tasks.get(a['task']).title} vs {tasks.get(b['task']).title}); "
                          "compare two runs of the same task.")
    if a["labels"] != b["labels"]:
        raise StudioError(f"These runs predict different labels ({', '.join(a['labels'] or [])} vs "
                          f"{', '.join(b['labels'] or [])}); compare two runs trained on the same label set.")


def same_value(name: str, first, second) -> bool:
    """Equal settings; for the CSV files, equal contents (one file uploaded twice is the same data)."""
    if first == second or name not in ("train_csv", "eval_csv") or not (first and second):
        return first == second
    try:
        return file_digest(first) == file_digest(second)
    except OSError:
        return False


def file_digest(path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def fairness_warnings(spec_a, spec_b, a: dict, b: dict) -> list[str]:
    warnings = []
    differing = [name for name in DATA_FIELDS
                 if not same_value(name, getattr(spec_a.data, name), getattr(spec_b.data, name))]
    if differing or (a["train_rows"], a["eval_rows"]) != (b["train_rows"], b["eval_rows"]):
        what = ", ".join(differing) or "the number of rows"
        warnings.append(f"The runs were trained or validated on different data or splits ({what} differ), so their "
                        "scores are not measured on the same examples; train both on the same data for a fair "
                        "comparison.")
    budget = [name for name in BUDGET_FIELDS if a["settings"][name] != b["settings"][name]]
    if budget:
        warnings.append(f"The runs used different training settings ({', '.join(budget)}); the plan_comparison "
                        "recipe keeps these equal so that only the model differs.")
    return warnings


# ---------------------------------------------------------------- differences and the verdict


def metric_differences(a: dict, b: dict) -> dict:
    table = {}
    for name in sorted(set(a["metrics"]) & set(b["metrics"]) - COUNT_METRICS):
        x, y = a["metrics"][name], b["metrics"][name]
        if x is None or y is None:
            continue
        gap = x - y
        better = "tie" if gap == 0 else ("a" if (gap < 0) == (name in LOWER_IS_BETTER) else "b")
        table[name] = {"name": METRIC_NAMES.get(name, name), "a": x, "b": y, "difference": gap,
                       "points": round(gap * 100, 2) if name in POINT_METRICS else None, "better": better}
    return table


def ratio(x, y) -> float | None:
    return float(f"{x / y:.3g}") if x and y else None


def speed_ratios(a: dict, b: dict) -> dict:
    """Each ratio is a / b: below 1 for latency, size and training time means A is faster or smaller."""
    speed_a, speed_b = a.get("speed") or {}, b.get("speed") or {}
    return {
        "latency_p50": ratio(speed_a.get("latency_p50_ms"), speed_b.get("latency_p50_ms")),
        "latency_p95": ratio(speed_a.get("latency_p95_ms"), speed_b.get("latency_p95_ms")),
        "throughput": ratio(speed_a.get("throughput_rows_per_s"), speed_b.get("throughput_rows_per_s")),
        "parameters": ratio(a["num_parameters"], b["num_parameters"]),
        "disk": ratio(a["disk_mb"], b["disk_mb"]),
        "train_seconds": ratio(a["train_runtime_s"], b["train_runtime_s"]),
        "train_samples_per_second": ratio(a["train_samples_per_second"], b["train_samples_per_second"]),
    }


def _lower_first(a: dict, b: dict, x: float, y: float) -> tuple[dict, dict, float, float, float]:
    """(side with the lower number, the other side, its number, the other's, how many times lower)."""
    return (a, b, x, y, y / x) if x <= y else (b, a, y, x, x / y)


def _number(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _gap(row: dict) -> str:
    return f"{abs(row['points']):.1f} points" if row["points"] is not None else f"{abs(row['difference']):.3f}"


def _quality_winner(a: dict, b: dict, row: dict) -> dict | None:
    if row["better"] == "tie" or (row["points"] is not None and abs(row["points"]) < SAME):
        return None
    return a if row["better"] == "a" else b


def quality_sentence(a: dict, b: dict, row: dict, main: str) -> str:
    label, better = METRIC_NAMES.get(main, main), _quality_winner(a, b, row)
    if better is None:
        return f"On {label}, {a['name']} and {b['name']} score the same ({row['a']:.3f})."
    worse = b if better is a else a
    x, y = better["metrics"][main], worse["metrics"][main]
    direction = "higher" if main not in LOWER_IS_BETTER else "lower (better)"
    return f"On {label}, {better['name']} scores {_gap(row)} {direction} than {worse['name']} ({x:.3f} vs {y:.3f})."


def noise_sentence(a: dict) -> str | None:
    """A rough 95% band for an accuracy difference on this many validation rows (two independent binomials)."""
    n, accuracy = a.get("eval_rows"), a["metrics"].get("accuracy")
    if not n or accuracy is None:
        return None
    band = 1.96 * math.sqrt(2 * max(accuracy * (1 - accuracy), 0.05) / n) * 100
    return (f"With {n} validation rows, accuracy differences below about {band:.1f} points can be chance; "
            "more validation rows narrow this.")


def size_sentence(a: dict, b: dict) -> str | None:
    if not (a["num_parameters"] and b["num_parameters"]):
        return None
    small, large, x, y, factor = _lower_first(a, b, a["num_parameters"] / 1e6, b["num_parameters"] / 1e6)
    if factor < NEAR:
        return f"{a['name']} and {b['name']} are the same size ({x:.1f}M parameters)."
    return (f"{small['name']} has {factor:.1f}x fewer parameters than {large['name']} ({x:.1f}M vs {y:.1f}M) and "
            f"takes {_number(small['disk_mb'])} MB on disk vs {_number(large['disk_mb'])} MB.")


def speed_sentence(a: dict, b: dict) -> str | None:
    speed_a, speed_b = a.get("speed") or {}, b.get("speed") or {}
    if not (speed_a.get("latency_p50_ms") and speed_b.get("latency_p50_ms")):
        return None
    fast, slow, x, y, factor = _lower_first(a, b, speed_a["latency_p50_ms"], speed_b["latency_p50_ms"])
    pace = "about as fast as" if factor < NEAR else f"{factor:.1f}x faster than"
    return (f"Measured here, {fast['name']} answers one text {pace} {slow['name']} (p50 {_number(x)} ms vs "
            f"{_number(y)} ms) and handles {fast['speed']['throughput_rows_per_s']:.0f} rows per second in batches "
            f"vs {slow['speed']['throughput_rows_per_s']:.0f}.")


def training_sentence(a: dict, b: dict) -> str | None:
    if not (a["train_runtime_s"] and b["train_runtime_s"]):
        return None
    fast, slow, x, y, factor = _lower_first(a, b, a["train_runtime_s"], b["train_runtime_s"])
    pace = "about as fast as" if factor < NEAR else f"{factor:.1f}x faster than"
    return f"{fast['name']} trained {pace} {slow['name']} ({_number(x)} s vs {_number(y)} s)."


def bottom_line(a: dict, b: dict, row: dict, main: str) -> str | None:
    """Which is better, by how much, at what cost: only when one model is clearly the smaller one."""
    if not (a["num_parameters"] and b["num_parameters"]):
        return None
    small, large, _, _, size = _lower_first(a, b, a["num_parameters"], b["num_parameters"])
    if size < NEAR:
        return None
    latency = [(side.get("speed") or {}).get("latency_p50_ms") for side in (small, large)]
    speedup = latency[1] / latency[0] if all(latency) else 0
    cost = f"{size:.1f}x the parameters" + (f" and {speedup:.1f}x the latency" if speedup >= NEAR else "")
    label, better = METRIC_NAMES.get(main, main), _quality_winner(a, b, row)
    if better is None:
        return (f"In short: {small['name']} scores the same {label} as {large['name']} with {size:.1f}x fewer "
                "parameters.")
    if better is small:
        return f"In short: {small['name']} is both better ({_gap(row)} of {label}) and {size:.1f}x smaller."
    return f"In short: {large['name']} buys {_gap(row)} of {label} at {cost} of {small['name']}."


def verdict(a: dict, b: dict, differences: dict, main: str) -> list[str]:
    row = differences["metrics"].get(main)
    sentences = [quality_sentence(a, b, row, main)] if row else []
    sentences += [noise_sentence(a), size_sentence(a, b), speed_sentence(a, b), training_sentence(a, b)]
    sentences += [bottom_line(a, b, row, main)] if row else []
    return [sentence for sentence in sentences if sentence]


# ---------------------------------------------------------------- curves


def curves(sides: dict[str, dict], main: str) -> dict:
    """Long-format points for one overlaid chart: run (a/b), name, step, epoch, series, value."""
    series = ("loss", "eval_loss", f"eval_{main}")
    points = []
    for key, side in sides.items():
        for record in read_metrics(Path(side["run_dir"])):
            for name in series:
                if record.get(name) is not None and record.get("step") is not None:
                    points.append({"run": key, "name": side["name"], "step": record["step"],
                                   "epoch": record.get("epoch"), "series": name, "value": record[name]})
    return {"main_metric": main, "series": list(series), "points": points}


# ---------------------------------------------------------------- speed, measured once per run and texts


def speed_texts(run_dir: Path) -> tuple[list[str], list[str] | None]:
    """Up to SPEED_TEXTS validation texts (and second texts) of a run: both sides are timed on the same ones."""
    from backend.serving.analysis import eval_predictions

    rows = eval_predictions(run_dir).head(SPEED_TEXTS)  # cached in the run folder, so this is cheap
    return rows["text"].tolist(), rows["text_pair"].tolist() if "text_pair" in rows else None


def measure(run_dir: Path, texts: list[str], pairs: list[str] | None, again: bool = False) -> dict:
    """inference.measure_speed, cached in the run folder for these texts and this model file (`again`: re-time)."""
    from backend.serving import inference

    weights = [[path.stat().st_mtime_ns, path.stat().st_size] for path in safetensors_files(run_dir / runs.MODEL)]
    key = {"version": SPEED_VERSION, "texts": texts_digest(texts + (pairs or [])), "settings": SPEED_SETTINGS,
           "model": weights}
    cached = runs.read_json(run_dir / SPEED_FILE)
    if cached and cached.get("key") == key and not again:
        return cached["speed"] | {"cached": True}
    speed = inference.measure_speed(run_dir, texts, pairs, **SPEED_SETTINGS) | {"texts": len(texts)}
    runs.write_json(run_dir / SPEED_FILE, {"key": key, "speed": speed})
    return speed | {"cached": False}


def texts_digest(texts: list[str]) -> str:
    return hashlib.sha256("\x1f".join(texts).encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------- disagreements


def disagreements(run_a: Path, run_b: Path, kind) -> dict:
    """Validation rows where the two predict differently, as their kind tells them (`kind.disagreements`: for
    classification the rows labelled differently, for regression the rows where they differ most, for extractive QA
    the questions answered differently, for multi-label the rows given different label sets)."""
    from backend.serving.analysis import eval_predictions

    return kind.disagreements(aligned(eval_predictions(run_a), eval_predictions(run_b)), MAX_DISAGREEMENTS)


def aligned(frame_a, frame_b):
    """The two runs' validation predictions side by side: by position when the rows are the same texts, else
    joined on the texts (runs on different splits share only some rows)."""
    keys = [column for column in ("text", "text_pair") if column in frame_a and column in frame_b]
    same = len(frame_a) == len(frame_b) and all((frame_a[k].values == frame_b[k].values).all() for k in keys)
    if same:
        right = frame_b.drop(columns=keys).reset_index(drop=True)
        return frame_a.reset_index(drop=True).join(right, lsuffix="_a", rsuffix="_b").rename(columns={"gold_a": "gold"})
    unique_a, unique_b = (frame.drop_duplicates(keys) for frame in (frame_a, frame_b))
    return unique_a.merge(unique_b.drop(columns="gold"), on=keys, suffixes=("_a", "_b"))


# ---------------------------------------------------------------- the comparison


def compare_runs(run_a, run_b, remeasure: bool = False) -> dict:
    """Two finished runs of the same task side by side; see the module docstring. JSON-safe.

    Speed is timed once per run and kept in speed.json; `remeasure` times both again (e.g. on a quieter machine).
    """
    (dir_a, spec_a, results_a), (dir_b, spec_b, results_b) = finished_run(run_a), finished_run(run_b)
    a, b = describe_side(dir_a, spec_a, results_a), describe_side(dir_b, spec_b, results_b)
    check_comparable(a, b)
    if a["name"] == b["name"]:
        a["name"], b["name"] = f"{a['name']} (A)", f"{b['name']} (B)"
    warnings = fairness_warnings(spec_a, spec_b, a, b)
    try:
        texts, pairs = speed_texts(dir_a)
        a["speed"], b["speed"] = (measure(folder, texts, pairs, remeasure) for folder in (dir_a, dir_b))
    except StudioError as exc:
        a["speed"] = b["speed"] = None
        warnings.append(f"Inference speed was not measured: {exc}")
    try:
        disagreeing = disagreements(dir_a, dir_b, tasks.get(a["task"]))
    except StudioError as exc:
        disagreeing = None
        warnings.append(f"The examples the two disagree on cannot be shown: {exc}")
    main = a["main_metric"]
    differences = {"metrics": metric_differences(a, b), "ratios": speed_ratios(a, b)}
    return {"task": a["task"], "task_name": tasks.get(a["task"]).title, "main_metric": main, "labels": a["labels"],
            "a": a, "b": b, "differences": differences, "verdict": verdict(a, b, differences, main),
            "curves": curves({"a": a, "b": b}, main), "disagreements": disagreeing, "warnings": warnings}
