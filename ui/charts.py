"""Backend records -> what Gradio components draw: DataFrames for plots and tables, escaped HTML for tokens."""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from backend.training import runs

QA_STAT_ROWS = (  # extractive QA: lengths of whole (question, context) pairs, then how they split into windows
    ("mean", "Mean length, question + context (tokens)", "{:.1f}"),
    ("p95", "95th percentile (p95)", "{:.0f}"),
    ("max", "Longest question + context", "{:.0f}"),
    ("windows.mean", "Windows per question (mean)", "{:.2f}"),
    ("windows.max", "Windows per question (most)", "{:.0f}"),
    ("truncated_share", "Questions needing several windows", "{:.1%}"),
    ("answers_in_window_share", "Answers whole inside a window", "{:.1%}"),
    ("doc_stride", "Tokens shared by neighbouring windows", "{:.0f}"),
    ("suggested_max_length", "Suggested max length", "{:.0f}"),
)
STAT_ROWS = (  # (key in a preview dict, what a person reads, how to show it)
    ("mean", "Mean length (tokens)", "{:.1f}"),
    ("p50", "Median length (p50)", "{:.0f}"),
    ("p95", "95th percentile (p95)", "{:.0f}"),
    ("max", "Longest row", "{:.0f}"),
    ("truncated_share", "Rows cut at max length", "{:.1%}"),
    ("unk_rate", "Unknown-token rate ([UNK])", "{:.2%}"),
    ("suggested_max_length", "Suggested max length", "{:.0f}"),
)


def plot_data(frame: pd.DataFrame) -> pd.DataFrame | None:
    """None instead of an empty frame: a Gradio plot first given an empty frame never draws later data."""
    return None if frame.empty else frame


def label_balance_frame(report: dict) -> pd.DataFrame:
    """Rows per class and split, for a grouped bar chart; regression gets a value histogram instead."""
    rows = [{"label": label, "split": "train", "rows": count} for label, count in report["label_counts"].items()]
    rows += [{"label": label, "split": "validation", "rows": count}
             for label, count in report.get("eval_label_counts", {}).items()]
    return pd.DataFrame(rows, columns=["label", "split", "rows"])


def samples_frame(report: dict) -> pd.DataFrame:
    """The first rows, label columns first: texts are long and would push the label out of sight."""
    frame = pd.DataFrame(report.get("samples") or [])
    labels = [report.get("label_column"), *(report.get("label_columns") or [])]
    first = [column for column in frame.columns if column in labels]
    return frame[first + [column for column in frame.columns if column not in first]]


def stats_frame(previews: dict[str, dict], rows) -> pd.DataFrame:
    """One row per statistic of `rows` (STAT_ROWS, or a kind's own: ui/task_views.STAT_ROWS), one column per
    tokenizer."""
    table = {"": [label for _, label, _ in rows]}
    for name, preview in previews.items():
        table[name] = [_stat(preview, key, fmt) for key, _, fmt in rows]
    return pd.DataFrame(table)


def _stat(preview: dict, path: str, fmt: str) -> str:
    value = preview
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return fmt.format(value) if isinstance(value, (int, float)) else "–"


def histogram_frame(previews: dict[str, dict]) -> pd.DataFrame:
    """Token-length histograms as one line per tokenizer (bin centres), so two tokenizers overlay readably."""
    same: dict[tuple, list[str]] = {}  # identical histograms (tokenizers that split alike) share one line: two
    for name, preview in previews.items():  # lines on top of each other would look like one, the other hidden
        histogram = preview["histogram"]
        same.setdefault((tuple(histogram["edges"]), tuple(histogram["counts"])), []).append(name)
    rows = []
    for (edges, counts), names in same.items():
        name = names[0] if len(names) == 1 else " = ".join(names) + " (same lengths)"
        for low, high, count in zip(edges, edges[1:], counts):
            rows.append({"tokens": (low + high - 1) / 2, "rows": int(count), "tokenizer": name})
    return plot_data(pd.DataFrame(rows, columns=["tokens", "rows", "tokenizer"]))


