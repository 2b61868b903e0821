"""Results tab: one finished run looked at closely (confusion, per-class scores, confident mistakes) and exported."""
from __future__ import annotations

import html

import gradio as gr

from backend.access.services import Services
from backend.schemas import StudioError
from backend.serving import analysis, push
from ui import charts
from ui.downloads import hand_out
from ui.session import viewer_of
from ui.task_views import REPORT_VIEWS, views_of
from ui.tabs.playground_tab import follow_runs, offered


def create_results_tab(app: gr.Blocks, services: Services) -> None:
    gr.Markdown("### Where does the model go wrong?\nEvery number here is measured again, now, on the run's "
                "validation rows with the model it kept (its best checkpoint). The Train tab's \"best checkpoint\" "
                "figure is the same model's evaluation during training, in its batches and precision: the two can "
                "differ in the last digit.")
    with gr.Row():
        run = gr.Dropdown(label="Finished run", choices=[], interactive=True, elem_id="results-run", scale=4)
        refresh = gr.Button("Refresh list", size="sm", scale=1)
    summary = gr.HTML()
    with gr.Row():
        confusion = gr.Dataframe(label="Confusion matrix (rows: true label, columns: predicted)", interactive=False,
                                 elem_id="results-first-table", visible=False)  # hidden until a run is read:
        per_class = gr.Dataframe(label="Per class", interactive=False, elem_id="results-second-table",  # no "1 2 3"
                                 visible=False)
    with gr.Row():
        histogram = gr.BarPlot(x="confidence", y="rows", color="outcome", title="How sure the model was",
                               height=260, x_title="top-class probability", sort=None)
        points = gr.ScatterPlot(x="gold", y="predicted", title="Predicted vs true value", height=260, visible=False)
    mistakes = gr.Dataframe(label="Mistakes, most confident first", interactive=False, wrap=True, max_height=360,
                            max_chars=160, visible=False, elem_id="results-examples")  # a click shows a whole text

    gr.Markdown("### Take the model with you\nA zip that `transformers` loads as is: the model, its tokenizer and "
                "label names, a model card, the job spec and the results.")
    with gr.Row():
        build = gr.Button("Prepare download", scale=1)
        download = gr.File(label="Model (.zip)", interactive=False, scale=3)
    gr.Markdown("Or push the same files to a new Hugging Face hub repository, private unless you tick Public. "
                "The token is used for this push only: it is neither stored nor logged.", elem_classes="studio-note")
    with gr.Row():
        repo_name = gr.Textbox(label="Repository (OWNER/NAME)", placeholder="your-name/reviews-minilm", scale=3,
                               elem_id="push-repo")
        token = gr.Textbox(label="Hub token (write access)", type="password", scale=3, elem_id="push-token")
        public = gr.Checkbox(label="Public", value=False, scale=1)
        push_button = gr.Button("Push to hub", scale=1)
    push_note = gr.HTML(elem_id="push-note")

    def lists_update(choices, job_id):
        return (offered(choices, job_id, choices[0][1] if choices else None),)

    def on_run(job_id, http: gr.Request):
        empty = ("", gr.update(value=None, visible=False), gr.update(value=None, visible=False),
                 gr.update(value=None, visible=False), gr.update(visible=False), gr.update(value=None, visible=False))
        if not job_id:
            return empty
        try:
            report = analysis.error_analysis(services.run_dir(job_id, viewer_of(http, services)))
        except StudioError as exc:
            return (charts.message_html("error", [str(exc)]),) + empty[1:]
        return REPORT_VIEWS[views_of(report["task"]).report](report)

    def on_export(job_id, http: gr.Request):
        if not job_id:
            return None
        try:
            return hand_out(services.export(job_id, viewer_of(http, services)))
        except StudioError as exc:
            gr.Warning(str(exc))
            return None

    def on_push(job_id, repo_id, token_value, is_public, http: gr.Request):
        if not job_id:
            return charts.message_html("warn", ["Pick a finished run first."]), ""
        try:
            run_dir = services.run_dir(job_id, viewer_of(http, services))
            pushed = push.push_run(run_dir, repo_id, token=token_value, private=not is_public,
                                   token_from_environment=False)
        except StudioError as exc:
            return charts.message_html("error", [str(exc)]), ""
        seen_by = "only you" if pushed["private"] else "anyone"
        return (f"<p class='studio-note'>Pushed {len(pushed['files'])} files to "
                f"<a href='{html.escape(pushed['url'])}'>{html.escape(pushed['repo_id'])}</a> (commit "
                f"{html.escape(pushed['commit'][:7])}; {seen_by} can see it).</p>"), ""

    outputs = [summary, confusion, per_class, histogram, points, mistakes]
    follow_runs(app, services, refresh, [run], lists_update)
    run.change(on_run, run, outputs, api_visibility="private")
    build.click(on_export, run, download, api_visibility="private")
    # The token field is emptied after every try: it lives in the page only as long as one push takes.
    push_button.click(on_push, [run, repo_name, token, public], [push_note, token], api_visibility="private")
