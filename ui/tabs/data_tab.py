"""Data tab: upload or pick a CSV, map its columns, read the check, preview how the model tokenizes it."""
from __future__ import annotations

import html
from dataclasses import asdict
from pathlib import Path

import gradio as gr

from backend import tasks
from backend.access.services import Services, sample_files
from backend.models import catalog, hub
from backend.schemas import DataSpec, StudioError
from backend.tasks import loading
from ui import charts
from ui.session import viewer_of
from ui.task_views import SAMPLE_VIEWS, STAT_ROWS, sample_titles, views_of

NONE = "(none)"
AUTO = "auto"
SAMPLE_TITLES = sample_titles()  # file in sample_data/ -> button text; files not listed get their file name
HIDDEN = gr.update(value=None, visible=False)
TASK_CHOICES = [("Detect from the columns", AUTO)] + [(title, key) for key, title in tasks.titles().items()]
SEPARATOR_CHOICES = [("Detect", AUTO), ("| (bar)", "|"), (", (comma)", ","), ("; (semicolon)", ";")]


def create_data_tab(app: gr.Blocks, services: Services, data_spec: gr.State, data_stats: gr.State) -> None:
    gr.Markdown("### 1 · Your data\nUpload a training CSV (and a validation CSV if you have one), or try a sample.")
    with gr.Row():
        with gr.Column(scale=3):
            with gr.Row():
                train_file = gr.File(label="Training CSV", file_types=[".csv", ".tsv", ".txt"], type="filepath",
                                     elem_id="train-csv")
                eval_file = gr.File(label="Validation CSV (optional)", file_types=[".csv", ".tsv", ".txt"], type="filepath",
                                    elem_id="eval-csv")
            with gr.Row():
                sample_buttons = [(gr.Button(SAMPLE_TITLES.get(name, name), size="sm"), path)
                                  for name, path in sample_files().items()]
        with gr.Column(scale=2):
            # The pickers are named by the checked kind's Views.roles; those of roles it lacks stay hidden.
            roles = views_of(None).roles
            text_column = gr.Dropdown(label=roles["text_column"], choices=[], interactive=True)
            pair_column = gr.Dropdown(label=roles["text_pair_column"], choices=[NONE], value=NONE, interactive=True)
            label_column = gr.Dropdown(label=roles["label_column"], choices=[], interactive=True,
                                       elem_id="label-column")
            answer_start = gr.Dropdown(choices=[], interactive=True, visible=False, elem_id="answer-start-column")
            separator = gr.Dropdown(choices=SEPARATOR_CHOICES, value=AUTO, interactive=True, visible=False,
                                    elem_id="label-separator")
            label_columns = gr.Dropdown(choices=[], value=[], multiselect=True, interactive=True, visible=False,
                                        elem_id="label-columns")
            task = gr.Dropdown(label="Task", choices=TASK_CHOICES, value=AUTO, interactive=True, elem_id="task")
    status = gr.HTML()
    with gr.Row():
        balance = gr.BarPlot(x="label", y="rows", color="split", title="Rows per class", visible=False, height=260)
        samples = gr.Dataframe(label="First rows", interactive=False, wrap=True, max_height=260, visible=False,
                               max_chars=120, elem_id="first-rows")  # long texts cut; a click shows all of it
    with gr.Accordion("Full report (JSON, as `python -m backend validate` prints it)", open=False):
        report_json = gr.JSON()

    gr.Markdown("### 2 · Tokenization preview\nHow the model splits your texts into word pieces, and how long they get.")
    with gr.Row():
        model = gr.Dropdown(label="Model", choices=model_choices(services), value=default_key("minilm"),
                            interactive=True)
        max_length = gr.Slider(16, 512, value=128, step=8, label="Max length (tokens)",
                               info="Longer texts are cut here. Shorter is faster; the suggestion keeps 95% of rows whole.")
        show_ids = gr.Checkbox(label="Show token ids and attention mask", value=False)
    defaults = gr.Markdown(elem_classes="studio-note")  # said afresh at every page load (below)
    model_note = gr.Markdown(elem_classes="studio-note")
    with gr.Row():
        stats = gr.Dataframe(label="Token lengths", interactive=False, visible=False)
        histogram = gr.LinePlot(x="tokens", y="rows", color="tokenizer", title="Rows by token length", height=260, visible=False,
                                x_title="tokens per row (special tokens included)")
    tokens = gr.HTML()

    columns = [text_column, pair_column, label_column, task, answer_start, separator, label_columns]
    check_outputs = [data_spec, text_column, pair_column, label_column, task, answer_start, separator, label_columns,
                     status, balance, samples, report_json]
    preview_inputs = [data_spec, model, max_length, show_ids]
    preview_outputs = [model_note, stats, histogram, tokens, data_stats]

    def on_preview(spec, model_key, length, show, request: gr.Request):
        try:
            model_key = services.check_model(model_key) if model_key else model_key
        except StudioError as exc:
            return "", HIDDEN, HIDDEN, charts.message_html("error", [str(exc)]), None
        services.keep_place(viewer_of(request, services).name, model=model_key, max_length=int(length))
        return preview(spec, model_key, length, show)

    def checked(owner: str, train, evaluation, chosen: dict | None):
        """The check's outputs; the files and columns it accepted are kept as the person's place (a failed check
        keeps the last good one, a cleared training file forgets it)."""
        outputs = check(services, owner, train, evaluation, chosen)
        if outputs[0] or not train:
            data = outputs[0] and {"train_csv": outputs[0]["train_csv"], "eval_csv": outputs[0]["eval_csv"],
                                   "chosen": chosen}
            services.keep_place(owner, data=data or None)
        return outputs

    def kept_train(owner: str, train):
        """The file in the box, else the one kept from before a reload (the box is empty after one)."""
        return train or (services.place(owner).get("data") or {}).get("train_csv")

    def on_files(train, evaluation, request: gr.Request):
        return checked(viewer_of(request, services).name, train, evaluation, None)

    def on_eval_file(train, evaluation, request: gr.Request):
        owner = viewer_of(request, services).name
        return checked(owner, kept_train(owner, train), evaluation, None)

    def on_columns(train, evaluation, text, pair, label, kind, start, sep, several, request: gr.Request):
        chosen = {"text_column": text, "text_pair_column": "" if pair == NONE else pair,
                  "label_column": label, "task": None if kind == AUTO else kind, "answer_start_column": start or None}
        if sep and sep != AUTO:
            chosen["label_separator"] = sep
        if several:
            chosen |= {"label_columns": list(several), "label_column": None}
        owner = viewer_of(request, services).name
        if not train:  # after a reload: the kept files, validation file included
            evaluation = (services.place(owner).get("data") or {}).get("eval_csv")
        return checked(owner, kept_train(owner, train), evaluation, chosen)

    def on_restore(request: gr.Request):
        """After a reload or a restart: the data this person checked last, its columns and the preview's settings."""
        owner = viewer_of(request, services).name
        place = services.place(owner)
        data = place.get("data")
        if not data:
            return (gr.update(),) * (len(check_outputs) + 2)
        outputs = check(services, owner, data["train_csv"], data.get("eval_csv"), data.get("chosen"))
        kept = [gr.update(value=place[key]) if place.get(key) else gr.update() for key in ("model", "max_length")]
        return (*outputs, *kept)

    for event in (train_file.upload, train_file.clear):
        event(on_files, [train_file, eval_file], check_outputs, api_visibility="private").then(
            on_preview, preview_inputs, preview_outputs, api_visibility="private")
    for event in (eval_file.upload, eval_file.clear):
        event(on_eval_file, [train_file, eval_file], check_outputs, api_visibility="private").then(
            on_preview, preview_inputs, preview_outputs, api_visibility="private")
    for control in columns:
        control.input(on_columns, [train_file, eval_file] + columns, check_outputs, api_visibility="private").then(
            on_preview, preview_inputs, preview_outputs, api_visibility="private")
    app.load(defaults_note, None, defaults, api_visibility="private", show_progress="hidden")
    app.load(on_restore, None, check_outputs + [model, max_length], api_visibility="private").then(
        on_preview, preview_inputs, preview_outputs, api_visibility="private")
    for button, path in sample_buttons:
        button.click(lambda p=str(path): (p, None), None, [train_file, eval_file], api_visibility="private").then(
            on_files, [train_file, eval_file], check_outputs, api_visibility="private").then(
            on_preview, preview_inputs, preview_outputs, api_visibility="private")
    for control in (model, max_length):
        control.input(on_preview, preview_inputs, preview_outputs, api_visibility="private")
    show_ids.input(on_preview, preview_inputs, preview_outputs, api_visibility="private")