def tokens_html(samples: list[dict], show_ids: bool) -> str:
    """Sample rows as token chips: special tokens and [UNK] marked; ids, mask and segment under each on demand."""
    blocks = []
    for sample in samples:
        chips = []
        segments = sample.get("token_type_ids") or [None] * len(sample["tokens"])
        for token, mask, segment in zip(sample["tokens"], sample["attention_mask"], segments):
            meta = ""
            if show_ids:
                parts = [f"id {token['id']}", f"mask {mask}"] + ([f"seg {segment}"] if segment is not None else [])
                meta = f"<span class='meta'>{' · '.join(parts)}</span>"
            chips.append(f"<span class='tok {token['kind']}' title='id {token['id']}'>{html.escape(token['token'])}{meta}</span>")
        cut = f" · <b>cut</b>: {sample['length']} tokens before truncation" if sample.get("truncated") else ""
        label = f"row {sample['row'] + 1} · {len(sample['tokens'])} tokens{cut}"
        blocks.append(f"<div class='token-row'><span class='row-label'>{label}</span><br>{''.join(chips)}</div>")
    legend = ("<div class='row-label'>Legend: <span class='tok'>word piece</span>"
              "<span class='tok special'>special token</span><span class='tok unk'>[UNK] unknown</span></div>")
    return legend + "".join(blocks)


def _chips(tokens: list[dict], mask: list[int], segments: list | None, show_ids: bool, overlap: int = 0) -> str:
    """Token chips; the first `overlap` context tokens (repeated from the previous window) get a dashed border."""
    chips, seen_context = [], 0
    for token, flag, segment in zip(tokens, mask, segments or [None] * len(tokens)):
        meta = ""
        if show_ids:
            parts = [f"id {token['id']}", f"mask {flag}"] + ([f"seg {segment}"] if segment is not None else [])
            meta = f"<span class='meta'>{' · '.join(parts)}</span>"
        kind = token["kind"]
        if kind in ("context", "answer"):
            seen_context += 1
            kind += " overlap" if seen_context <= overlap else ""
        chips.append(f"<span class='tok {kind}' title='id {token['id']}'>{html.escape(token['token'])}{meta}</span>")
    return "".join(chips)


def qa_windows_html(samples: list[dict], show_ids: bool) -> str:
    """Questions as the QA model reads them: each window of the context with the question repeated, the answer's
    tokens marked, and the tokens a window shares with the one before it (the stride) dashed."""
    blocks = []
    for sample in samples:
        answer = (f"answer <b>{html.escape(sample['answer_text'])}</b> at character {sample['answer_start']}"
                  if sample["answer_text"] else "<b>no answer</b> in the context")
        windows = sample["windows"]
        head = (f"row {sample['row'] + 1} · {html.escape(sample['question'])} · {answer} · {sample['length']} tokens "
                f"in {len(windows)} window{'s' if len(windows) != 1 else ''}")
        parts = []
        for window in windows:
            where = (f"answer tokens {window['answer_tokens'][0]}–{window['answer_tokens'][1]}"
                     if window.get("answer_tokens") else "answer: [CLS] (not in this window)")
            shared = f" · {window['overlap_tokens']} tokens shared with window {window['window']}" \
                if window["overlap_tokens"] else ""
            chars = window["context_chars"]
            parts.append(f"<div class='row-label'>window {window['window'] + 1}: context characters {chars[0]}–"
                         f"{chars[1]}{shared} · {where}</div>"
                         + _chips(window["tokens"], window["attention_mask"], window.get("token_type_ids"), show_ids,
                                  window["overlap_tokens"]))
        blocks.append(f"<div class='token-row'><span class='row-label'>{head}</span>{''.join(parts)}</div>")
    legend = ("<div class='row-label'>Legend: <span class='tok question'>question</span>"
              "<span class='tok'>context</span><span class='tok answer'>answer</span>"
              "<span class='tok overlap'>shared with the previous window</span>"
              "<span class='tok special'>special token</span><span class='tok unk'>[UNK] unknown</span></div>")
    return legend + "".join(blocks)


