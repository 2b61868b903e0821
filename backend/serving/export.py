"""export_run(run_dir, output_zip): a finished run as one zip that `transformers` loads as is.

    <run-name>/config.json          id2label / label2id: the model names its own outputs
    <run-name>/model.safetensors    the fine-tuned weights
    <run-name>/tokenizer*.json ...  the tokenizer the model was trained with
    <run-name>/spec.json            the job spec (re-runnable with `python -m backend train --config`)
    <run-name>/results.json         metrics, speed and size as the trainer measured them
    <run-name>/README.md            a model card written from the two files above; no training rows

The zip is written next to its destination under a temporary name and renamed when complete, so a reader never
sees half an export.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from backend import tasks
from backend.schemas import StudioError
from backend.serving.compare import METRIC_NAMES, finished_run, model_identity
from backend.training import runs
from backend.training.runs import safe_name

# Weights barely compress and can be hundreds of MB: stored as they are; text files are deflated.
COMPRESSION = {".safetensors": zipfile.ZIP_STORED}
FILE_MODE = 0o100644  # a regular file anyone may read once unzipped (run folders are private to the server)
SETTINGS = (("epochs", "epochs"), ("max_steps", "max steps"), ("batch_size", "batch size"),
            ("learning_rate", "learning rate"), ("max_length", "max length (tokens)"), ("seed", "seed"),
            ("warmup_ratio", "warm-up ratio"), ("weight_decay", "weight decay"))


def run_files(run_dir) -> tuple[Path, object, dict, list[Path]]:
    """A finished run and the files an export carries besides its model card: the model folder, spec and results
    (the zip here, a hub repo in backend.serving.push)."""
    run_dir, spec, results = finished_run(run_dir)
    files = [path for path in sorted((run_dir / runs.MODEL).iterdir()) if path.is_file() and not path.name.startswith(".")]
    return run_dir, spec, results, files + [run_dir / runs.SPEC, run_dir / runs.RESULTS]


def export_run(run_dir, output_zip) -> Path:
    """Write the run as a zip with one top folder; returns the zip's path."""
    run_dir, spec, results, files = run_files(run_dir)
    output = Path(output_zip).expanduser()
    if output.suffix.lower() != ".zip":
        raise StudioError(f"The export file must end in .zip (got {output.name}); choose a name like model.zip.")
    top = safe_name(spec.name or run_dir.name)
    members = [(path, f"{top}/{path.name}") for path in files]
    card = model_card(run_dir, spec, results, top)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=runs.TEMP_PREFIX, suffix=".zip", dir=output.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            _write_zip(handle, members, {f"{top}/README.md": card})
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, output)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return output


def _write_zip(handle, members: list[tuple[Path, str]], texts: dict[str, str]) -> None:
    with zipfile.ZipFile(handle, "w") as archive:
        for path, name in members:
            info = zipfile.ZipInfo.from_file(path, name)
            info.external_attr = FILE_MODE << 16
            info.compress_type = COMPRESSION.get(path.suffix, zipfile.ZIP_DEFLATED)
            with open(path, "rb") as source, archive.open(info, "w", force_zip64=True) as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
        for name, text in texts.items():
            info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
            info.external_attr, info.compress_type = FILE_MODE << 16, zipfile.ZIP_DEFLATED
            archive.writestr(info, text)


# ---------------------------------------------------------------- the model card


def model_card(run_dir: Path, spec, results: dict, folder: str) -> str:
    """The card: what differs between kinds (outputs, counts, scope, length, how to load it) is the kind's."""
    identity = model_identity(spec.model, run_dir)
    report = _training_report(spec, results)
    kind = tasks.get(results["task"])
    pairs = kind.reads_pairs is True or bool(report.text_pair_column if report else spec.data.text_pair_column)
    sections = [
        _front_matter(identity, kind),
        f"# {spec.name or folder}\n",
        _what_it_is(identity, results),
        _labels_and_data(kind, spec, results, report),
        _metrics_table(results),
        _settings_table(spec, results),
        _use_and_limits(kind, identity, spec, results),
        kind.card_usage(folder, spec, pairs),
    ]
    return "\n".join(sections)