def model_choices(services: Services) -> list[tuple[str, str]]:
    """The models offered here, each labelled truthfully with its size and where it comes from."""
    choices = []
    for model in services.models():
        size = f"{model.num_parameters / 1e6:.1f}M" if model.num_parameters else "size unknown"
        note = f" · {model.note}" if model.note and model.role == "bert" and model.family != "BERT" else ""
        choices.append((f"{model.display_name} · {size} · {model.source}{note}", model.key))
    return choices


def defaults_note() -> str:
    """Which MiniLM and which BERT-Base-side model are the defaults here, and why, in two sentences."""
    sentences = []
    for role, label in (("minilm", "MiniLM"), ("bert", "BERT-Base side")):
        try:
            resolution, why = catalog.default_model(role)
        except StudioError as exc:  # nothing of that role installed or reachable: say so, keep serving
            sentences.append(f"**{label}:** {exc}")
            continue
        downloading = hub.download_line(resolution.hub_id) if resolution.hub_id else None
        sentences.append(f"**{label}:** {why}" + (f" {downloading} (a job started it)." if downloading else ""))
    return " ".join(sentences)


def default_key(role: str) -> str | None:
    try:
        resolution, _ = catalog.default_model(role)
    except StudioError:
        return None
    return resolution.key if resolution.available else None


