"""A finished run's error report (backend.serving.analysis) -> what the Results tab draws: summaries, tables and
plots, one set per report view a task kind names (backend/tasks/base.py `Views.report`)."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from ui.charts import plot_data


def classification_summary_html(report: dict) -> str:
    return (f"<p class='studio-note'><b>{report['rows']:,}</b> validation rows · accuracy "
            f"<b>{report['accuracy']:.3f}</b> · macro-F1 <b>{report['macro_f1']:.3f}</b> · "
            f"{report['misclassified_count']:,} mistakes</p>")


def regression_summary_html(report: dict) -> str:
    return (f"<p class='studio-note'><b>{report['rows']:,}</b> validation rows · mean absolute error "
            f"<b>{report['mae']:.3f}</b> · RMSE <b>{report['rmse']:.3f}</b></p>")


def confusion_frame(report: dict) -> pd.DataFrame:
    labels = report["labels"]
    frame = pd.DataFrame(report["confusion_matrix"], columns=labels)
    frame.insert(0, "true \\ predicted", labels)
    return frame


def per_class_frame(report: dict, key: str = "per_class") -> pd.DataFrame:
    return pd.DataFrame(report[key], columns=["label", "precision", "recall", "f1", "support"])


def multi_label_summary_html(report: dict) -> str:
    cardinality = report["label_cardinality"]
    return (f"<p class='studio-note'><b>{report['rows']:,}</b> validation rows · micro-F1 <b>{report['micro_f1']:.3f}"
            f"</b> · macro-F1 <b>{report['macro_f1']:.3f}</b> · subset accuracy <b>{report['subset_accuracy']:.3f}</b>"
            f" · labels per row: {cardinality['gold']:.2f} true, {cardinality['predicted']:.2f} predicted · "
            f"{report['misclassified_count']:,} rows with a wrong label set</p>")


def label_set_mistakes_frame(report: dict) -> pd.DataFrame:
    def joined(labels) -> str:
        return ", ".join(labels) or "(none)"
    rows = [{"text": m["text"], "text_pair": m.get("text_pair"), "true labels": joined(m["gold"]),
             "predicted": joined(m["predicted"]), "missed": joined(m["missing"]), "extra": joined(m["extra"])}
            for m in report["misclassified"]]
    # The label sets first: the texts are long and would push them out of sight.
    frame = pd.DataFrame(rows, columns=["true labels", "predicted", "missed", "extra", "text", "text_pair"])
    return frame.drop(columns="text_pair") if frame["text_pair"].isna().all() else frame


def confidence_frame(report: dict) -> pd.DataFrame:
    rows = []
    for bin_ in report["confidence_histogram"]:
        name = f"{bin_['low']:.1f}–{bin_['high']:.1f}"
        rows += [{"confidence": name, "rows": bin_["correct"], "outcome": "right"},
                 {"confidence": name, "rows": bin_["wrong"], "outcome": "wrong"}]
    return plot_data(pd.DataFrame(rows, columns=["confidence", "rows", "outcome"]))


def mistakes_frame(report: dict) -> pd.DataFrame:
    # The answers first: the texts are long and would push gold, predicted and confidence out of sight.
    columns = ["gold", "predicted", "confidence", "text", "text_pair"]
    frame = pd.DataFrame(report["misclassified"], columns=columns + ["gold_probability"])[columns]
    return frame.drop(columns="text_pair") if frame["text_pair"].isna().all() else frame


def points_frame(report: dict) -> pd.DataFrame:
    return plot_data(pd.DataFrame(report["points"], columns=["gold", "predicted"]))


def worst_frame(report: dict) -> pd.DataFrame:
    columns = ["gold", "predicted", "error", "text", "text_pair"]
    frame = pd.DataFrame(report["worst"], columns=columns)
    return frame.drop(columns="text_pair") if frame["text_pair"].isna().all() else frame


def qa_summary_html(report: dict) -> str:
    return (f"<p class='studio-note'><b>{report['rows']:,}</b> validation questions · exact match "
            f"<b>{report['exact']:.3f}</b> · F1 <b>{report['f1']:.3f}</b> · {report['outcomes']['right']:,} right "
            f"({report['has_ans_total']:,} answerable, {report['no_ans_total']:,} unanswerable)</p>")


def qa_breakdown_frame(report: dict) -> pd.DataFrame:
    rows = [("all questions", "", report["total"]), ("answerable", "has_ans_", report["has_ans_total"]),
            ("unanswerable", "no_ans_", report["no_ans_total"])]
    return pd.DataFrame([{"questions": name, "count": count, "exact match": f"{report[prefix + 'exact']:.3f}",
                          "F1": f"{report[prefix + 'f1']:.3f}"} for name, prefix, count in rows])


QA_OUTCOMES = {"right": "right (exact match)", "wrong_answer": "answered, but not exactly the answer",
               "missed_answer": "said no answer to an answerable question",
               "answered_unanswerable": "answered a question the context does not answer"}


def qa_outcomes_frame(report: dict) -> pd.DataFrame:
    return pd.DataFrame([{"outcome": QA_OUTCOMES[key], "questions": count}
                         for key, count in report["outcomes"].items()])


def qa_mistakes_frame(report: dict) -> pd.DataFrame:
    """The three kinds of QA mistakes in one table, each kind's worst first."""
    rows = [{"mistake": "wrong answer", "question": e["question"], "true answer": e["gold"],
             "model's answer": e["predicted"], "score": e["score"]} for e in report["wrong_answers"]]
    rows += [{"mistake": "missed answer", "question": e["question"], "true answer": e["gold"],
              "model's answer": f"(no answer; best span: {e['best_span']})", "score": e["no_answer_score"]}
             for e in report["missed_answers"]]
    rows += [{"mistake": "answered the unanswerable", "question": e["question"], "true answer": "(no answer)",
              "model's answer": e["predicted"], "score": e["score"]} for e in report["answered_unanswerable"]]
    return pd.DataFrame(rows, columns=["mistake", "question", "true answer", "model's answer", "score"])


