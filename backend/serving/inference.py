"""A finished run in use: load it once (cached), predict one text or many, explain a prediction, time it.

Scoring a whole CSV is backend.serving.batch_scoring. Only folders the trainer wrote are loaded (spec.json,
results.json, model/config.json and safetensors weights), from local files, never with remote code. How a run
predicts and explains is its task kind's (backend.tasks: `kind.predict_scores`, `predict`, `predict_one`,
`explain`); this module loads and caches runs, checks second texts against what a model reads, and times them.
The single-text path is the hot one (the Playground and the API): no reload, no pandas, no padding.
"""
from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat
from pathlib import Path

import numpy as np
import torch

# Imported here, not inside functions: transformers' lazy module can fail when two request threads import
# from it for the first time at once.
from transformers import AutoTokenizer

from backend import tasks
from backend.tasks.loading import load_splits
from backend.models.catalog import _quiet_loading, one_call_at_a_time
from backend.models.files import safetensors_files
from backend.schemas import JobSpec, StudioError
from backend.training import runs

# Runs kept in memory, least recently used dropped first: a class of thirty each trying their own small model must
# not reload it on every prediction (a reload costs seconds), yet a few BERT-Base-size runs must not fill the RAM.
MAX_LOADED = 64
MAX_LOADED_BYTES = 3 * 1024**3  # weights only: about 30 MiniLM-L6 or 7 BERT-Base-size models
BATCH_SIZE = 32
IG_STEPS = 20  # Integrated Gradients path points: attributions add up to the change within a few percent at 20,
# and all-MiniLM-L6 explains a 30-token sentence in about half a second on 2 CPU cores
WARMUP_CALLS = 5  # the first calls pay for lazy initialisation in torch and the tokenizer
# Each kind's model class, looked up once at import (see above) rather than by the first request threads.
_MODEL_CLASSES = {kind.model_class_name: kind.model_class() for kind in tasks.KINDS.values()}

_cache: OrderedDict[str, tuple[tuple, "LoadedRun"]] = OrderedDict()
_lock = threading.Lock()
_loading: dict[str, threading.Lock] = {}  # one per run being loaded: two first requests for a run load it once


@dataclass(eq=False)
class LoadedRun:
    """A finished run in memory. `labels` is the model's own id2label order; None for a kind without labels.
    Its kind's methods get it as `run`, with the calls below to predict through this module."""

    run_dir: Path
    spec: JobSpec
    task: str
    labels: list[str] | None
    model: torch.nn.Module
    tokenizer: object
    max_length: int
    device: torch.device
    input_names: tuple[str, ...]

    @property
    def kind(self) -> tasks.TaskKind:
        return tasks.get(self.task)

    @cached_property
    def columns(self) -> dict:
        """{text_column, text_pair_column} the run trained on: the spec's, or the trainer's guess done again (it is
        deterministic). Raises StudioError when they were guessed and the training CSV is gone."""
        data = self.spec.data
        if data.text_column and (data.text_pair_column is not None or self.kind.reads_pairs is False):
            return {"text_column": data.text_column, "text_pair_column": data.text_pair_column or None}
        report = load_splits(data).report
        return {"text_column": report.text_column, "text_pair_column": report.text_pair_column}

    @cached_property
    def uses_pairs(self) -> bool | None:
        """Whether the model reads two texts; None when that cannot be told (a regression run whose CSV is gone).
        Cached: the hot path must not read the training CSV again."""
        if self.kind.reads_pairs is not None:
            return self.kind.reads_pairs
        try:  # kinds that read two texts when their data had two
            return self.columns["text_pair_column"] is not None
        except StudioError:
            return None

    def checked_pairs(self, count: int, pairs) -> list[str] | None:
        """Second texts as the model needs them: required by a pair model, refused by a single-text one."""
        needs = self.uses_pairs
        if pairs is not None and not any(pairs):
            pairs = None  # empty second-text boxes: none given
        if pairs is None and needs:
            raise StudioError("This model compares two texts; give the second text as well.")
        if pairs is not None and needs is False:
            raise StudioError("This model reads one text; leave the second text empty.")
        if pairs is not None and len(pairs) != count:
            raise StudioError(f"Got {count} texts but {len(pairs)} second texts; give one second text per text.")
        return None if pairs is None else ["" if pair is None else str(pair) for pair in pairs]

    def predict_scores(self, texts: list[str], pairs: list[str] | None = None, batch_size: int = BATCH_SIZE):
        return predict_scores(self.run_dir, texts, pairs, batch_size)

    def predict(self, texts: list[str], pairs: list[str] | None = None, batch_size: int = BATCH_SIZE) -> list[dict]:
        return predict(self.run_dir, texts, pairs, batch_size)


