"""Train tab: a preset and a few hyperparameters, Start, then the job live: progress, curves, log, cancel, resume."""
from __future__ import annotations

import html
import uuid
from pathlib import Path

import gradio as gr

from backend.access.services import Services
from backend.jobs.status import job_status, job_summary, model_name
from backend.models import catalog
from backend.schemas import DataSpec, JobSpec, StudioError
from backend.training import presets
from backend.training.presets import PRESETS
from ui import charts
from ui.session import viewer_of
from ui.tabs.data_tab import default_key, model_choices
from ui.task_views import COLUMNS_NOTES, views_of

POLL_SECONDS = 1.0
HINTS = {  # tooltips a student understands
    "epochs": "How many times the model reads every training row. More epochs learn more, until they over-fit.",
    "batch_size": "Rows the model reads before each update. Bigger is faster per row and needs more memory.",
    "learning_rate": "How big each update is. Too high and training falls apart (diverges); too low and it crawls.",
    "max_length": "Word pieces kept per row; longer rows are cut (extractive QA reads a long context in overlapping "
                  "windows of this length instead). Shorter is faster.",
    "eval_every_steps": "How often to score the validation rows, in steps. 0 picks about ten times per run.",
    "early_stopping_patience": "Stop when the validation score has not improved this many evaluations in a row. 0 is off.",
    "seed": "Fixes the random choices: the same seed and data give the same model.",
    "precision": "auto uses bf16/fp16 where the hardware is fast at it, else full fp32.",
}