def check(services: Services, owner: str, train: str | None, evaluation: str | None, chosen: dict | None):
    """Validate the files with the chosen (or guessed) columns; every output of the check at once."""
    hidden_pickers = (gr.update(visible=False), gr.update(visible=False), gr.update(visible=False))
    if not train:
        empty = gr.update(choices=[], value=None)
        return (None, empty, gr.update(choices=[NONE], value=NONE), empty, gr.update(value=AUTO), *hidden_pickers,
                charts.message_html("warn", ["Upload a training CSV or pick a sample to begin."]),
                HIDDEN, HIDDEN, None)
    try:
        spec = DataSpec(train_csv=str(services.keep_upload(train, owner)),
                        eval_csv=str(services.keep_upload(evaluation, owner)) if evaluation else None, **(chosen or {}))
        report = loading.validate(spec).to_dict()
    except StudioError as exc:
        return (None, gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.update(),
                charts.message_html("error", [str(exc)]), HIDDEN, HIDDEN, None)
    spec.text_column, spec.text_pair_column = report["text_column"], report["text_pair_column"] or ""
    spec.label_column, spec.task = report["label_column"], report["task"]
    spec.answer_start_column = report.get("answer_start_column")
    spec.label_separator, spec.label_columns = report.get("label_separator"), report.get("label_columns")
    headers, views = report["columns"], views_of(report["task"])
    balance = charts.label_balance_frame(report)
    several = report.get("label_columns") or []  # 0/1 label columns replace the label column and its separator
    return (
        asdict(spec),
        picker(views.roles, "text_column", choices=headers, value=report["text_column"]),
        picker(views.roles, "text_pair_column", choices=[NONE] + headers, value=report["text_pair_column"] or NONE),
        picker(views.roles, "label_column", not several, choices=headers,
               value=None if several else report["label_column"]),
        gr.update(value=report["task"] if chosen and chosen.get("task") else AUTO),
        picker(views.roles, "answer_start_column", choices=headers, value=report.get("answer_start_column")),
        picker(views.roles, "label_separator", not several, value=report.get("label_separator") or AUTO),
        picker(views.roles, "label_columns", choices=headers, value=several),
        files_html(spec) + summary_html(report) + charts.message_html("warn", report["warnings"]),
        gr.update(value=balance, visible=not balance.empty, title=views.balance_title),
        gr.update(value=charts.samples_frame(report), visible=True),
        report,
    )


