"""Training presets and the time estimate shown before a job starts.

A preset fills a JobSpec's hyperparameters from the model's catalog defaults; the person can still change any
field. The estimate is deliberately rough (it says so): the live job shows the measured speed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from backend import tasks
from backend.schemas import DataSpec, JobSpec, StudioError
from backend.tasks.base import TaskKind
from backend.training.run_control import choose_precision


@dataclass(frozen=True)
class Preset:
    title: str
    blurb: str
    epochs: float
    learning_rate_scale: float  # times the model's catalog learning rate
    max_length_cap: int  # the data's suggested max length, never above this
    early_stopping_patience: int | None
    window_length_cap: int  # for kinds that read windows (a question and a stretch of context): they need room


PRESETS: dict[str, Preset] = {
    "quick": Preset("Quick demo", "A useful model in a few minutes on a laptop CPU: short texts, 3 epochs, a brisk "
                    "learning rate.", 3, 2.0, 64, None, 128),
    "standard": Preset("Standard", "The usual fine-tuning recipe: 3 epochs at the model's own learning rate, "
                       "texts up to the length that keeps 95% of rows whole.", 3, 1.0, 256, None, 256),
    "thorough": Preset("Thorough", "Up to 8 epochs with early stopping: stops when the validation score has not "
                       "improved for 3 evaluations. Slower, often a point or two better.", 8, 1.0, 512, 3, 384),
}

# Rough training throughput in tokens per second per million non-embedding parameters, by device and precision.
# The CPU numbers are calibrated with bench/quick_demo.py on this project's 2-core machine (all-MiniLM-L6-v2 and
# MPNet-base; bf16 about twice fp32, bench/train_speed.py); the GPU numbers are unmeasured guesses.
# Used only for the estimate shown before a job starts.
TOKENS_PER_S_PER_M_PARAMS = {("cpu", "bf16"): 40_000.0, ("cpu", "fp32"): 23_000.0, ("cuda", "bf16"): 400_000.0,
                             ("cuda", "fp16"): 400_000.0, ("cuda", "fp32"): 150_000.0}
EMBEDDING_SHARE = {"minilm": 0.5, "bert": 0.22}  # share of parameters in the word embeddings (no compute)
EVAL_OVERHEAD = 1.6  # evaluations, loading and checkpoints: measured wall / training time was 1.50-1.64
PADDING = 1.05  # length-grouped batches pad little: measured padded / real tokens was 1.01-1.03


def apply_preset(key: str, data: DataSpec, model: str, model_defaults: dict, suggested_max_length: int | None,
                 **overrides) -> JobSpec:
    """A JobSpec for the preset as the task kind takes it, the model's defaults and the data's suggested max length;
    overrides win."""
    if key not in PRESETS:
        raise StudioError(f"Unknown preset {key!r}; choose one of: {', '.join(PRESETS)}.")
    preset = PRESETS[key]
    suggested = suggested_max_length or model_defaults.get("max_length", 128)
    fitted = kind_of(data).preset(preset, model_defaults.get("batch_size", 32))
    spec = JobSpec(
        data=data, model=model, epochs=fitted["epochs"],
        learning_rate=model_defaults.get("learning_rate", 5e-5) * preset.learning_rate_scale,
        batch_size=fitted["batch_size"], max_length=min(suggested, fitted["max_length_cap"]),
        early_stopping_patience=preset.early_stopping_patience,
    )
    for name, value in overrides.items():
        if value is not None:
            setattr(spec, name, value)
    return spec


def estimate_seconds(train_rows: int, mean_tokens: float, spec: JobSpec, num_parameters: int, role: str | None,
                     device: str) -> float:
    """About how long the job takes: tokens to process / measured tokens per second for a model of this size,
    on this device ("cpu" or "cuda") at the precision the job will use."""
    steps_per_epoch = math.ceil(train_rows / spec.batch_size)
    rows = steps_per_epoch * spec.batch_size * spec.epochs
    if spec.max_steps:
        rows = min(rows, spec.max_steps * spec.batch_size * spec.gradient_accumulation_steps)
    tokens = rows * kind_of(spec.data).tokens_per_row(mean_tokens, spec) * PADDING
    compute_params = num_parameters * (1 - EMBEDDING_SHARE.get(role or "", 0.3)) / 1e6
    try:
        precision = choose_precision(spec.precision, cuda=device == "cuda")
    except StudioError:
        precision = "fp32"  # the job itself will refuse it with the reason; the estimate just stays modest
    speed = TOKENS_PER_S_PER_M_PARAMS.get((device, precision), TOKENS_PER_S_PER_M_PARAMS[("cpu", "fp32")])
    speed /= max(compute_params, 1.0)
    return tokens / speed * EVAL_OVERHEAD


def kind_of(data: DataSpec) -> TaskKind:
    """The data's task kind; a task still to be detected from the columns gets what every kind gets by default (the
    preset's own values, rows cut at max_length)."""
    return tasks.get(data.task) if data.task else TaskKind()


def device_kind() -> str:
    """What training will run on here: "cuda" when a GPU is visible, else "cpu"."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def describe_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"about {max(5, round(seconds / 5) * 5):.0f} seconds"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60):.0f} minutes"
    return f"about {seconds / 3600:.1f} hours"
