"""build_app(services): the tabs assembled, nothing else."""
from __future__ import annotations

import gradio as gr
from starlette.middleware import Middleware

from backend.access.services import Services
from ui import api
from ui.guard import LoginClient, PathGuard, login_client
from ui.session import viewer_of
from ui.tabs.class_tab import create_class_tab
from ui.tabs.compare_tab import create_compare_tab
from ui.tabs.data_tab import create_data_tab
from ui.tabs.playground_tab import create_playground_tab
from ui.tabs.results_tab import create_results_tab
from ui.tabs.train_tab import create_train_tab

CSS = """
.token-row { margin: 0 0 10px 0; line-height: 2.1; }
.token-row .row-label { font-size: 12px; color: var(--body-text-color-subdued); margin-right: 6px; }
.tok { display: inline-block; padding: 0 5px; margin: 2px 2px; border-radius: 4px; font-family: var(--font-mono);
       font-size: 13px; background: #e8eefc; color: #1d2a4d; border: 1px solid #c9d6f5; }
.tok.special { background: #f1e4fb; border-color: #d7b8f0; color: #4c1d6b; }
.tok.unk { background: #fde2e1; border-color: #f5a3a0; color: #7a1512; font-weight: 600; }
.tok.cut { opacity: 0.45; text-decoration: line-through; }
.tok.question { background: #e0ecff; border-color: #a9c6f5; color: #123d7a; }
.tok.answer { background: #d9f5dd; border-color: #7fcf8c; color: #0f5132; font-weight: 600; }
.tok.overlap { border-style: dashed; border-color: #9ca3af; }
.tok .meta { display: block; font-size: 10px; line-height: 1.1; color: #5b6478; text-align: center; }
.studio-note { font-size: 14px; }
.studio-error { border-left: 4px solid #d9362b; padding: 6px 12px; background: #fdecea; color: #5f1410; border-radius: 4px; }
.studio-note ul { margin: 4px 0 4px 18px; }
.studio-warn { border-left: 4px solid #e0a100; padding: 6px 12px; background: #fff7e0; color: #4d3800; border-radius: 4px; }
"""

INTRO = """# MiniLM Studio
Fine-tune MiniLM on your own CSV, watch it learn, and see how it stands against BERT-Base on **your** data:
quality, size and speed. Start on the **Data** tab: upload a CSV or pick a sample."""


DEMO_INTRO = """# MiniLM Studio · demo
Try finished models on the **Playground** and read how they compare on the **Compare** tab. This server is a
read-only demo: it trains nothing."""


def build_app(services: Services) -> gr.Blocks:
    with gr.Blocks(title="MiniLM Studio") as app:
        with gr.Row(equal_height=True):
            gr.Markdown(DEMO_INTRO if services.demo else INTRO)
            if services.users:
                with gr.Column(scale=0, min_width=240):
                    who = gr.Markdown(elem_id="signed-in")
                    gr.Button("Log out", link="/logout", size="sm")

                def on_load(http: gr.Request) -> str:
                    return signed_in_text(viewer_of(http, services))
                app.load(on_load, None, who, api_visibility="private")
        data_spec = gr.State(None)  # the checked DataSpec as a dict, for the tabs that come after Data
        data_stats = gr.State(None)  # rows and token lengths from the preview: max length and time estimates
        queued = gr.State([])  # the jobs Compare's "Train both" queued: the Train tab lists them at once
        with gr.Tabs() as tab_set:
            if not services.demo:
                with gr.Tab("Data", id="data"):
                    create_data_tab(app, services, data_spec, data_stats)
                with gr.Tab("Train", id="train"):
                    create_train_tab(app, services, data_spec, data_stats, queued)
            with gr.Tab("Playground", id="playground"):
                create_playground_tab(app, services)
            with gr.Tab("Compare", id="compare"):
                create_compare_tab(app, services, data_spec, data_stats, queued)
            if not services.demo:
                with gr.Tab("Results", id="results"):
                    create_results_tab(app, services)
            if services.users and not services.demo:
                with gr.Tab("Class", id="class", visible=False) as class_tab:  # shown to teachers on load
                    create_class_tab(app, services, class_tab)
        keep_tab(app, services, tab_set)
        api.register(services)
    return app


def keep_tab(app: gr.Blocks, services: Services, tab_set: gr.Tabs) -> None:
    """The tab a person is on is kept with their place; a reload (or a restart) opens it again."""
    def on_select(evt: gr.SelectData, http: gr.Request) -> None:
        tab_id = getattr(evt, "id", None) or tab_ids.get(evt.value)
        if tab_id:
            services.keep_place(viewer_of(http, services).name, tab=tab_id)

    def on_load(http: gr.Request):
        tab_id = services.place(viewer_of(http, services).name).get("tab")
        return gr.Tabs(selected=tab_id) if tab_id in tab_ids.values() and tab_id != "class" else gr.update()

    tab_ids = {tab.label: tab.id for tab in tab_set.children if isinstance(tab, gr.Tab)}
    tab_set.select(on_select, None, None, api_visibility="private", show_progress="hidden")
    app.load(on_load, None, tab_set, api_visibility="private", show_progress="hidden")


def signed_in_text(viewer) -> str:
    return f"Signed in as **{viewer.name}**" + (" (teacher)" if viewer.teacher else "")


def launch_options(services: Services, monitoring: bool = False) -> dict:
    """Launch settings that keep a shared server private and offline-friendly."""
    theme = gr.themes.Soft(
        font=["ui-sans-serif", "system-ui", "sans-serif"],  # no web fonts: classrooms may be offline
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )
    options = {
        "theme": theme,
        "css": CSS,
        "footer_links": ["api"],
        "enable_monitoring": monitoring,  # Gradio's /monitoring dashboard: only when the operator asks for it
        "show_error": True,
        "max_file_size": services.limits.upload_bytes,  # Gradio refuses bigger uploads before they reach the disk
        # Gradio keeps ~0.5 MB per browser or API session until this many (default 10,000: ~5 GB); the oldest go
        # first, and everything a person needs lives in the job store, so a dropped session loses nothing.
        "state_session_capacity": 1000,
        "app_kwargs": {"middleware": [Middleware(PathGuard), Middleware(LoginClient)]},
    }
    if services.users:
        # The login: a request's owner is the name it signed in with; failures are throttled per name and client.
        options["auth"] = lambda name, password: services.users.check(name, password, client=login_client.get())
        options["auth_message"] = "MiniLM Studio: sign in with the name and password your teacher gave you."
    return options