def create_train_tab(app: gr.Blocks, services: Services, data_spec: gr.State, data_stats: gr.State,
                     queued: gr.State) -> None:
    with gr.Row():
        with gr.Column(scale=2):
            gr.Markdown("### Set up a job")
            data_note = gr.HTML()  # filled on load: the kept data after a reload, else where to start
            model = gr.Dropdown(label="Model", choices=model_choices(services), value=default_key("minilm"),
                                interactive=True, elem_id="train-model")
            preset = gr.Radio(label="Preset", choices=[(p.title, key) for key, p in PRESETS.items()], value="quick")
            preset_note = gr.Markdown(PRESETS["quick"].blurb, elem_classes="studio-note")
            with gr.Accordion("Hyperparameters", open=False):
                epochs = gr.Slider(1, 50, value=3, step=1, label="Epochs", info=HINTS["epochs"], elem_id="epochs")
                batch_size = gr.Dropdown([8, 16, 32, 64], value=32, label="Batch size", info=HINTS["batch_size"],
                                         elem_id="batch-size")
                learning_rate = gr.Number(value=1e-4, label="Learning rate", info=HINTS["learning_rate"])
                max_length = gr.Slider(16, 512, value=64, step=8, label="Max length (tokens)", info=HINTS["max_length"])
                eval_every = gr.Number(value=0, precision=0, minimum=0, label="Evaluate every N steps",
                                       info=HINTS["eval_every_steps"])
                patience = gr.Number(value=0, precision=0, minimum=0, label="Early stopping patience",
                                     info=HINTS["early_stopping_patience"])
                seed = gr.Number(value=42, precision=0, label="Seed", info=HINTS["seed"])
                precision = gr.Dropdown(["auto", "fp32", "bf16", "fp16"], value="auto", label="Precision",
                                        info=HINTS["precision"])
            name = gr.Textbox(label="Job name (optional)", placeholder="e.g. reviews, MiniLM, quick")
            estimate = gr.Markdown(elem_classes="studio-note")
            start = gr.Button("Start training", variant="primary")
            if fair_use := fair_use_text(services.limits):
                gr.Markdown(fair_use, elem_classes="studio-note")
            start_note = gr.HTML()
        with gr.Column(scale=3):
            gr.Markdown("### Your jobs\nClick a job to watch it.")
            jobs_table = gr.Dataframe(charts.jobs_frame([]), interactive=False, max_height=220, wrap=True,
                                      column_widths=["27%", "33%", "14%", "14%", "12%"])  # fits 1400 px
            progress = gr.HTML(charts.progress_html(None), elem_id="job-progress")
            with gr.Row():
                cancel = gr.Button("Cancel job", interactive=False, size="sm")
                resume = gr.Button("Resume job", interactive=False, size="sm")
            with gr.Row():
                loss_plot = curve_plot("Training loss")
                eval_plot = curve_plot("Validation scores")
            lr_plot = curve_plot("Learning rate", height=180)
            results = gr.HTML()
            log = gr.Textbox(label="Log (last lines)", lines=6, max_lines=12, interactive=False)

    watched = gr.State(None)  # the job clicked or started last; else the newest job is shown
    # One id per state of the form: Start pressed twice on an unchanged form (a double click, however slow) is one
    # job; any change to the data, model or a setting gives a new id, so the next Start is a new job.
    request_id = gr.State(None)  # a fresh id at each page load (below), by an event the API page does not show
    timer = gr.Timer(POLL_SECONDS, active=False)

    form = [epochs, batch_size, learning_rate, max_length, eval_every, patience, seed, precision]
    view = [jobs_table, progress, cancel, resume, loss_plot, eval_plot, lr_plot, results, log, timer]

    def fill_form(spec, stats, model_key, preset_key):
        """Hyperparameters from the preset, the model's defaults and the data's suggested max length."""
        try:
            job = make_spec(spec, stats, model_key, preset_key)
        except StudioError:
            return [PRESETS[preset_key].blurb, data_html(spec, stats)] + [gr.update()] * len(form) + [""]
        values = [job.epochs, job.batch_size, job.learning_rate, job.max_length, 0, job.early_stopping_patience or 0,
                  job.seed, job.precision]
        return [PRESETS[preset_key].blurb, data_html(spec, stats)] + values + [estimate_text(job, stats, services.limits.job_minutes)]

    def on_estimate(spec, stats, model_key, preset_key, *values):
        try:
            return estimate_text(make_spec(spec, stats, model_key, preset_key, values), stats,
                                 services.limits.job_minutes)
        except (StudioError, TypeError, ValueError):
            return ""

    def on_start(spec, stats, model_key, preset_key, job_name, request, shown, epochs_, batch_, lr_, length_, every_,
                 patience_, seed_, precision_, http: gr.Request):
        viewer = viewer_of(http, services)
        values = (epochs_, batch_, lr_, length_, every_, patience_, seed_, precision_)
        try:
            job = make_spec(spec, stats, services.check_model(model_key), preset_key, values)
            job.name = (job_name or "").strip()[:80] or default_name(job)
            record = services.submit(job, viewer, request_id=request)
        except StudioError as exc:
            return charts.message_html("error", [str(exc)]), gr.update(), request, *refresh(viewer, None)
        again = record.job_id == shown  # the same form pressed again: its job, already on screen
        note = (f"<p class='studio-note'>This form already started job <b>{record.job_id}</b>; change a setting to "
                "start another.</p>" if again else f"<p class='studio-note'>Started job <b>{record.job_id}</b>.</p>")
        return note, record.job_id, request, *refresh(viewer, record.job_id)

    def on_select(evt: gr.SelectData, http: gr.Request):
        job_id = evt.row_value[0] if evt.row_value else None
        return job_id, *refresh(viewer_of(http, services), job_id)

    def on_tick(job_id, http: gr.Request):
        return refresh(viewer_of(http, services), job_id)

    def on_action(action, job_id, http):
        viewer = viewer_of(http, services)
        try:
            getattr(services, action)(job_id, viewer)
        except StudioError as exc:
            gr.Warning(str(exc))
        return refresh(viewer, job_id)

    def refresh(viewer, job_id: str | None):
        """Every output of the job view, read fresh from the job store and the run folder."""
        records = services.jobs(viewer)
        statuses = [job_summary(record) for record in records]  # the list: progress only, for every job
        # After a reload nothing is selected: the newest job (usually the one just started) is the one to show.
        watched = next((r for r in records if r.job_id == job_id), records[0] if records else None)
        current = job_status(watched) if watched else None  # the full view: only for the job on screen
        busy = any(not s["finished"] for s in statuses)
        metrics = current["metrics"] if current else []
        return (
            charts.jobs_frame(statuses, with_owner=viewer.teacher), charts.progress_html(current),
            gr.update(interactive=bool(current and current["can_cancel"])),
            gr.update(interactive=bool(current and current["can_resume"])),
            curve(charts.curves_frame(metrics, ["loss", "eval_loss"])),
            curve(charts.curves_frame(metrics, charts.eval_keys(metrics))),
            curve(charts.curves_frame(metrics, ["learning_rate"])),
            charts.results_html(current) if current else "",
            current["log_tail"] if current else "",
            gr.Timer(active=busy),
        )

    filled = [preset_note, data_note] + form + [estimate]
    for trigger in (data_spec.change, data_stats.change, model.input, preset.input):
        trigger(fill_form, [data_spec, data_stats, model, preset], filled, api_visibility="private")
    for control in form:
        control.input(on_estimate, [data_spec, data_stats, model, preset] + form, estimate, api_visibility="private")
    for trigger in (data_spec.change, data_stats.change, model.change, preset.change, name.change,
                    *(control.change for control in form)):
        trigger(new_request_id, None, request_id, api_visibility="private", show_progress="hidden")
    start.click(on_start, [data_spec, data_stats, model, preset, name, request_id, watched] + form,
                [start_note, watched, request_id] + view, trigger_mode="once", api_visibility="private")
    jobs_table.select(on_select, None, [watched] + view, api_visibility="private")
    timer.tick(on_tick, watched, view, api_visibility="private", show_progress="hidden")
    def on_cancel(job_id, http: gr.Request):
        return on_action("cancel", job_id, http)

    def on_resume(job_id, http: gr.Request):
        return on_action("resume", job_id, http)

    cancel.click(on_cancel, watched, view, api_visibility="private")
    resume.click(on_resume, watched, view, api_visibility="private")
    app.load(on_tick, watched, view, api_visibility="private")  # a reload reattaches to the jobs
    app.load(new_request_id, None, request_id, api_visibility="private", show_progress="hidden")
    queued.change(on_tick, watched, view, api_visibility="private")  # Compare's "Train both": listed here at once

    def on_load_note(http: gr.Request):
        """Where to start, unless the Data tab is bringing back this person's checked data (it fills the note)."""
        kept = services.place(viewer_of(http, services).name).get("data")
        return gr.update() if kept else data_html(None, None)
    app.load(on_load_note, None, data_note, api_visibility="private", show_progress="hidden")


