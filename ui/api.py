"""The named API endpoints (gradio_client), each meaning what the CLI command of the same purpose means.

They return the same JSON the CLI prints; an unusable input raises gr.Error with the CLI's one-line message.
"""
from __future__ import annotations

from functools import wraps
from pathlib import Path

import gradio as gr
from gradio.data_classes import FileData

from backend.access.services import Services
from backend.jobs.status import job_status
from backend.models import catalog
from backend.schemas import DataSpec, StudioError
from backend.serving import analysis, compare, inference
from backend.tasks import loading
from backend.training import presets
from ui.downloads import hand_out
from ui.session import viewer_of


def user_errors(fn):
    """StudioError -> gr.Error, so an API caller reads the same sentence the CLI prints."""
    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StudioError as exc:
            message = str(exc)
        # Raised out here, the gr.Error carries no link to the StudioError's traceback, whose frames may hold a
        # refused file's data for as long as Gradio keeps the error.
        raise gr.Error(message, print_exception=False)
    return wrapper


def _path(file: FileData | dict | None) -> str | None:
    if file is None:
        return None
    return file["path"] if isinstance(file, dict) else file.path


def register(services: Services) -> None:
    """Declare the endpoints inside the current gr.Blocks."""

    def data_spec(request, train_csv, eval_csv, text_column, text_pair_column, label_column, task,
                  more: dict) -> DataSpec:
        """`more`: answer_start_column, label_separator and label_columns (comma-separated), "" when not given."""
        owner = viewer_of(request, services).name
        if _path(train_csv) is None:
            raise StudioError("Send a training CSV as train_csv.")
        evaluation = _path(eval_csv)
        several = [name.strip() for name in (more.get("label_columns") or "").split(",") if name.strip()]
        return DataSpec(
            train_csv=str(services.keep_upload(_path(train_csv), owner)),
            eval_csv=str(services.keep_upload(evaluation, owner)) if evaluation else None,
            text_column=text_column or None, text_pair_column=text_pair_column or None,
            label_column=label_column or None, task=task or None,
            answer_start_column=more.get("answer_start_column") or None,
            label_separator=more.get("label_separator") or None, label_columns=several or None,
        )

    @user_errors
    def validate_csv(train_csv: FileData, eval_csv: FileData | None = None, text_column: str = "",
                     text_pair_column: str = "", label_column: str = "", task: str = "",
                     answer_start_column: str = "", label_separator: str = "", label_columns: str = "",
                     request: gr.Request = None) -> dict:
        """Check a CSV: rows, columns, chosen columns, detected task, label counts and warnings (like `python -m backend validate`). Extractive QA: text_column is the question, text_pair_column the context, label_column the answer text, answer_start_column its character offset. Multi-label: label_separator, or label_columns as "a,b,c" (0/1 columns)."""
        spec = data_spec(request, train_csv, eval_csv, text_column, text_pair_column, label_column, task,
                         {"answer_start_column": answer_start_column, "label_separator": label_separator,
                          "label_columns": label_columns})
        return loading.validate(spec).to_dict()

    @user_errors
    def preview_tokens(train_csv: FileData, model: str = "", max_length: int = 128, text_column: str = "",
                       text_pair_column: str = "", label_column: str = "", rows: int = 5, task: str = "",
                       answer_start_column: str = "", label_separator: str = "", label_columns: str = "",
                       doc_stride: int | None = None, request: gr.Request = None) -> dict:
        """Token length statistics and tokenized sample rows for a model, with the BERT-Base side beside it (like `python -m backend preview`); for extractive QA also the windows of long contexts and where the answers fall."""
        spec = data_spec(request, train_csv, None, text_column, text_pair_column, label_column, task,
                         {"answer_start_column": answer_start_column, "label_separator": label_separator,
                          "label_columns": label_columns})
        model_key = services.check_model(model) if model else None
        return loading.preview_data(spec, model_key, int(max_length), int(rows), doc_stride=doc_stride)

    @user_errors
    def start_job(train_csv: FileData, model: str = "", eval_csv: FileData | None = None, text_column: str = "",
                  text_pair_column: str = "", label_column: str = "", task: str = "", preset: str = "standard",
                  epochs: float | None = None, max_steps: int | None = None, batch_size: int | None = None,
                  learning_rate: float | None = None, max_length: int | None = None, seed: int | None = None,
                  name: str = "", request_id: str = "", answer_start_column: str = "", label_separator: str = "",
                  label_columns: str = "", doc_stride: int | None = None, request: gr.Request = None) -> dict:
        """Queue a fine-tuning job (like `python -m backend train`); unset hyperparameters come from the preset (quick, standard, thorough) and the model's defaults. Returns the job's status; the same request_id twice gives one job."""
        spec = data_spec(request, train_csv, eval_csv, text_column, text_pair_column, label_column, task,
                         {"answer_start_column": answer_start_column, "label_separator": label_separator,
                          "label_columns": label_columns})
        model_key = services.check_model(model) if model else catalog.default_model("minilm")[0].key
        # The data's suggested max length, as the Train tab uses it: an API job is the same job.
        suggested = loading.preview_data(spec, model_key, 512, 0, with_bert=False)["suggested_max_length"]
        job = presets.apply_preset(
            preset, spec, model_key, catalog.resolve(model_key).defaults, suggested, epochs=epochs, max_steps=max_steps,
            batch_size=batch_size, learning_rate=learning_rate, max_length=max_length, seed=seed, doc_stride=doc_stride,
        )
        job.name = name.strip()[:80]
        return job_status(services.submit(job, viewer_of(request, services), request_id=request_id or None))

    @user_errors
    def job_status_(job_id: str, request: gr.Request = None) -> dict:
        """One job: state, progress (step, elapsed, remaining, samples/s), metric lines, results when finished, log tail."""
        return job_status(services.job(job_id, viewer_of(request, services)))

    @user_errors
    def cancel_job(job_id: str, request: gr.Request = None) -> dict:
        """Cancel a queued or running job; a running one stops at its next step and keeps its last checkpoint."""
        return job_status(services.cancel(job_id, viewer_of(request, services)))

    @user_errors
    def resume_job(job_id: str, request: gr.Request = None) -> dict:
        """Queue a cancelled, interrupted or failed job again; it continues from its last checkpoint."""
        return job_status(services.resume(job_id, viewer_of(request, services)))

    @user_errors
    def list_jobs(request: gr.Request = None) -> list[dict]:
        """Your jobs (a teacher: everyone's), newest first, each with its state and progress."""
        return [job_status(record) for record in services.jobs(viewer_of(request, services))]

    def run_dir(job_id: str, request) -> Path:
        return services.run_dir(job_id, viewer_of(request, services))

    @user_errors
    def predict(job_id: str, text: str, text_pair: str = "", explain: bool = False, threshold: float | None = None,
                request: gr.Request = None) -> dict:
        """Predict with a finished job's model (like `python -m backend predict`): {"label", "scores"}, {"value"}, multi-label {"labels", "scores", "threshold"} (threshold default 0.5), or for extractive QA (text the question, text_pair the context) {"answer", "start", "end", "score", "no_answer", "no_answer_score"}; with latency_ms. explain adds word attributions."""
        folder = run_dir(job_id, request)
        options = {"threshold": threshold} if threshold is not None else {}
        result = inference.predict_one(folder, text, text_pair or None, **options)
        if explain:
            result["explanation"] = inference.explain(folder, text, text_pair or None)
        return result

    @user_errors
    def compare_runs(job_a: str, job_b: str, remeasure: bool = False, request: gr.Request = None) -> dict:
        """Two finished jobs side by side (like `python -m backend compare`): metrics, size, training and inference speed, verdict, curves, disagreements."""
        return compare.compare_runs(run_dir(job_a, request), run_dir(job_b, request), remeasure=remeasure)

    @user_errors
    def error_analysis(job_id: str, request: gr.Request = None) -> dict:
        """A finished job's validation errors: confusion matrix, per-class precision/recall/F1, confident mistakes, confidence histogram."""
        return analysis.error_analysis(run_dir(job_id, request))

    @user_errors
    def export_run(job_id: str, request: gr.Request = None) -> FileData:
        """A finished job's model as a zip that `transformers` loads as is (like `python -m backend export`): the model, its tokenizer and label names, a model card, the job spec and the results."""
        made = services.export(job_id, viewer_of(request, services))
        return FileData(path=hand_out(made), orig_name=made.name)

    @user_errors
    def score_csv(job_id: str, csv: FileData, request: gr.Request = None) -> FileData:
        """Every row of a CSV with a finished job's predictions appended (like `python -m backend predict --csv`), read from the columns the job trained on: predicted_label, confidence and p_<label> per class; predicted_value (regression); predicted_labels (multi-label); predicted_answer and answer_score (extractive QA). Cells a spreadsheet would run as formulas are escaped."""
        if _path(csv) is None:
            raise StudioError("Send the CSV to score as csv.")
        scored = Path(services.score(job_id, viewer_of(request, services), _path(csv))["output"])
        return FileData(path=hand_out(scored), orig_name=scored.name)

    gr.api(validate_csv, api_name="validate_csv")
    gr.api(preview_tokens, api_name="preview_tokens")
    gr.api(start_job, api_name="start_job")
    gr.api(job_status_, api_name="job_status")
    gr.api(cancel_job, api_name="cancel_job")
    gr.api(resume_job, api_name="resume_job")
    gr.api(list_jobs, api_name="list_jobs")
    gr.api(predict, api_name="predict")
    gr.api(compare_runs, api_name="compare_runs")
    gr.api(error_analysis, api_name="error_analysis")
    gr.api(export_run, api_name="export_run")
    gr.api(score_csv, api_name="score_csv")