# ---------------------------------------------------------------- loading


def load_run(run_dir: str | Path) -> LoadedRun:
    """The run in `run_dir`, loaded once and kept while it is among the most recently used (MAX_LOADED runs and
    MAX_LOADED_BYTES of weights at most)."""
    folder = Path(run_dir).expanduser().resolve()
    stamp = _model_stamp(folder)
    key = str(folder)
    with _lock:
        loading = _loading.setdefault(key, threading.Lock())
    with loading:  # people using other runs do not wait while this one loads; a second asker for it does
        with _lock:
            cached = _cache.get(key)
            if cached is not None and cached[0] == stamp:
                _cache.move_to_end(key)
                return cached[1]
        loaded = _load(folder)
        with _lock:
            _cache[key] = (stamp, loaded)  # a retrained model replaces its old entry rather than sitting beside it
            _cache.move_to_end(key)
            _evict()
    return loaded


def _weight_bytes(run: "LoadedRun") -> int:
    return sum(t.numel() * t.element_size() for t in run.model.parameters())


def _evict() -> None:
    """Drop the least recently used runs beyond the limits (the newest always stays); called holding _lock."""
    sizes = {key: _weight_bytes(entry[1]) for key, entry in _cache.items()}
    while len(_cache) > 1 and (len(_cache) > MAX_LOADED or sum(sizes[key] for key in _cache) > MAX_LOADED_BYTES):
        _cache.popitem(last=False)


def _model_stamp(folder: Path) -> tuple:
    """Checks the folder is a finished run; its weights' and config's change times and sizes key the cache."""
    model = folder / runs.MODEL
    if not (folder / runs.SPEC).is_file() or not (model / "config.json").is_file():
        raise StudioError(f"{folder} is not a MiniLM Studio run folder (it needs spec.json and model/config.json); "
                          "choose a finished run.")
    if not (folder / runs.RESULTS).is_file():
        raise StudioError(f"The run in {folder.name} has not finished training (no results.json yet); wait for it "
                          "to complete or choose another run.")
    weights = safetensors_files(model)
    if not weights:
        raise StudioError(f"{model} has no model.safetensors; MiniLM Studio loads safetensors weights only.")
    return tuple((path.stat().st_mtime_ns, path.stat().st_size) for path in (*weights, model / "config.json"))