def _training_report(spec, results: dict):
    """The data check of the training CSV when it is still there and unchanged since training; None otherwise."""
    from backend.tasks import loading

    try:
        report = loading.validate(spec.data)
    except (StudioError, OSError):
        return None
    if (report.rows, report.eval_rows) != (results.get("train_rows"), results.get("eval_rows")):
        return None  # the CSV changed since training: its counts would describe other data
    return report


def _front_matter(identity: dict, kind) -> str:
    lines = ["---", "library_name: transformers", f"pipeline_tag: {kind.pipeline_tag}"]
    if identity["hub_id"]:
        lines.append(f"base_model: {identity['hub_id']}")
    lines += ["tags:", "- minilm-studio", f"- {kind.name.replace('_', '-')}", "---", ""]
    return "\n".join(lines)


def _what_it_is(identity: dict, results: dict) -> str:
    base = identity["label"] + (f" (`{identity['hub_id']}`)" if identity["hub_id"] else "")
    parameters = f"{results['num_parameters'] / 1e6:.1f}M" if results.get("num_parameters") else "an unknown number of"
    kind = tasks.get(results["task"]).title.lower()
    return (f"{'An' if kind[0] in 'aeiou' else 'A'} {kind} model fine-tuned with MiniLM Studio from {base}. "
            f"It has {parameters} parameters, weights in safetensors.\n")


def _labels_and_data(kind, spec, results: dict, report) -> str:
    lines = ["## Labels and data", "", *kind.card_outputs(results)]
    split = (f"the validation CSV `{Path(spec.data.eval_csv).name}`" if spec.data.eval_csv else
             f"a {spec.data.eval_fraction:.0%} hold-out of the training CSV (split seed {spec.data.split_seed})")
    lines += ["", f"Trained on {results.get('train_rows', '?')} rows of `{Path(spec.data.train_csv).name}`; scored on "
                  f"{results.get('eval_rows', '?')} rows of {split}."]
    counts = kind.card_counts(report, results) if report else []
    lines += ["", *counts] if counts else []
    return "\n".join(lines) + "\n"


def _metrics_table(results: dict) -> str:
    metrics = results.get("metrics") or {}
    main = results.get("main_metric")
    lines = ["## Validation metrics", "", "| metric | value |", "| --- | ---: |"]
    lines += [f"| {METRIC_NAMES.get(name, name)}{' (picks the best checkpoint)' if name == main else ''} | "
              f"{value if isinstance(value, int) else f'{value:.4f}'} |"  # int: a count of questions
              for name, value in metrics.items() if isinstance(value, (int, float))]
    if results.get("best_step") is not None:
        lines += ["", f"Best checkpoint at step {results['best_step']} of {results.get('steps', '?')}."]
    return "\n".join(lines) + "\n"


def _settings_table(spec, results: dict) -> str:
    lines = ["## Training settings", "", "| setting | value |", "| --- | --- |"]
    lines += [f"| {label} | {getattr(spec, name)} |" for name, label in SETTINGS if getattr(spec, name) is not None]
    for key, label in (("precision", "precision"), ("device", "device"), ("train_runtime_s", "training seconds"),
                       ("train_samples_per_second", "training samples/s")):
        if results.get(key) is not None:
            lines.append(f"| {label} | {results[key]} |")
    return "\n".join(lines) + "\n"


def _use_and_limits(kind, identity: dict, spec, results: dict) -> str:
    return "\n".join([
        "## Intended use and limitations", "",
        f"- Use it for texts like those in its training CSV: it always answers with {kind.card_scope(results)}, even "
        "for texts unlike anything it saw.",
        f"- It learned from {results.get('train_rows', '?')} rows and was scored on {results.get('eval_rows', '?')}; "
        "with few rows the scores above are rough, so check it on your own examples before relying on it.",
        kind.card_length_note(spec),
        f"- It inherits the language coverage and biases of {identity['label']} and of the training data.",
        "- Not for decisions about people without a human reviewing its answers.", "",
    ])
