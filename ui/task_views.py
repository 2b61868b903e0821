"""The UI's one table of per-kind views: each view name a task kind declares (backend/tasks/base.py `Views`) maps
to what draws it here. The tabs look a kind's views up and call what they find; they never ask which kind it is.
A new kind reuses these views or adds its own rows below."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import html

import gradio as gr
import pandas as pd

from backend import tasks
from ui import charts, results_views


def views_of(task: str | None):
    """The views of the kind called `task`; the single-text kind's when there is none yet (nothing checked)."""
    return tasks.get(task).views if task else tasks.KINDS[next(iter(tasks.KINDS))].views


def sample_titles() -> dict[str, str]:
    """The Data tab's sample buttons: file in sample_data/ -> its title, as each kind names its sample (Views.sample_csv)."""
    return dict(kind.views.sample_csv for kind in tasks.KINDS.values() if kind.views.sample_csv)


# ---------------------------------------------------------------- Data tab: the preview (Views.sample, Views.stats)

DASHED = " style='border-style:dashed'"  # a word's pieces after its first


def _word_pieces_html(samples: list[dict], show_ids: bool) -> str:
    """Token classification: each sentence's words with their tags over them and their word pieces under them; the
    first piece (where the tag is learnt) solid, the others dashed."""
    blocks = []
    for sample in samples:
        words = []
        for word in sample["words"]:
            pieces = "".join(f"<span class='tok {piece['kind']}'{'' if i == 0 else DASHED}>"
                             f"{html.escape(piece['token'])}</span>" for i, piece in enumerate(word["pieces"]))
            words.append(f"<span style='display:inline-block;margin:2px 6px;text-align:center'>"
                         f"<b>{html.escape(word['tag'])}</b><br>{html.escape(word['word'])}<br>{pieces}</span>")
        head = f"row {sample['row'] + 1} · {sample['length']} tokens in {sample['windows']} window" + (
            "s" if sample["windows"] != 1 else "")
        blocks.append(f"<div class='token-row'><span class='row-label'>{head}</span><br>{''.join(words)}</div>")
    legend = ("<div class='row-label'>Legend: tag, word, then its word pieces: the tag is learnt on the "
              "<span class='tok'>first piece</span>, the <span class='tok' style='border-style:dashed'>others"
              "</span> are left out of the loss</div>")
    return legend + "".join(blocks)


WORD_PIECE_STATS = (
    ("mean", "Mean length, a sentence in word pieces", "{:.1f}"),
    ("p95", "95th percentile (p95)", "{:.0f}"),
    ("max", "Longest sentence", "{:.0f}"),
    ("windows.mean", "Windows per sentence (mean)", "{:.2f}"),
    ("windows.max", "Windows per sentence (most)", "{:.0f}"),
    ("truncated_share", "Sentences read in several windows", "{:.1%}"),
    ("unk_rate", "Unknown-token rate ([UNK])", "{:.2%}"),
    ("suggested_max_length", "Suggested max length", "{:.0f}"),
)

# Views.sample -> (the preview's sample rows, show ids) -> HTML of the rows as the model reads them.
SAMPLE_VIEWS = {"tokens": charts.tokens_html, "qa_windows": charts.qa_windows_html, "word_pieces": _word_pieces_html}
# Views.stats -> the rows of the token statistics table: (key in a preview dict, what a person reads, format).
STAT_ROWS = {"tokens": charts.STAT_ROWS, "qa_windows": charts.QA_STAT_ROWS, "word_pieces": WORD_PIECE_STATS}


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
    "entities": PlaygroundView(False, lambda prediction: _entity_scores(prediction), lambda answer: _entity_spans(answer),
                               lambda prediction, threshold: _entity_sentence(prediction),
                               lambda first, second, threshold: _entity_keys(first) == _entity_keys(second)),
}


def _entity_scores(prediction: dict) -> dict:
    """gr.Label: each entity with its type and confidence."""
    return {f"{e['text']} · {e['type']}": e["score"] for e in prediction["entities"]} or {"no entity": 1.0}