def message_html(kind: str, lines: list[str]) -> str:
    """An error or warning box; every line escaped (it may quote the user's file)."""
    if not lines:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f"<div class='studio-{kind}'><ul style='margin:0'>{items}</ul></div>"


# ---------------------------------------------------------------- training

STATE_COLORS = {"queued": "#6b7280", "running": "#2563eb", "completed": "#15803d", "failed": "#b91c1c",
                "cancelled": "#92400e", "interrupted": "#b45309", "diverged": "#7c3aed"}
METRIC_NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "f1": "F1", "mcc": "MCC", "pearson": "Pearson",
                "spearman": "Spearman", "mse": "MSE", "loss": "loss", "micro_f1": "micro-F1",
                "subset_accuracy": "subset accuracy", "exact": "exact match", "has_ans_f1": "F1 (has answer)",
                "no_ans_f1": "F1 (no answer)"}


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def jobs_frame(statuses: list[dict], with_owner: bool = False) -> pd.DataFrame:
    """The person's jobs (a teacher's: everyone's, with the owner), newest first: the row to click, and what each
    is doing."""
    rows = []
    for status in statuses:
        progress = status["progress"]
        done = f"{progress['fraction']:.0%}" if progress["total_steps"] else "–"
        if status["state"] == "queued" and status.get("queue_position"):
            done = f"#{status['queue_position']} in queue"
        rows.append({"job": status["job_id"], "owner": status["owner"], "name": status["name"],
                     "state": status["state"], "progress": done, "elapsed": duration(progress["elapsed_s"])})
    columns = ["job", "owner"] if with_owner else ["job"]
    return pd.DataFrame(rows, columns=columns + ["name", "state", "progress", "elapsed"])


def progress_html(status: dict | None) -> str:
    if not status:
        return "<p class='studio-note'>No job selected: start one, or click a job in the list.</p>"
    progress, state = status["progress"], status["state"]
    color = STATE_COLORS.get(state, "#374151")
    facts = [f"step {progress['step']:,} of {progress['total_steps']:,}" if progress["total_steps"] else None,
             f"epoch {progress['epoch']:.2f}" if progress.get("epoch") is not None else None,
             f"{duration(progress['elapsed_s'])} elapsed",
             f"about {duration(progress['remaining_s'])} left" if progress.get("remaining_s") is not None else None,
             speed_text(progress),
             f"loss {progress['loss']:.4f}" if progress.get("loss") is not None else None]
    if state == "queued" and status.get("queue_position"):
        facts.insert(0, f"waiting: position {status['queue_position']} in the queue")
    if status.get("download"):  # the model's first use: its files come from the hub before step 1
        facts.insert(0, status["download"])
    evaluation = ", ".join(f"{METRIC_NAMES[k[5:]]} {v:.3f}" for k, v in progress["eval"].items()
                           if k[5:] in METRIC_NAMES and isinstance(v, (int, float)))
    at_step = f" (step {progress['eval_step']:,})" if progress.get("eval_step") is not None else ""
    bar = (f"<div style='background:#e5e7eb;border-radius:6px;height:14px;margin:6px 0'>"
           f"<div style='width:{progress['fraction'] * 100:.1f}%;background:{color};height:14px;border-radius:6px'>"
           "</div></div>")
    reason = f"<div class='studio-warn'>{html.escape(status['error'])}</div>" if status.get("error") else ""
    return (f"<div><b>{html.escape(status['name'])}</b> · job {html.escape(status['job_id'])} · "
            f"<span style='color:{color};font-weight:600'>{state}</span></div>{bar}"
            f"<div class='studio-note'>{' · '.join(f for f in facts if f)}</div>"
            + (f"<div class='studio-note'>latest evaluation{at_step}: {evaluation}</div>" if evaluation else "")
            + reason)