def picker(roles: dict, role: str, shown: bool = True, **values):
    """A column picker's update: named as the kind calls the role, hidden when the kind has no such role (or when
    `shown` is False)."""
    if role not in roles:
        return gr.update(visible=False, **values)
    return gr.update(label=roles[role], visible=shown, **values)


def files_html(spec: DataSpec) -> str:
    """Which files the check read: kept on the server, so a reload or a restart keeps them."""
    names = Path(spec.train_csv).name + (f" + {Path(spec.eval_csv).name}" if spec.eval_csv else "")
    return (f"<p class='studio-note'>Checked <b>{html.escape(names)}</b> (kept on the server for you: a page reload "
            "keeps it, no need to upload again).</p>")


def summary_html(report: dict) -> str:
    classes = f" · {len(report['labels'])} {views_of(report['task']).label_noun}" if report.get("labels") else ""
    if report.get("label_stats"):
        stats = report["label_stats"]
        classes = f" · labels from {stats['min']:g} to {stats['max']:g} (mean {stats['mean']:.2f})"
    return (
        f"<p><b>{report['rows']:,}</b> training rows · <b>{report['eval_rows']:,}</b> validation rows "
        f"({html.escape(report['split'])}) · task: <b>{html.escape(report['task_name'])}</b>{classes}</p>"
    )


def preview(spec: dict | None, model: str | None, max_length: int, show_ids: bool):
    """Token preview of the checked data for the chosen model and, beside it, the BERT-Base side."""
    if not spec or not model:
        return "", HIDDEN, HIDDEN, "", None
    try:
        result = loading.preview_data(DataSpec(**spec), model, int(max_length))
    except StudioError as exc:
        return "", HIDDEN, HIDDEN, charts.message_html("error", [str(exc)]), None
    views, previews = views_of(spec["task"]), {result["display_name"]: result}
    if result["bert"]:
        previews[result["bert"]["display_name"]] = result["bert"]
    return (
        preview_note(result) + suggestion_note(result["suggested_max_length"], int(max_length)),
        gr.update(value=charts.stats_frame(previews, STAT_ROWS[views.stats]), visible=True),
        gr.update(value=charts.histogram_frame(previews), visible=True),
        charts.message_html("warn", result["warnings"]) + SAMPLE_VIEWS[views.sample](result["samples"], show_ids),
        {"rows": result["rows"], "mean_tokens": result["mean"], "suggested_max_length": result["suggested_max_length"]},
    )


def suggestion_note(suggested: int | None, shown: int) -> str:
    """Says what the max-length slider does with the suggestion: the Train tab follows it, this slider does not."""
    if not suggested:
        return ""
    return (f" **The preview suggests a max length of {suggested} tokens** (95% of rows fit whole); the Train tab "
            "starts from it. "
            f"The slider here does not follow it: it only changes this preview (now {shown}).")


def preview_note(result: dict) -> str:
    note = f"Tokens of **{result['display_name']}** ({result['source']})."
    if result["source"] == "hub":  # only its tokenizer came for the preview
        resolution = catalog.resolve(result["model"])
        note += (f" Its weights come when a job first trains it: "
                 f"{hub.download_line(resolution.hub_id) or resolution.reason[:1].lower() + resolution.reason[1:-1]}.")
    if result["bert"]:
        note += f" Beside it, the BERT-Base side's, **{result['bert']['display_name']}**: {result['bert']['difference']}"
    return note