def _entity_spans(answer: dict) -> list[tuple[str, str | None]]:
    """gr.HighlightedText: the text with each entity marked by its type and confidence."""
    text, parts, at = answer["text"], [], 0
    for entity in answer["prediction"]["entities"]:
        parts += [(text[at:entity["start"]], None), (text[entity["start"]:entity["end"]],
                                                      f"{entity['type']} {entity['score']:.0%}")]
        at = entity["end"]
    return [part for part in parts + [(text[at:], None)] if part[0]]


def _entity_sentence(prediction: dict) -> str:
    found = prediction["entities"]
    return ", ".join(f"{e['text']} ({e['type']}, {e['score']:.0%})" for e in found) or "no entity"


def _entity_keys(prediction: dict) -> list[tuple]:
    return [(e["start"], e["end"], e["type"]) for e in prediction["entities"]]


# ---------------------------------------------------------------- Train tab: the columns a job reads

def _texts_and_label(spec: dict, code) -> str:
    pair = f" + {code(spec['text_pair_column'])}" if spec.get("text_pair_column") else ""
    labels = ", ".join(map(str, spec.get("label_columns") or [])) or spec["label_column"]
    return f"text {code(spec['text_column'])}{pair} · label {code(labels)}"


def _question_context_answer(spec: dict, code) -> str:
    return (f"question {code(spec['text_column'])} · context {code(spec['text_pair_column'])} · answer "
            f"{code(spec['label_column'])} at {code(spec.get('answer_start_column'))}")


# Views.columns_note -> (data spec as a dict, code(value) -> HTML) -> the columns in one line.
def _tokens_and_tags(spec: dict, code) -> str:
    return f"tokens {code(spec['text_column'])} · tags {code(spec['label_column'])}"


COLUMNS_NOTES = {"texts_and_label": _texts_and_label, "question_context_answer": _question_context_answer,
                 "tokens_and_tags": _tokens_and_tags}


# ---------------------------------------------------------------- Results tab: the error report (Views.report)

# Views.report -> (error report) -> the tab's six outputs (ui/results_views.py).
def _entities_view(report: dict):
    """Token classification: the tag confusion matrix, per-type scores, and the missed and spurious entities."""
    outcomes = report["outcomes"]
    summary = (f"<p class='studio-note'><b>{report['rows']:,}</b> validation sentences · entity F1 "
               f"<b>{report['f1']:.3f}</b> · precision {report['precision']:.3f} · recall {report['recall']:.3f} · "
               f"token accuracy {report['token_accuracy']:.3f} · {outcomes['found']:,} entities found, "
               f"{outcomes['missed']:,} missed ({outcomes['not_found']:,} not found, {outcomes['wrong_type']:,} "
               f"wrong type, {outcomes['wrong_boundary']:,} wrong boundary), {outcomes['spurious']:,} spurious</p>")
    per_type = pd.DataFrame([{"type": name} | values for name, values in report["per_type"].items()],
                            columns=["type", "precision", "recall", "f1", "support"])
    labels = report["confusion"]["labels"]
    confusion = pd.DataFrame(report["confusion"]["matrix"], index=labels, columns=labels).rename_axis("tag")
    mistakes = pd.DataFrame(
        [{"mistake": f"missed ({e['miss'].replace('_', ' ')})", "entity": e["text"], "type": e["type"],
          "tags": e["predicted"], "sentence": e["sentence"]} for e in report["missed"]]
        + [{"mistake": f"spurious ({e['score']:.0%} sure)", "entity": e["text"], "type": e["type"], "tags": e["gold"],
            "sentence": e["sentence"]} for e in report["spurious"]],
        columns=["mistake", "entity", "type", "tags", "sentence"])
    return (summary, gr.update(value=confusion.reset_index(), visible=True,
                               label="Tag confusion matrix, in words (rows: true tag, columns: predicted)"),
            gr.update(value=per_type, visible=True, label="Per entity type (seqeval, strict IOB2; micro: all types)"),
            gr.update(value=None, visible=False), gr.update(visible=False),
            gr.update(value=mistakes, visible=True, label="Missed entities (tags: what the model said) and spurious "
                                                          "ones (tags: the true tags)"))


REPORT_VIEWS = {"classification": results_views.classification_view, "values": results_views.regression_view,
                "qa": results_views.qa_view, "multi_label": results_views.multi_label_view,
                "entities": _entities_view}
