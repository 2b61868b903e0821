"""Compare tab: train MiniLM and BERT-Base on the same data with one click, then read quality, size and speed
side by side for any two finished runs, next to the published reference numbers."""
from __future__ import annotations

import uuid

import gradio as gr

from backend.access.services import Services
from backend.jobs.status import job_status
from backend.schemas import DataSpec, StudioError
from backend.serving import compare, head_to_head
from backend.training.presets import PRESETS
from ui import charts, compare_view
from ui.session import viewer_of
from ui.tabs.data_tab import default_key, model_choices
from ui.tabs.playground_tab import finished_choices


def create_compare_tab(app: gr.Blocks, services: Services, data_spec: gr.State, data_stats: gr.State) -> None:
    with gr.Column(visible=not services.demo):  # a read-only demo compares chosen runs and trains nothing
        gr.Markdown("### MiniLM vs BERT-Base on your data\nOne click trains both on the same data, split and seed, "
                    "each with its own fair recipe; when both finish, they are compared below.")
        with gr.Row():
            with gr.Column(scale=3):
                plan_note = gr.HTML(charts.message_html("warn", ["Check your data on the Data tab first."]))
            with gr.Column(scale=2):
                minilm = gr.Dropdown(label="MiniLM side", choices=model_choices(services), value=default_key("minilm"),
                                     interactive=True, elem_id="side-minilm")
                bert = gr.Dropdown(label="BERT-Base side", choices=model_choices(services), value=default_key("bert"),
                                   interactive=True, elem_id="side-bert")
                preset = gr.Radio([(p.title, key) for key, p in PRESETS.items()], value="standard", label="Recipe")
                train_both = gr.Button("Train both", variant="primary")
        pair_status = gr.HTML()

    gr.Markdown("### Compare two finished runs\nAny two runs of the same task; speed is measured on this machine.")
    with gr.Row():
        run_a = gr.Dropdown(label="Run A", choices=[], interactive=True, elem_id="compare-run-a", scale=3)
        run_b = gr.Dropdown(label="Run B", choices=[], interactive=True, elem_id="compare-run-b", scale=3)
        with gr.Column(scale=1):
            remeasure = gr.Checkbox(label="Measure speed again", value=False)
            go = gr.Button("Compare", variant="primary")
    verdict = gr.HTML(elem_id="compare-verdict")
    with gr.Row():
        quality = gr.Dataframe(label="Quality on the validation rows", interactive=False)
        cost = gr.Dataframe(label="Size and speed", interactive=False)
    with gr.Row():
        curves = gr.LinePlot(None, x="step", y="value", color="run",
                             title="Validation score while training", height=280)
        tradeoff = gr.ScatterPlot(None, x="latency_ms", y="score", color="run",
                                  title="Quality vs speed (up and left is better)", height=280,
                                  x_title="single-text latency, ms (measured here)")
    disagreements = gr.Dataframe(label="Where the two disagree (validation rows)", interactive=False, wrap=True,
                                 max_height=360, visible=False)
    with gr.Accordion("Published reference: MiniLM-L12-H384 vs BERT-Base (published, not measured here)", open=False):
        gr.Markdown(compare_view.published_markdown(head_to_head.PUBLISHED))

    pair = gr.State([])  # the two job ids "Train both" queued
    request_id = gr.State(lambda: uuid.uuid4().hex)
    timer = gr.Timer(2.0, active=False)
    compared = [verdict, quality, cost, curves, tradeoff, disagreements]

    def on_plan(spec, stats, small, large, preset_key):
        try:
            plan = make_plan(services, spec, stats, small, large, preset_key)
        except StudioError as exc:
            return charts.message_html("warn", [str(exc)])
        return compare_view.plan_html(plan)

    def on_train_both(spec, stats, small, large, preset_key, request, http: gr.Request):
        viewer = viewer_of(http, services)
        try:
            plan = make_plan(services, spec, stats, small, large, preset_key)
            sides = ("minilm", "bert")
            jobs = services.submit_all([plan[side] for side in sides], viewer, [f"{request}-{side}" for side in sides])
        except StudioError as exc:
            return charts.message_html("error", [str(exc)]), [], request, gr.Timer(active=False)
        ids = [job.job_id for job in jobs]
        return pair_html(ids, viewer), ids, request, gr.Timer(active=True)

    def pair_html(ids: list[str], viewer) -> str:
        return compare_view.pair_status_html([job_status(services.job(job, viewer)) for job in ids])

    def on_tick(ids, http: gr.Request):
        """Follow the two jobs; once both have finished, fill in the comparison and stop polling."""
        viewer = viewer_of(http, services)
        if not ids:
            return ("", gr.Timer(active=False), gr.update(), gr.update()) + (gr.update(),) * len(compared)
        statuses = [job_status(services.job(job, viewer)) for job in ids]
        html = compare_view.pair_status_html(statuses)
        if not all(status["finished"] for status in statuses):
            return (html, gr.Timer(active=True), gr.update(), gr.update()) + (gr.update(),) * len(compared)
        choices = finished_choices(services, viewer)
        if not all(status["state"] == "completed" for status in statuses):
            return (html, gr.Timer(active=False), gr.update(choices=choices), gr.update(choices=choices)) + \
                (gr.update(),) * len(compared)
        return (html, gr.Timer(active=False), gr.update(choices=choices, value=ids[0]),
                gr.update(choices=choices, value=ids[1])) + run_compare(ids[0], ids[1], False, viewer)

    def on_compare(job_a, job_b, again, http: gr.Request):
        return run_compare(job_a, job_b, again, viewer_of(http, services))

    def run_compare(job_a, job_b, again: bool, viewer):
        if not job_a or not job_b:
            return (charts.message_html("warn", ["Pick two finished runs."]),) + (None,) * (len(compared) - 1)
        if job_a == job_b:
            return (charts.message_html("warn", ["Pick two different runs."]),) + (None,) * (len(compared) - 1)
        try:
            result = compare.compare_runs(services.run_dir(job_a, viewer), services.run_dir(job_b, viewer),
                                          remeasure=again)
        except StudioError as exc:
            return (charts.message_html("error", [str(exc)]),) + (None,) * (len(compared) - 1)
        disagreeing = compare_view.disagreements_frame(result)
        return (compare_view.verdict_list_html(result), compare_view.quality_frame(result),
                compare_view.cost_frame(result), compare_view.compare_curves_frame(result),
                compare_view.tradeoff_frame(result), gr.update(value=disagreeing, visible=disagreeing is not None))

    def on_refresh(http: gr.Request):
        choices = finished_choices(services, viewer_of(http, services))
        second = choices[1][1] if len(choices) > 1 else None
        return (gr.update(choices=choices, value=choices[0][1] if choices else None),
                gr.update(choices=choices, value=second))

    plan_inputs = [data_spec, data_stats, minilm, bert, preset]
    for trigger in (data_spec.change, data_stats.change, minilm.input, bert.input, preset.input):
        trigger(on_plan, plan_inputs, plan_note, api_visibility="private")
        # A new plan is a new pair; "Train both" pressed twice on the same plan is the same pair (one id per plan).
        trigger(lambda: uuid.uuid4().hex, None, request_id, api_visibility="private", show_progress="hidden")
    train_both.click(on_train_both, plan_inputs + [request_id], [pair_status, pair, request_id, timer],
                     trigger_mode="once", api_visibility="private")
    timer.tick(on_tick, pair, [pair_status, timer, run_a, run_b] + compared, api_visibility="private",
               show_progress="hidden")
    go.click(on_compare, [run_a, run_b, remeasure], compared, api_visibility="private")
    app.load(on_refresh, None, [run_a, run_b], api_visibility="private")


def make_plan(services: Services, spec: dict | None, stats: dict | None, small: str | None, large: str | None,
              preset_key: str) -> dict:
    if not spec:
        raise StudioError("Check your data on the Data tab first: upload a CSV or pick a sample.")
    suggested = (stats or {}).get("suggested_max_length")
    small, large = (services.check_model(key) if key else None for key in (small, large))
    return head_to_head.plan_comparison(DataSpec(**spec), minilm=small, bert=large, preset=preset_key,
                                        suggested_max_length=suggested)