# ---------------------------------------------------------------- each report as the Results tab's outputs
# The six outputs: summary, first table, second table, histogram, scatter, examples (ui/task_views.REPORT_VIEWS).


def classification_view(report: dict):
    return (classification_summary_html(report),
            gr.update(value=confusion_frame(report), visible=True,
                      label="Confusion matrix (rows: true label, columns: predicted)"),
            gr.update(value=per_class_frame(report), visible=True, label="Per class"),
            gr.update(value=confidence_frame(report), visible=True), gr.update(visible=False),
            gr.update(value=mistakes_frame(report), label="Mistakes, most confident first", visible=True))


def regression_view(report: dict):
    return (regression_summary_html(report), gr.update(value=None, visible=False),
            gr.update(value=None, visible=False), gr.update(value=None, visible=False),
            gr.update(value=points_frame(report), visible=True),
            gr.update(value=worst_frame(report), label="Largest errors first", visible=True))


def qa_view(report: dict):
    return (qa_summary_html(report),
            gr.update(value=qa_breakdown_frame(report), visible=True,
                      label="Exact match and F1, answerable and unanswerable questions"),
            gr.update(value=qa_outcomes_frame(report), visible=True, label="What the model did"),
            gr.update(value=None, visible=False), gr.update(visible=False),
            gr.update(value=qa_mistakes_frame(report), visible=True,
                      label="Mistakes: wrong answers, missed answers, answers to unanswerable questions"))


def multi_label_view(report: dict):
    return (multi_label_summary_html(report),
            gr.update(value=per_class_frame(report, "per_label"), visible=True,
                      label=f"Per label at threshold {report['threshold']:.2f}"),
            gr.update(value=None, visible=False), gr.update(value=None, visible=False), gr.update(visible=False),
            gr.update(value=label_set_mistakes_frame(report), label="Wrong label sets, furthest first",
                      visible=True))

