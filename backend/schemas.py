"""The records every layer shares: what to train on (DataSpec), the job (JobSpec), the job's life (RunRecord).

One JobSpec is built by the UI or the CLI, saved by the job store, written as `spec.json` in the run folder,
and read back by the trainer; a UI job and a CLI job are the same thing.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


class StudioError(ValueError):
    """An error with a sentence a user can act on. The CLI prints it as one line and exits 2."""


# Job states, defined once.
QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED, INTERRUPTED, DIVERGED = (
    "queued", "running", "completed", "failed", "cancelled", "interrupted", "diverged",
)
JOB_STATES = (QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED, INTERRUPTED, DIVERGED)
FINISHED_STATES = (COMPLETED, FAILED, CANCELLED, INTERRUPTED, DIVERGED)
RESUMABLE_STATES = (CANCELLED, INTERRUPTED, FAILED)


def _from_known_keys(cls, values: dict[str, Any]):
    """Build a dataclass from a dict, naming any key it does not know (a typo in spec.json must not pass silently)."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise StudioError(f"Unknown {cls.__name__} field(s): {', '.join(unknown)}. Known fields: {', '.join(sorted(known))}.")
    return cls(**values)


@dataclass
class DataSpec:
    """Which CSV files to read and how their columns are used.

    Columns left as None are guessed from the headers (text_pair_column "" means: no second text, do not guess);
    task None is detected from the label column.

    Multi-label data has either one label column whose cells hold several labels joined by `label_separator`
    (None: detected) or several 0/1 columns named in `label_columns`.
    Extractive QA reuses the roles of a text pair, as the model reads them: text_column is the question,
    text_pair_column the context, label_column the answer text, and `answer_start_column` the answer's character
    offset in the context (an empty answer marks a question the context does not answer).
    Without an eval CSV, `eval_fraction` of the training rows is held out by a stratified split with `split_seed`.
    """

    train_csv: str
    eval_csv: str | None = None
    text_column: str | None = None
    text_pair_column: str | None = None
    label_column: str | None = None
    task: str | None = None
    eval_fraction: float = 0.2
    split_seed: int = 42
    label_separator: str | None = None
    label_columns: list[str] | None = None
    answer_start_column: str | None = None

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "DataSpec":
        return _from_known_keys(cls, dict(values))


@dataclass
class JobSpec:
    """Everything needed to (re-)run one fine-tuning job. Serialised as spec.json."""

    data: DataSpec
    model: str  # a catalog key or a local Hugging Face folder
    epochs: float = 3.0
    max_steps: int | None = None  # when set, wins over epochs
    batch_size: int = 32
    learning_rate: float = 5e-5
    max_length: int = 128
    doc_stride: int | None = None  # extractive QA: tokens shared by neighbouring windows of a long context (None: max_length // 4)
    seed: int = 42
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    gradient_accumulation_steps: int = 1
    eval_every_steps: int | None = None  # also evaluates at the end of every epoch
    early_stopping_patience: int | None = None  # evaluations without improvement before stopping
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    checkpoint_every_steps: int | None = None  # None: at every evaluation
    time_limit_minutes: float | None = None  # wall clock: then it evaluates and ends with the best model so far
    name: str = ""
    owner: str = "local"
    model_revision: str | None = None  # the hub commit the model's files came from; the trainer records it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "JobSpec":
        values = dict(values)
        if "data" not in values or "model" not in values:
            raise StudioError("A job spec needs at least 'data' (with 'train_csv') and 'model'.")
        values["data"] = DataSpec.from_dict(values["data"])
        return _from_known_keys(cls, values)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "JobSpec":
        try:
            values = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StudioError(f"No job spec at {path}.") from None
        except json.JSONDecodeError as exc:
            raise StudioError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}).") from None
        return cls.from_dict(values)


@dataclass
class RunRecord:
    """One job as the job store knows it."""

    job_id: str
    owner: str
    spec: JobSpec
    state: str
    run_dir: str
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    pid: int | None = None
    queue_position: int | None = None  # 1-based while queued
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["spec"] = self.spec.to_dict()
        return values
