"""Playground tab: type a text, see what one or two finished models think, why, and how fast; score a whole CSV.

The boxes follow the first model's task kind (its Views): e.g. a question and a context for extractive QA (the answer
is marked in the context), a threshold for multi-label models (moving it re-reads the scores, it does not run the
model again).
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from backend.access.services import Services
from backend.schemas import StudioError
from backend.serving import inference
from ui import charts
from ui.downloads import hand_out
from backend.access.users import Viewer
from ui.session import viewer_of
from ui.task_views import PLAYGROUND_VIEWS, views_of

NONE = "(none)"


def finished_choices(services: Services, viewer: Viewer) -> list[tuple[str, str]]:
    """The completed jobs this person may use, newest first, labelled with name and main score (and owner for a
    teacher, who sees the whole class's)."""
    choices = []
    for record in services.jobs(viewer):
        if record.state == "completed":
            label = charts.run_label(record)
            choices.append((f"{label} · {record.owner}" if viewer.teacher else label, record.job_id))
    return choices


LIST_SECONDS = 5.0  # how often open pages look for newly finished runs


def offered(choices: list, value, default):
    """A run list's update: the runs offered now; the person's choice is kept whenever it is still offered, and only
    a list with no choice (or a vanished one) gets `default`."""
    if value in [job for _, job in choices]:
        return gr.update(choices=choices)
    return gr.update(choices=choices, value=default)


def follow_runs(app: gr.Blocks, services: Services, refresh: gr.Button | None, lists: list, updates) -> None:
    """Run lists that stay current by themselves: filled on load, looked at again every LIST_SECONDS (sent only
    when the finished runs changed) and on "Refresh list"; `updates(choices, *values)` never changes a choice."""
    shown = gr.State(None)  # the choices this page was last sent

    def on_runs_changed(data: dict, http: gr.Request):
        choices = finished_choices(services, viewer_of(http, services))
        if choices == data[shown]:
            return {shown: gr.update()}
        return {shown: choices, **dict(zip(lists, updates(choices, *[data[d] for d in lists])))}

    timer = gr.Timer(LIST_SECONDS)
    for trigger in (app.load, timer.tick) + ((refresh.click,) if refresh else ()):
        trigger(on_runs_changed, {shown, *lists}, [shown, *lists], api_visibility="private", show_progress="hidden")


def create_playground_tab(app: gr.Blocks, services: Services) -> None:
    gr.Markdown("### Try a finished model\nPick one model, or two to see them side by side, and type a text.")
    with gr.Row():
        run_a = gr.Dropdown(label="Model", choices=[], interactive=True, elem_id="play-run-a", scale=3)
        run_b = gr.Dropdown(label="Second model (optional)", choices=[NONE], value=NONE, interactive=True,
                            elem_id="play-run-b", scale=3)
        refresh = gr.Button("Refresh list", size="sm", scale=1)
    with gr.Row():
        text = gr.Textbox(label="Text", lines=3, placeholder="Type a sentence, then press Predict.", scale=3)
        text_pair = gr.Textbox(label=views_of(None).inputs[1], lines=3, visible=False, scale=3, elem_id="play-text-pair")
    threshold = gr.Slider(0.05, 0.95, value=0.5, step=0.05, label="Threshold", visible=False, elem_id="play-threshold",
                          info="A label is given when its probability reaches this. Lower finds more labels, "
                               "higher only the sure ones.")
    predict = gr.Button("Predict", variant="primary")
    verdict = gr.HTML(elem_id="play-verdict")
    answers_state = gr.State([])  # the last predictions, re-read when the threshold moves
    with gr.Row():
        with gr.Column():
            label_a = gr.Label(label="First model", num_top_classes=10)
            why_a = gr.HighlightedText(label=views_of(None).why, show_legend=False, combine_adjacent=False,
                                       elem_id="play-why-a")
        with gr.Column(visible=False) as column_b:
            label_b = gr.Label(label="Second model", num_top_classes=10)
            why_b = gr.HighlightedText(label="Why (second model)", show_legend=False, combine_adjacent=False)

    gr.Markdown("### Score a whole CSV\nEvery row gets the model's prediction: the label and the probability of each "
                "class, the labels above 0.5 (multi-label), the value (regression), or the answer and its score (QA).")
    with gr.Row():
        batch_file = gr.File(label="CSV to score", file_types=[".csv", ".tsv", ".txt"], type="filepath",
                             elem_id="play-batch-csv")
        scored = gr.File(label="Scored CSV (download)", interactive=False, elem_id="play-scored")
    score = gr.Button("Score every row")
    batch_note = gr.HTML()

    def lists_update(choices, job_a, job_b):
        first = choices[0][1] if choices else None
        return offered(choices, job_a, first), offered([(NONE, NONE)] + choices, job_b, NONE)

    def on_runs(job_a, job_b, http: gr.Request):
        """Boxes for the first model's task, the threshold for multi-label models, the second column when picked."""
        task, pair = None, False
        if job_a:
            try:
                loaded = inference.load_run(services.run_dir(job_a, viewer_of(http, services)))
                task, pair = loaded.task, bool(loaded.uses_pairs)
            except StudioError:
                pass
        views = views_of(task)
        first, second = views.inputs
        return (gr.update(label=first), gr.update(label=second, visible=pair or views.second_input_always),
                gr.update(visible=views.threshold), gr.update(label=views.why),
                gr.update(label=views.why + " (second model)"), gr.update(visible=bool(job_b and job_b != NONE)))

    def on_predict(job_a, job_b, first, second, cut, http: gr.Request):
        viewer = viewer_of(http, services)
        empty = (None, None, None, None, [])
        if not job_a:
            return (charts.message_html("warn", ["Pick a finished model first (train one on the Train tab)."]),) + empty
        if not (first or "").strip():
            return (charts.message_html("warn", ["Type a text to predict."]),) + empty
        if job_a == job_b:
            return (charts.message_html("warn", ["The first and the second model are the same run: pick a different "
                                                 "second model, or (none)."]),) + empty
        try:
            answers = [answer(services, job, viewer, first, second) for job in (job_a, job_b) if job and job != NONE]
        except StudioError as exc:
            return (charts.message_html("error", [str(exc)]),) + empty
        return shown(answers, cut) + (answers,)

    def on_threshold(answers, cut):
        return shown(answers, cut) if answers else (gr.update(),) * 5

    def shown(answers: list[dict], cut: float):
        threshold = cut if any("labels" in a["prediction"] for a in answers) else None
        view = PLAYGROUND_VIEWS[answers[0]["view"]]
        views = [(PLAYGROUND_VIEWS[a["view"]].label(a["prediction"]), PLAYGROUND_VIEWS[a["view"]].why(a))
                 for a in answers] + [(None, None)]
        verdict = charts.verdict_html(answers, threshold, view.describe, view.same)
        return verdict, views[0][0], views[0][1], views[1][0], views[1][1]

    def on_score(job_a, path, http: gr.Request):
        if not job_a or not path:
            return None, charts.message_html("warn", ["Pick a model and upload a CSV to score."])
        try:
            summary = services.score(job_a, viewer_of(http, services), path)
            scored_file = hand_out(summary["output"])
        except StudioError as exc:
            return None, charts.message_html("error", [str(exc)])
        return scored_file, f"<p class='studio-note'>Scored {summary['rows']:,} rows.</p>"

    outputs = [verdict, label_a, why_a, label_b, why_b]
    follow_runs(app, services, refresh, [run_a, run_b], lists_update)
    for control in (run_a, run_b):
        control.change(on_runs, [run_a, run_b], [text, text_pair, threshold, why_a, why_b, column_b],
                       api_visibility="private")
    for trigger in (predict.click, text.submit):
        trigger(on_predict, [run_a, run_b, text, text_pair, threshold], outputs + [answers_state],
                api_visibility="private")
    threshold.change(on_threshold, [answers_state, threshold], outputs, api_visibility="private")
    score.click(on_score, [run_a, batch_file], [scored, batch_note], api_visibility="private")


def answer(services: Services, job_id: str, viewer: Viewer, text: str, pair: str | None) -> dict:
    """One model's prediction with its latency, the name of its kind's Playground view (Views.playground), and what
    explains it when that view shows an explanation: the attribution of its answer to the words."""
    record = services.job(job_id, viewer)
    run_dir = Path(record.run_dir)
    pair = pair if (pair or "").strip() else None
    prediction = inference.predict_one(run_dir, text, pair)
    view = views_of(inference.load_run(run_dir).task).playground
    found = {"job_id": job_id, "name": record.spec.name or job_id, "prediction": prediction, "view": view,
             "text": text, "context": pair}
    if PLAYGROUND_VIEWS[view].explains:
        found["explanation"] = inference.explain(run_dir, text, pair)
    return found
