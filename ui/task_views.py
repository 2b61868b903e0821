"""The UI's one table of per-kind views: each view name a task kind declares (backend/tasks/base.py `Views`) maps
to what draws it here. The tabs look a kind's views up and call what they find; they never ask which kind it is.
A new kind reuses these views or adds its own rows below."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from backend import tasks
from ui import charts, results_views


def views_of(task: str | None):
    """The views of the kind called `task`; the single-text kind's when there is none yet (nothing checked)."""
    return tasks.get(task).views if task else tasks.KINDS[next(iter(tasks.KINDS))].views


def sample_titles() -> dict[str, str]:
    """The Data tab's sample buttons: file in sample_data/ -> its title, as each kind names its sample (Views.sample_csv)."""
    return dict(kind.views.sample_csv for kind in tasks.KINDS.values() if kind.views.sample_csv)


# ---------------------------------------------------------------- Data tab: the preview (Views.sample, Views.stats)

# Views.sample -> (the preview's sample rows, show ids) -> HTML of the rows as the model reads them.
SAMPLE_VIEWS = {"tokens": charts.tokens_html, "qa_windows": charts.qa_windows_html}
# Views.stats -> the rows of the token statistics table: (key in a preview dict, what a person reads, format).
STAT_ROWS = {"tokens": charts.STAT_ROWS, "qa_windows": charts.QA_STAT_ROWS}


# ---------------------------------------------------------------- Playground: one model's answer (Views.playground)

@dataclass(frozen=True)
class PlaygroundView:
    """How the Playground draws one model's answer ({prediction, text, context, explanation when `explains`}):
    `label` what gr.Label shows, `why` what the gr.HighlightedText under it shows, `describe` the verdict's sentence
    and `same` whether two models' predictions agree (both given the threshold, None but for label sets)."""

    explains: bool
    label: Callable
    why: Callable
    describe: Callable = charts.answer_text
    same: Callable = charts.same_answer


# Views.playground -> its PlaygroundView.
PLAYGROUND_VIEWS = {
    "labels": PlaygroundView(True, charts.label_value, lambda answer: charts.attribution_pairs(answer["explanation"])),
    "qa_answer": PlaygroundView(False, charts.label_value,
                                lambda answer: charts.answer_spans(answer["context"] or "", answer["prediction"])),
}


# ---------------------------------------------------------------- Train tab: the columns a job reads

def _texts_and_label(spec: dict, code) -> str:
    pair = f" + {code(spec['text_pair_column'])}" if spec.get("text_pair_column") else ""
    labels = ", ".join(map(str, spec.get("label_columns") or [])) or spec["label_column"]
    return f"text {code(spec['text_column'])}{pair} · label {code(labels)}"


def _question_context_answer(spec: dict, code) -> str:
    return (f"question {code(spec['text_column'])} · context {code(spec['text_pair_column'])} · answer "
            f"{code(spec['label_column'])} at {code(spec.get('answer_start_column'))}")


# Views.columns_note -> (data spec as a dict, code(value) -> HTML) -> the columns in one line.
COLUMNS_NOTES = {"texts_and_label": _texts_and_label, "question_context_answer": _question_context_answer}


# ---------------------------------------------------------------- Results tab: the error report (Views.report)

# Views.report -> (error report) -> the tab's six outputs (ui/results_views.py).
REPORT_VIEWS = {"classification": results_views.classification_view, "values": results_views.regression_view,
                "qa": results_views.qa_view, "multi_label": results_views.multi_label_view}
