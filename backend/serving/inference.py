"""A finished run in use: load it once (cached), predict one text or many, explain a prediction, time it.

Scoring a whole CSV is backend.serving.batch_scoring. Only folders the trainer wrote are loaded (spec.json, results.json, model/config.json and safetensors weights),
from local files, never with remote code. The single-text path is the hot one (the Playground and the API): it
does no more than a bare `model(**tokenizer(text))` call — no reload, no pandas, no padding, cached label lists.
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
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from backend.data.batching import Collator
from backend.data.checks import load_splits
from backend.models.catalog import MODEL_CLASSES, _quiet_loading
from backend.models.files import safetensors_files
from backend.schemas import JobSpec, StudioError
from backend.tasks import attribution
from backend.tasks.qa import inference as qa_inference
from backend.training import runs

# Runs kept in memory, least recently used dropped first: a class of thirty each trying their own small model must
# not reload it on every prediction (a reload costs seconds), yet a few BERT-Base-size runs must not fill the RAM.
MAX_LOADED = 64
MAX_LOADED_BYTES = 3 * 1024**3  # weights only: about 30 MiniLM-L6 or 7 BERT-Base-size models
BATCH_SIZE = 32
IG_STEPS = 20  # Integrated Gradients path points: attributions add up to the change within a few percent at 20,
# and all-MiniLM-L6 explains a 30-token sentence in about half a second on 2 CPU cores
DIGITS = 6
WARMUP_CALLS = 5  # the first calls pay for lazy initialisation in torch and the tokenizer
QA = "extractive_qa"  # its runs answer from a context (backend.tasks.qa.inference): no labels, a span or no answer
MULTI_LABEL = "multi_label_classification"  # its runs give every label its own probability; a text may get several
DEFAULT_THRESHOLD = 0.5  # multi-label: a label is given when the model finds it more likely than not, as in training

_cache: OrderedDict[str, tuple[tuple, "LoadedRun"]] = OrderedDict()
_lock = threading.Lock()
_loading: dict[str, threading.Lock] = {}  # one per run being loaded: two first requests for a run load it once


@dataclass(eq=False)
class LoadedRun:
    """A finished run in memory. `labels` is the model's own id2label order; None for regression."""

    run_dir: Path
    spec: JobSpec
    task: str
    labels: list[str] | None
    model: torch.nn.Module
    tokenizer: object
    max_length: int
    device: torch.device
    input_names: tuple[str, ...]

    @cached_property
    def columns(self) -> dict:
        """{text_column, text_pair_column} the run trained on: the spec's, or the trainer's guess done again (it is
        deterministic). Raises StudioError when they were guessed and the training CSV is gone."""
        data = self.spec.data
        if data.text_column and (data.text_pair_column is not None or self.task == "text_classification"):
            return {"text_column": data.text_column, "text_pair_column": data.text_pair_column or None}
        report = load_splits(data).report
        return {"text_column": report.text_column, "text_pair_column": report.text_pair_column}

    @cached_property
    def uses_pairs(self) -> bool | None:
        """Whether the model reads two texts; None when that cannot be told (a regression run whose CSV is gone).
        Cached: the hot path must not read the training CSV again."""
        if self.task not in ("regression", MULTI_LABEL):  # these read two texts when their data had two
            return self.task in ("pair_classification", QA)  # QA reads a question and its context
        try:
            return self.columns["text_pair_column"] is not None
        except StudioError:
            return None


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
    model_class = MODEL_CLASSES.get(results.get("task"), AutoModelForSequenceClassification)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder / runs.MODEL, local_files_only=True, trust_remote_code=False)
        with _quiet_loading():  # no progress bar in the server's log for every run a person opens
            model = model_class.from_pretrained(
                folder / runs.MODEL, use_safetensors=True, local_files_only=True, trust_remote_code=False,
                dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise StudioError(f"Could not load the model of {folder.name}: {str(exc).splitlines()[0]}") from None
    # Gradients are only ever wanted for the input embeddings (explain); none for weights saves memory and time.
    model.requires_grad_(False).eval().to(device)
    config = model.config
    task = results.get("task") or ("regression" if config.problem_type == "regression" else "text_classification")
    labels = None if task in ("regression", QA) else [str(config.id2label[i]) for i in range(config.num_labels)]
    names = tuple(name for name in tokenizer.model_input_names if name in ("input_ids", "attention_mask",
                                                                            "token_type_ids"))
    return LoadedRun(folder, spec, task, labels, model, tokenizer, spec.max_length, device, names)


def _best_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    # torch counts the machine's cores; in a container limited to fewer, more threads than cores only fight.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if torch.get_num_threads() > cores:
        torch.set_num_threads(cores)
    return torch.device("cpu")


# ---------------------------------------------------------------- predicting


def _check_pairs(loaded: LoadedRun, count: int, pairs) -> list[str] | None:
    """Second texts as the model needs them: required by a pair model, refused by a single-text one."""
    needs = loaded.uses_pairs
    if pairs is not None and not any(pairs):
        pairs = None  # empty second-text boxes: none given
    if pairs is None and needs:
        raise StudioError("This model compares two texts; give the second text as well.")
    if pairs is not None and needs is False:
        raise StudioError("This model reads one text; leave the second text empty.")
    if pairs is not None and len(pairs) != count:
        raise StudioError(f"Got {count} texts but {len(pairs)} second texts; give one second text per text.")
    return None if pairs is None else [_as_text(pair) for pair in pairs]


def _as_text(value) -> str:
    return "" if value is None else str(value)


def _contexts(questions: list[str], contexts: list[str] | None) -> list:
    """QA contexts, one per question; missing ones stay None, so the answer says the context is needed."""
    return [None] * len(questions) if contexts is None else contexts


# How a head's logits read, by task kind: the value itself (regression), every label's own probability (multi-label:
# labels do not exclude each other, so one sigmoid each), else class probabilities that add up to 1 (softmax).
OUTPUTS = {"regression": lambda logits: logits, MULTI_LABEL: torch.sigmoid}


def _outputs(loaded: LoadedRun, logits: torch.Tensor) -> torch.Tensor:
    """Class probabilities, each label's probability (multi-label), or the predicted values (n, 1) for regression."""
    return OUTPUTS.get(loaded.task, _softmax)(logits.float())


def _softmax(logits: torch.Tensor) -> torch.Tensor:
    return torch.softmax(logits, dim=-1)


def _best_class(loaded: LoadedRun, row: list[float], threshold: float) -> dict:
    best = max(range(len(row)), key=row.__getitem__)
    return {"label": loaded.labels[best], "scores": {label: round(p, DIGITS) for label, p in zip(loaded.labels, row)}}


def _value(loaded: LoadedRun, row: list[float], threshold: float) -> dict:
    return {"value": round(row[0], DIGITS)}


def _label_set(loaded: LoadedRun, row: list[float], threshold: float) -> dict:
    """The labels at or above the threshold, in the model's label order (maybe none), and every label's score."""
    return {"labels": [label for label, p in zip(loaded.labels, row) if p >= threshold],
            "scores": {label: round(p, DIGITS) for label, p in zip(loaded.labels, row)}, "threshold": threshold}


# One row of outputs as a prediction, by task kind (the threshold is read by label sets only).
PREDICTIONS = {"regression": _value, MULTI_LABEL: _label_set}


def _as_prediction(loaded: LoadedRun, row: list[float], threshold: float = DEFAULT_THRESHOLD) -> dict:
    return PREDICTIONS.get(loaded.task, _best_class)(loaded, row, threshold)


def checked_threshold(threshold: float | None) -> float:
    """The multi-label threshold to use: DEFAULT_THRESHOLD when None, else a number from 0 to 1."""
    if threshold is None:
        return DEFAULT_THRESHOLD
    if not 0 <= threshold <= 1:  # NaN fails this too
        raise StudioError(f"The threshold must be between 0 and 1 (got {threshold}); {DEFAULT_THRESHOLD} gives the "
                          "labels the model finds more likely than not.")
    return float(threshold)


def predict_scores(run_dir, texts: list[str], pairs: list[str] | None = None,
                   batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Probabilities (rows, labels), or values (rows,) for regression, in the order of `texts`. Multi-label: each
    label's own probability (a sigmoid each), so a row's need not add up to 1.

    Tokenized in one call, sorted by length and padded per batch to its own longest row, as the trainer evaluates.
    Extractive QA (texts: questions, pairs: contexts): the probability of each answer (rows,), see qa_inference.
    """
    loaded = load_run(run_dir)
    if loaded.task == QA:
        return qa_inference.answer_scores(loaded, texts, _contexts(texts, pairs), batch_size)
    texts, pairs = [_as_text(text) for text in texts], _check_pairs(loaded, len(texts), pairs)
    width = len(loaded.labels) if loaded.labels else 1
    outputs = np.zeros((len(texts), width), dtype=np.float32)
    if texts:
        encoded = loaded.tokenizer(texts, pairs, truncation=True, max_length=loaded.max_length, padding=False)
        features = {name: encoded[name] for name in loaded.input_names}
        order = np.argsort([-len(ids) for ids in features["input_ids"]], kind="stable")
        collate = Collator(loaded.tokenizer.pad_token_id or 0, float_labels=True)  # its labels are unused
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size].tolist()
                batch = collate([(i, {name: values[i] for name, values in features.items()}, 0.0) for i in rows])
                inputs = {name: batch[name].to(loaded.device) for name in loaded.input_names}
                outputs[rows] = _outputs(loaded, loaded.model(**inputs).logits).cpu().numpy()
    return outputs if loaded.labels else outputs[:, 0]


def predict(run_dir, texts: list[str], pairs: list[str] | None = None, batch_size: int = BATCH_SIZE,
            threshold: float | None = None) -> list[dict]:
    """`{"label", "scores": {label: probability}}` per text, `{"value"}` for regression, or for multi-label
    `{"labels": [names with p >= threshold], "scores", "threshold"}` (threshold None: DEFAULT_THRESHOLD; other tasks
    ignore it); for extractive QA (texts: questions, pairs: contexts) qa_inference.predict_answers' records."""
    loaded = load_run(run_dir)
    if loaded.task == QA:
        return qa_inference.predict_answers(loaded, texts, _contexts(texts, pairs), batch_size)
    cut = checked_threshold(threshold)
    scores = predict_scores(loaded.run_dir, texts, pairs, batch_size)
    return [_as_prediction(loaded, np.atleast_1d(row).tolist(), cut) for row in scores]


def predict_one(run_dir, text: str, pair: str | None = None, threshold: float | None = None) -> dict:
    """The prediction for one text (and second text) plus `latency_ms`: tokenize, forward and softmax (multi-label:
    a sigmoid per label, and `{"labels", "scores", "threshold"}` as `predict` gives). Extractive QA: text is the
    question, pair the context (required); qa_inference.predict_answer's record."""
    loaded = load_run(run_dir)
    if loaded.task == QA:
        return qa_inference.predict_answer(loaded, text, pair)
    cut = checked_threshold(threshold)
    pairs = _check_pairs(loaded, 1, None if pair is None else [pair])
    started = time.perf_counter()
    encoded = loaded.tokenizer(_as_text(text), pairs[0] if pairs else None, truncation=True,
                               max_length=loaded.max_length, return_tensors="pt")
    with torch.inference_mode():
        logits = loaded.model(**{name: encoded[name].to(loaded.device) for name in loaded.input_names}).logits
        row = _outputs(loaded, logits)[0].tolist()
    latency = (time.perf_counter() - started) * 1000
    return _as_prediction(loaded, row, cut) | {"latency_ms": round(latency, 3)}


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
    Extractive QA (text: question, pair: context) explains the answer instead: see qa_inference.explain_answer.
    """
    loaded = load_run(run_dir)
    if loaded.task == QA:
        return qa_inference.explain_answer(loaded, text, pair, steps)
    pairs = _check_pairs(loaded, 1, None if pair is None else [pair])
    texts = (_as_text(text), pairs[0] if pairs else None)
    encoded = loaded.tokenizer(*texts, truncation=True, max_length=loaded.max_length, return_tensors="pt",
                               return_offsets_mapping=True, return_special_tokens_mask=True)
    inputs = {name: encoded[name].to(loaded.device) for name in loaded.input_names}
    special = encoded["special_tokens_mask"][0].bool()
    with torch.inference_mode():
        row = _outputs(loaded, loaded.model(**inputs).logits)[0].tolist()
    prediction = _as_prediction(loaded, row)
    index = _target_index(loaded, target or _surest_label(prediction))
    attributions = integrated_gradients(loaded, inputs, special, index, steps)[0].cpu()
    tokens = attribution.token_scores(loaded.tokenizer, encoded, attributions)
    full = loaded.tokenizer(*texts, truncation=False)["input_ids"]
    return {"label": loaded.labels[index] if loaded.labels else None, "method": "integrated_gradients",
            "steps": steps, "prediction": prediction, "truncated": len(full) > len(tokens),
            "tokens": tokens, "words": attribution.word_scores(encoded, attributions, texts)}


def _surest_label(prediction: dict) -> str | None:
    """explain's default target: the predicted class, or the label with the highest score (None for a value)."""
    scores = prediction.get("scores")
    return prediction.get("label") or (max(scores, key=scores.get) if scores else None)


def _target_index(loaded: LoadedRun, target: str | None) -> int:
    if loaded.labels is None:
        return 0
    if target not in loaded.labels:
        raise StudioError(f"Unknown label {target!r}; this model's labels are: {', '.join(loaded.labels)}.")
    return loaded.labels.index(target)


def integrated_gradients(loaded: LoadedRun, inputs: dict, special: torch.Tensor, index: int | None, steps: int,
                         target=None):
    """attribution.integrated_gradients of `target(output)` (default: label `index`'s log-probability, its
    log-sigmoid for multi-label, or the value for regression); extractive QA passes its answer's start + end logit."""
    return attribution.integrated_gradients(loaded.model, loaded.tokenizer.pad_token_id or 0, inputs, special,
                                            target or _label_target(loaded, index), steps)


# What explain attributes, by task kind, before picking the target's column: the value (regression), each label's
# log-sigmoid (multi-label: its own probability), else the log-softmax over the classes.
ATTRIBUTED = {"regression": lambda logits: logits, MULTI_LABEL: torch.nn.functional.logsigmoid}


def _label_target(loaded: LoadedRun, index: int | None):
    def target(output) -> torch.Tensor:
        return ATTRIBUTED.get(loaded.task, _log_softmax)(output.logits.float())[:, index]
    return target


def _log_softmax(logits: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits, dim=-1)


# ---------------------------------------------------------------- speed


def measure_speed(run_dir, texts: list[str], pairs: list[str] | None = None, repeats: int = 50,
                  batch_rows: int = 256, batch_size: int = BATCH_SIZE) -> dict:
    """Single-text latency as a user waits for it (p50/p95 ms over `repeats` calls, after WARMUP_CALLS) and batch
    throughput over `batch_rows` rows (the texts repeated). Keys: latency_p50_ms, latency_p95_ms,
    throughput_rows_per_s, repeats, batch_rows, batch_size, device, threads."""
    loaded = load_run(run_dir)
    if not texts:
        raise StudioError("Give at least one text to measure the speed with.")
    pairs = _check_pairs(loaded, len(texts), pairs)

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
