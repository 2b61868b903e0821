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
from ui.tabs.playground_tab import finished_choices, follow_runs, offered

TEXT_CHARS = 160  # longer texts in a table cell are cut here; a click on the cell shows all of it
HIDDEN_TABLE = gr.update(value=None, visible=False)  # an empty table would show placeholder headers "1 2 3"
NOTHING_COMPARED = (HIDDEN_TABLE, HIDDEN_TABLE, None, None, HIDDEN_TABLE)  # quality, cost, curves, trade-off, rows


def create_compare_tab(app: gr.Blocks, services: Services, data_spec: gr.State, data_stats: gr.State,
                       queued: gr.State) -> None:
    with gr.Column(visible=not services.demo):  # a read-only demo compares chosen runs and trains nothing
        gr.Markdown("### MiniLM vs BERT-Base on your data\nOne click trains both on the same data, split and seed, "
                    "each with its own fair recipe; when both finish, they are compared below.")
        with gr.Row():
            with gr.Column(scale=3):
                plan_note = gr.HTML()  # filled on load: the plan for the kept data after a reload, else where to start
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
        # Fixed shares of the width, wrapped: the differences and ratios at the right always stay on screen.
        quality = gr.Dataframe(label="Quality on the validation rows", interactive=False, visible=False, wrap=True,
                               column_widths=["32%", "17%", "17%", "20%", "14%"])
        cost = gr.Dataframe(label="Size and speed", interactive=False, visible=False, wrap=True,
                            column_widths=["40%", "21%", "21%", "18%"])
    with gr.Row():
        curves = gr.LinePlot(None, x="step", y="value", color="run",
                             title="Validation score while training", height=280)
        tradeoff = gr.ScatterPlot(None, x="latency_ms", y="score", color="run",
                                  title="Quality vs speed (up and left is better)", height=280,
                                  x_title="single-text latency, ms (measured here)")
    disagreements = gr.Dataframe(label="Where the two disagree (validation rows)", interactive=False, wrap=True,
                                 max_height=360, visible=False, max_chars=TEXT_CHARS)
    with gr.Accordion("Published reference: MiniLM-L12-H384 vs BERT-Base (published, not measured here)", open=False):
        gr.Markdown(compare_view.published_markdown(head_to_head.PUBLISHED))

    pair = gr.State([])  # the two job ids "Train both" queued
    request_id = gr.State(None)  # a fresh id at each page load (below), by an event the API page does not show
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
            return charts.message_html("error", [str(exc)]), [], request, gr.Timer(active=False), gr.update()
        ids = [job.job_id for job in jobs]
        return pair_html(ids, viewer), ids, request, gr.Timer(active=True), ids

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
            return (charts.message_html("warn", ["Pick two finished runs."]),) + NOTHING_COMPARED
        if job_a == job_b:
            same = f"Run A and Run B are the same run ({job_a}): a run always agrees with itself; pick two different runs."
            return (charts.message_html("warn", [same]),) + NOTHING_COMPARED
        try:
            result = compare.compare_runs(services.run_dir(job_a, viewer), services.run_dir(job_b, viewer),
                                          remeasure=again)
        except StudioError as exc:
            return (charts.message_html("error", [str(exc)]),) + NOTHING_COMPARED
        disagreeing = compare_view.disagreements_frame(result)
        curve, points = compare_view.compare_curves_frame(result), compare_view.tradeoff_frame(result)
        x_lim, y_lim = compare_view.tradeoff_limits(points)
        label = compare_view.sides_label
        return (compare_view.verdict_list_html(result),
                gr.update(value=compare_view.quality_frame(result), visible=True, label=label(
                    "Quality on the validation rows (each run's best checkpoint, as evaluated in training)", result)),
                gr.update(value=compare_view.cost_frame(result), visible=True, label=label("Size and speed", result)),
                gr.update(value=curve, x_lim=charts.step_range(curve)),
                gr.update(value=points, x_lim=x_lim, y_lim=y_lim),
                gr.update(value=disagreeing, visible=disagreeing is not None,
                          label=label("Where the two disagree (validation rows)", result)))

    def lists_update(choices, job_a, job_b):
        ids = [job for _, job in choices]
        first = job_a if job_a in ids else (ids[0] if ids else None)
        second = next((job for job in ids if job != first), None)  # never the same run on both sides by default
        return offered(choices, job_a, first), offered(choices, job_b, second)

    def on_load_note(http: gr.Request):
        """Where to start, unless the Data tab is bringing back this person's checked data (the plan follows it)."""
        kept = services.place(viewer_of(http, services).name).get("data")
        return gr.update() if kept else charts.message_html("warn", ["Check your data on the Data tab first."])

    plan_inputs = [data_spec, data_stats, minilm, bert, preset]
    for trigger in (data_spec.change, data_stats.change, minilm.input, bert.input, preset.input):
        trigger(on_plan, plan_inputs, plan_note, api_visibility="private")
        # A new plan is a new pair; "Train both" pressed twice on the same plan is the same pair (one id per plan).
        trigger(lambda: uuid.uuid4().hex, None, request_id, api_visibility="private", show_progress="hidden")
    train_both.click(on_train_both, plan_inputs + [request_id], [pair_status, pair, request_id, timer, queued],
                     trigger_mode="once", api_visibility="private")
    timer.tick(on_tick, pair, [pair_status, timer, run_a, run_b] + compared, api_visibility="private",
               show_progress="hidden")
    go.click(on_compare, [run_a, run_b, remeasure], compared, api_visibility="private")
    follow_runs(app, services, None, [run_a, run_b], lists_update)
    app.load(on_load_note, None, plan_note, api_visibility="private", show_progress="hidden")
    app.load(lambda: uuid.uuid4().hex, None, request_id, api_visibility="private", show_progress="hidden")


def make_plan(services: Services, spec: dict | None, stats: dict | None, small: str | None, large: str | None,
              preset_key: str) -> dict:
    if not spec:
        raise StudioError("Check your data on the Data tab first: upload a CSV or pick a sample.")
    suggested = (stats or {}).get("suggested_max_length")
    small, large = (services.check_model(key) if key else None for key in (small, large))
    return head_to_head.plan_comparison(DataSpec(**spec), minilm=small, bert=large, preset=preset_key,
                                        suggested_max_length=suggested)
