"""Class tab, for teachers only: every student's jobs, the shared queue and the limits, and a cancel for any job.

The tab is shown to teachers only, and every handler checks again on the server: hiding is not the protection.
"""
from __future__ import annotations

import html

import gradio as gr
import pandas as pd

from backend.access.services import Services
from backend.jobs.status import job_summary
from backend.schemas import FINISHED_STATES, StudioError
from ui import charts
from ui.session import viewer_of

POLL_SECONDS = 2.0
NOT_A_TEACHER = "The class view is for teachers."


def create_class_tab(app: gr.Blocks, services: Services, tab: gr.Tab) -> None:
    gr.Markdown("### The class at a glance\nEvery student's jobs and the shared queue; refreshed every 2 seconds.")
    overview = gr.HTML(elem_id="class-overview")
    with gr.Row():
        people = gr.Dataframe(label="Students", interactive=False, max_height=300, scale=2, elem_id="class-people")
        with gr.Column(scale=1):
            limits = gr.HTML()
    jobs = gr.Dataframe(label="All jobs, newest first (click one to select it)", interactive=False, max_height=420,
                        wrap=True, elem_id="class-jobs")
    with gr.Row():
        chosen = gr.Textbox(label="Selected job", interactive=False, scale=3)
        cancel = gr.Button("Cancel selected job", variant="stop", size="sm", scale=1)
    note = gr.HTML()
    timer = gr.Timer(POLL_SECONDS, active=False)

    def on_load(http: gr.Request):
        viewer = viewer_of(http, services)
        return gr.update(visible=viewer.teacher), gr.Timer(active=viewer.teacher)

    def on_tick(http: gr.Request):
        if not viewer_of(http, services).teacher:
            return "", None, "", None, gr.Timer(active=False)
        return (*class_view(services), gr.Timer(active=True))

    def on_select(evt: gr.SelectData):
        return evt.row_value[0] if evt.row_value else ""

    def on_cancel(job_id, http: gr.Request):
        viewer = viewer_of(http, services)
        if not viewer.teacher:
            return charts.message_html("error", [NOT_A_TEACHER])
        if not job_id:
            return charts.message_html("warn", ["Click a job in the list first."])
        try:
            record = services.cancel(job_id, viewer)
        except StudioError as exc:
            return charts.message_html("error", [str(exc)])
        return f"<p class='studio-note'>Job <b>{html.escape(job_id)}</b> of {html.escape(record.owner)}: cancel sent.</p>"

    app.load(on_load, None, [tab, timer], api_visibility="private")
    timer.tick(on_tick, None, [overview, people, limits, jobs, timer], api_visibility="private", show_progress="hidden")
    jobs.select(on_select, None, chosen, api_visibility="private")
    cancel.click(on_cancel, chosen, note, api_visibility="private")


def class_view(services: Services) -> tuple:
    """The overview line, the per-student table, the limits and the table of all jobs."""
    queue = services.queue_overview()
    records = services.runner.list_jobs(None)
    summaries = [job_summary(record) for record in records]
    students = len({record.owner for record in records})
    line = (f"<p class='studio-note'><b>{queue['running']}</b> training now (of {queue['slots']} at a time) · "
            f"<b>{queue['queued']}</b> waiting · {students} student{'s' * (students != 1)} with jobs</p>")
    limits = "<ul class='studio-note'>" + "".join(f"<li>{html.escape(item)}</li>" for item in queue["limits"]) + "</ul>"
    return line, people_frame(summaries), limits, charts.jobs_frame(summaries, with_owner=True)


def people_frame(summaries: list[dict]) -> pd.DataFrame:
    rows: dict[str, dict] = {}
    for summary in summaries:
        row = rows.setdefault(summary["owner"], {"student": summary["owner"], "running": 0, "queued": 0,
                                                 "completed": 0, "ended otherwise": 0})
        state = summary["state"]
        if state in ("running", "queued"):
            row[state] += 1
        elif state in FINISHED_STATES:
            row["completed" if state == "completed" else "ended otherwise"] += 1
    return pd.DataFrame(sorted(rows.values(), key=lambda row: row["student"]),
                        columns=["student", "running", "queued", "completed", "ended otherwise"])