def speed_text(progress: dict) -> str | None:
    """The training speed: the run's average so far, evaluations excluded; the same figure the summary gives at the
    end (runs from before the average was logged show their latest stretch, and say so)."""
    if progress.get("average_samples_per_second"):
        return f"training speed {progress['average_samples_per_second']:.0f} samples/s (average, evaluations excluded)"
    if progress.get("samples_per_second"):
        return f"training speed {progress['samples_per_second']:.0f} samples/s (latest stretch, evaluations excluded)"
    return None


def curves_frame(metrics: list[dict], keys: list[str]) -> pd.DataFrame | None:
    """Long-form (step, value, series) rows for the keys present in the metric lines."""
    rows = [(line["step"], float(line[key]), METRIC_NAMES.get(key.removeprefix("eval_"), key))
            for line in metrics for key in keys if line.get(key) is not None and "step" in line]
    return plot_data(single_points_drawn(pd.DataFrame(rows, columns=["step", "value", "series"]), "series"))


def single_points_drawn(frame: pd.DataFrame, series: str) -> pd.DataFrame:
    """A line chart draws nothing for a series of one point (one evaluation so far): such a point becomes a short
    level dash centred on its step."""
    if frame.empty:
        return frame
    counts = frame[series].map(frame[series].value_counts())
    lone = frame[counts == 1]
    if lone.empty:
        return frame
    half = max(0.5, float(frame["step"].max()) * 0.015)
    dashes = [lone.assign(step=lone["step"] - half), lone.assign(step=lone["step"] + half)]
    return pd.concat([frame[counts > 1], *dashes]).sort_values("step", kind="stable").reset_index(drop=True)


def step_range(frame: pd.DataFrame | None) -> list[float] | None:
    """The x range of a curve: from step 0 to its last step, so one evaluation is drawn at its place in the run."""
    return None if frame is None else [0, float(frame["step"].max()) * 1.03 + 1]


def eval_keys(metrics: list[dict]) -> list[str]:
    """The validation scores present (accuracy, F1, ...), not the loss or timings."""
    keys = []
    for line in metrics:
        keys += [key for key in line if key.startswith("eval_") and key[5:] in METRIC_NAMES
                 and key not in ("eval_loss", "eval_mse") and key not in keys]
    return keys


def results_html(status: dict) -> str:
    results = status.get("results")
    if not results:
        return ""
    metrics = " · ".join(f"<b>{METRIC_NAMES.get(k, k)}</b> {v:.3f}" for k, v in results["metrics"].items()
                         if isinstance(v, (int, float)) and k != "loss")
    return (f"<div class='studio-note'><p>Best checkpoint (step {results.get('best_step')}), the model kept: "
            f"{metrics}. This is its evaluation during training; the Results tab measures the kept model again.</p>"
            f"<p>{results['num_parameters'] / 1e6:.1f}M parameters · trained {duration(results['train_runtime_s'])} "
            f"(evaluations excluded) at a training speed of {results['train_samples_per_second']:.0f} samples/s on "
            f"{html.escape(str(results.get('device')))} "
            f"({html.escape(str(results.get('precision')))}) · model folder: "
            f"<code>{html.escape(status['run_dir'])}/model</code></p></div>")


# ---------------------------------------------------------------- playground


def run_label(record) -> str:
    """e.g. "all-MiniLM-L6-v2 · reviews.csv · macro-F1 0.912 · 20261124-1500-ab12"."""
    results = runs.read_results(Path(record.run_dir)) or {}
    main = results.get("main_metric")
    score = results.get("metrics", {}).get(main)
    scored = f" · {METRIC_NAMES.get(main, main)} {score:.3f}" if isinstance(score, (int, float)) else ""
    return f"{record.spec.name or record.spec.model}{scored} · {record.job_id}"