def new_request_id() -> str:
    return uuid.uuid4().hex


def curve(frame):
    """A curve's update: its points, on an x axis from step 0 (a single evaluation is drawn where it happened)."""
    return gr.update(value=frame, x_lim=charts.step_range(frame))


def curve_plot(title: str, height: int = 240) -> gr.LinePlot:
    return gr.LinePlot(None, x="step", y="value", color="series", title=title, height=height)


FORM_FIELDS = ("epochs", "batch_size", "learning_rate", "max_length", "eval_every_steps", "early_stopping_patience",
               "seed", "precision")
ZERO_MEANS_NONE = ("eval_every_steps", "early_stopping_patience")


def make_spec(spec: dict | None, stats: dict | None, model_key: str | None, preset_key: str, values=()) -> JobSpec:
    """The JobSpec the form describes: the preset's values, then whatever the person set in the form."""
    if not spec:
        raise StudioError("Check your data on the Data tab first: upload a CSV or pick a sample.")
    if not model_key:
        raise StudioError("Choose a model.")
    overrides = {}
    for field, value in zip(FORM_FIELDS, values):
        if field in ZERO_MEANS_NONE:
            value = int(value) if value else None
        elif field in ("epochs", "batch_size", "max_length", "seed"):
            value = int(value) if value is not None else None
        elif field == "learning_rate":
            value = float(value) if value else None
        overrides[field] = value
    resolution = catalog.resolve(model_key)
    suggested = (stats or {}).get("suggested_max_length")
    return presets.apply_preset(preset_key, DataSpec(**spec), model_key, resolution.defaults, suggested, **overrides)


def default_name(job: JobSpec) -> str:
    """e.g. "all-MiniLM-L6-v2 · reviews.csv": which model on which data, as the job list shows it."""
    return f"{model_name(job.model)} · {Path(job.data.train_csv).name}"


def data_html(spec: dict | None, stats: dict | None) -> str:
    if not spec:
        return charts.message_html("warn", ["Check your data on the Data tab first: upload a CSV or pick a sample."])
    code = lambda value: f"<code>{html.escape(str(value))}</code>"  # noqa: E731 - names come from the person's file
    files = Path(spec["train_csv"]).name + (f" + {Path(spec['eval_csv']).name}" if spec.get("eval_csv") else "")
    rows = f" · {stats['rows']:,} rows" if stats else ""
    roles = COLUMNS_NOTES[views_of(spec.get("task")).columns_note](spec, code)
    return (f"<p class='studio-note'>Data: <b>{html.escape(files)}</b>{rows} · {roles} · "
            f"{html.escape(str(spec['task']))}</p>")


def fair_use_text(limits) -> str:
    """The limits a person meets when starting jobs on a shared server; empty when there are none."""
    rules = []
    if limits.active_jobs_per_user:
        rules.append(f"up to {limits.active_jobs_per_user} of your jobs queued or running at once")
    if limits.job_minutes:
        rules.append(f"each job trains for at most {limits.job_minutes:g} min, then keeps its best model so far")
    return f"On this server: {'; '.join(rules)}." if rules else ""


def estimate_text(job, stats: dict | None, cap_minutes: float | None = None) -> str:
    if not stats:
        return ""
    resolution = catalog.resolve(job.model)
    rows = stats["rows"] if job.data.eval_csv else int(stats["rows"] * (1 - job.data.eval_fraction))
    seconds = presets.estimate_seconds(rows, stats["mean_tokens"], job, resolution.num_parameters or 110_000_000,
                                       resolution.role, presets.device_kind())
    text = (f"Estimated training time: **{presets.describe_seconds(seconds)}** on this machine "
            f"({presets.device_kind()}; a rough guide: the job shows its real speed once it runs).")
    if cap_minutes and seconds > cap_minutes * 60:
        text += (f" This server stops jobs after **{cap_minutes:g} min**, keeping the best model so far: fewer epochs "
                 "or a shorter max length would let this one finish.")
    return text