def _load(folder: Path) -> LoadedRun:
    spec, results = runs.read_spec(folder), runs.read_results(folder) or {}
    device = _best_device()
    kind = tasks.get(results.get("task") or _kind_of_head(folder))
    try:
        tokenizer = one_call_at_a_time(  # request threads share it
            AutoTokenizer.from_pretrained(folder / runs.MODEL, local_files_only=True, trust_remote_code=False))
        with _quiet_loading():  # no progress bar in the server's log for every run a person opens
            model = _MODEL_CLASSES[kind.model_class_name].from_pretrained(
                folder / runs.MODEL, use_safetensors=True, local_files_only=True, trust_remote_code=False,
                dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise StudioError(f"Could not load the model of {folder.name}: {str(exc).splitlines()[0]}") from None
    # Gradients are only ever wanted for the input embeddings (explain); none for weights saves memory and time.
    model.requires_grad_(False).eval().to(device)
    config = model.config
    labels = [str(config.id2label[i]) for i in range(config.num_labels)] if kind.has_labels else None
    names = tuple(name for name in tokenizer.model_input_names if name in ("input_ids", "attention_mask",
                                                                            "token_type_ids"))
    return LoadedRun(folder, spec, kind.name, labels, model, tokenizer, spec.max_length, device, names)


def _kind_of_head(folder: Path) -> str:
    """The task of a run whose results.json does not name it (written before it did): the sequence kind whose
    head has the config's problem_type, else the first kind (single-text classification)."""
    problem = (runs.read_json(folder / runs.MODEL / "config.json") or {}).get("problem_type")
    found = [kind.name for kind in tasks.KINDS.values() if getattr(kind, "problem_type", None) == problem]
    return found[0] if found else tasks.names()[0]


def _best_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    # torch counts the machine's cores; in a container limited to fewer, more threads than cores only fight.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if torch.get_num_threads() > cores:
        torch.set_num_threads(cores)
    return torch.device("cpu")


# ---------------------------------------------------------------- predicting


def predict_scores(run_dir, texts: list[str], pairs: list[str] | None = None,
                   batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Probabilities (rows, labels), or values (rows,) for regression, in the order of `texts`. Multi-label: each
    label's own probability (a sigmoid each), so a row's need not add up to 1.

    Tokenized in one call, sorted by length and padded per batch to its own longest row, as the trainer evaluates.
    Extractive QA (texts: questions, pairs: contexts): the probability of each answer (rows,), see qa.inference.
    """
    loaded = load_run(run_dir)
    return loaded.kind.predict_scores(loaded, texts, pairs, batch_size)


def predict(run_dir, texts: list[str], pairs: list[str] | None = None, batch_size: int = BATCH_SIZE,
            threshold: float | None = None) -> list[dict]:
    """`{"label", "scores": {label: probability}}` per text, `{"value"}` for regression, or for multi-label
    `{"labels": [names with p >= threshold], "scores", "threshold"}` (threshold None: 0.5; other tasks ignore it);
    for extractive QA (texts: questions, pairs: contexts) qa.inference.predict_answers' records."""
    loaded = load_run(run_dir)
    return loaded.kind.predict(loaded, texts, pairs, batch_size, threshold)


def predict_one(run_dir, text: str, pair: str | None = None, threshold: float | None = None) -> dict:
    """The prediction for one text (and second text) plus `latency_ms`: tokenize, forward and softmax (multi-label:
    a sigmoid per label, and `{"labels", "scores", "threshold"}` as `predict` gives). Extractive QA: text is the
    question, pair the context (required); qa.inference.predict_answer's record."""
    loaded = load_run(run_dir)
    return loaded.kind.predict_one(loaded, text, pair, threshold)


# ---------------------------------------------------------------- explaining


def explain(run_dir, text: str, pair: str | None = None, target: str | None = None, steps: int = IG_STEPS) -> dict:
    """Which words push the prediction towards (score > 0) or away from (< 0) `target` (default: the predicted label;
    multi-label: the label the model is surest of).

    Integrated Gradients on the input word embeddings, from a baseline where every non-special token is [PAD]:
    attributions add up to the change in the target's log-probability (multi-label: the log of its own sigmoid; the
    value for regression) between the baseline and the text, so they are signed and comparable. All path points run
    as one batch.
    Keys: label, method, steps, prediction, truncated, tokens [{token, score, segment, special}],
    words [{word, score, segment, start, end}] (character offsets into their text); scores scaled to [-1, 1].
    Extractive QA (text: question, pair: context) explains the answer instead: see qa.inference.explain_answer.
    """
    loaded = load_run(run_dir)
    return loaded.kind.explain(loaded, text, pair, target, steps)


# ---------------------------------------------------------------- speed


def measure_speed(run_dir, texts: list[str], pairs: list[str] | None = None, repeats: int = 50,
                  batch_rows: int = 256, batch_size: int = BATCH_SIZE) -> dict:
    """Single-text latency as a user waits for it (p50/p95 ms over `repeats` calls, after WARMUP_CALLS) and batch
    throughput over `batch_rows` rows (the texts repeated). Keys: latency_p50_ms, latency_p95_ms,
    throughput_rows_per_s, repeats, batch_rows, batch_size, device, threads."""
    loaded = load_run(run_dir)
    if not texts:
        raise StudioError("Give at least one text to measure the speed with.")
    pairs = loaded.checked_pairs(len(texts), pairs)

    def cycled(values, count):
        return None if values is None else [values[i % len(values)] for i in range(count)]

    calls = WARMUP_CALLS + repeats
    latencies = []
    for text, pair in zip(cycled(texts, calls), cycled(pairs, calls) or repeat(None)):
        started = time.perf_counter()
        predict_one(loaded.run_dir, text, pair)
        latencies.append((time.perf_counter() - started) * 1000)
    many, many_pairs = cycled(texts, batch_rows), cycled(pairs, batch_rows)
    predict_scores(loaded.run_dir, many[:batch_size], many_pairs and many_pairs[:batch_size], batch_size)  # warm-up
    started = time.perf_counter()
    predict_scores(loaded.run_dir, many, many_pairs, batch_size)
    seconds = time.perf_counter() - started
    p50, p95 = np.percentile(latencies[WARMUP_CALLS:], [50, 95])
    return {"latency_p50_ms": round(float(p50), 3), "latency_p95_ms": round(float(p95), 3),
            "throughput_rows_per_s": round(batch_rows / seconds, 1), "repeats": repeats, "batch_rows": batch_rows,
            "batch_size": batch_size, "device": str(loaded.device), "threads": torch.get_num_threads()}