NO_ANSWER = "(no answer)"


def label_value(prediction: dict, threshold: float | None = None):
    """What gr.Label draws: class probabilities (per label for multi-label), the value of a regression, or for
    extractive QA the answer and its alternatives with their probabilities, beside "(no answer)"."""
    if "value" in prediction:
        return f"{prediction['value']:.3f}"
    if "answer" in prediction:
        shown = {NO_ANSWER: prediction["no_answer_score"]}
        for candidate in [prediction] + prediction.get("candidates", []):
            if candidate.get("answer"):
                shown.setdefault(candidate["answer"], candidate["score"])
        return shown
    return prediction["scores"]


def chosen_labels(prediction: dict, threshold: float | None) -> list[str]:
    """Multi-label: the labels whose probability reaches the threshold (the model's own when None)."""
    if threshold is None:
        return prediction["labels"]
    return [label for label, p in prediction["scores"].items() if p >= threshold]


def attribution_pairs(explanation: dict) -> list[tuple[str, float]]:
    """Words with signed scores in [-1, 1], as gr.HighlightedText colours them."""
    return [(word["word"] + " ", float(word["score"])) for word in explanation["words"]]


def answer_spans(context: str, prediction: dict) -> list[tuple[str, float | None]]:
    """The context with the answer marked (score 1: the strongest colour), as gr.HighlightedText shows it."""
    if prediction.get("no_answer") or prediction.get("start") is None:
        return [(context, None)]
    start, end = prediction["start"], prediction["end"]
    parts = [(context[:start], None), (context[start:end], 1.0), (context[end:], None)]
    return [part for part in parts if part[0]]


def answer_text(prediction: dict, threshold: float | None = None) -> str:
    if "value" in prediction:
        return f"{prediction['value']:.3f}"
    if "answer" in prediction:
        if prediction["no_answer"]:
            return f"no answer: the model abstains ({prediction['no_answer_score']:.0%} sure)"
        return f"“{prediction['answer']}” ({prediction['score']:.0%})"
    if "labels" in prediction:
        labels = chosen_labels(prediction, threshold)
        cut = threshold if threshold is not None else prediction.get("threshold", 0.5)
        named = ", ".join(f"{label} ({prediction['scores'][label]:.0%})" for label in labels) or "no label"
        return f"{named} at threshold {cut:.2f}"
    return f"{prediction['label']} ({prediction['scores'][prediction['label']]:.0%})"


def same_answer(first: dict, second: dict, threshold: float | None) -> bool:
    if "value" in first:
        return abs(first["value"] - second["value"]) < 0.5
    if "answer" in first:
        return first["answer"].strip().lower() == second["answer"].strip().lower()
    if "labels" in first:
        return chosen_labels(first, threshold) == chosen_labels(second, threshold)
    return first["label"] == second["label"]


def verdict_html(answers: list[dict], threshold: float | None = None, describe=None, same=None) -> str:
    """Each model's answer and latency; with two models, whether they agree, in a box that stands out if not.
    `describe(prediction, threshold)` and `same(first, second, threshold)`: a kind's own (ui/task_views.py)."""
    describe, same = describe or answer_text, same or same_answer
    lines = [f"<b>{html.escape(a['name'])}</b>: {html.escape(describe(a['prediction'], threshold))} in "
             f"{a['prediction']['latency_ms']:.1f} ms" for a in answers]
    body = "<br>".join(lines)
    if len(answers) == 2:
        agree = same(answers[0]["prediction"], answers[1]["prediction"], threshold)
        kind, title = ("note", "The two models agree.") if agree else ("warn", "The two models disagree.")
        return f"<div class='studio-{kind}'><b>{title}</b><br>{body}</div>"
    return f"<div class='studio-note'>{body}</div>"
