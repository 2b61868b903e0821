"""Comparison records -> what the Compare tab draws: plan, pair progress, verdict, tables and charts."""
from __future__ import annotations

import html

import pandas as pd

from ui.charts import duration, message_html, plot_data, single_points_drawn
from ui.task_views import views_of

COST_ROWS = (  # (where in a side, what a person reads, format)
    ("num_parameters", "Parameters", lambda v: f"{v / 1e6:.1f}M"),
    ("disk_mb", "Model on disk", lambda v: f"{v:.0f} MB"),
    ("train_runtime_s", "Training time (evaluations excluded)", duration),
    ("train_samples_per_second", "Training speed (evaluations excluded)", lambda v: f"{v:.0f} samples/s"),
    ("speed.latency_p50_ms", "Latency, one text (p50)", lambda v: f"{v:.1f} ms"),
    ("speed.latency_p95_ms", "Latency, one text (p95)", lambda v: f"{v:.1f} ms"),
    ("speed.throughput_rows_per_s", "Batch throughput", lambda v: f"{v:.0f} rows/s"),
    ("peak_memory_mb", "Peak memory", lambda v: f"{v:.0f} MB"),
)


def _get(side: dict, path: str):
    value = side
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def plan_html(plan: dict) -> str:
    rows = "".join(
        f"<li><b>{html.escape(m['side'])}</b>: {html.escape(m['label'])} · {m['num_parameters'] / 1e6:.1f}M · "
        f"learning rate {m['learning_rate']:g} · {html.escape(m['source'])}<br><small>{html.escape(m['why'])}</small>"
        "</li>" for m in plan["models"])
    recipe = "".join(f"<li>{html.escape(line)}</li>" for line in plan["recipe"])
    return f"<div class='studio-note'><ul>{rows}</ul><details><summary>The recipe</summary><ul>{recipe}</ul>" \
           "</details></div>"


def pair_status_html(statuses: list[dict]) -> str:
    lines = []
    for status in statuses:
        progress = status["progress"]
        done = f"{progress['fraction']:.0%}" if progress["total_steps"] else "waiting"
        lines.append(f"<li><b>{html.escape(status['name'])}</b> · job {html.escape(status['job_id'])} · "
                     f"{status['state']} · {done}</li>")
    failed = [s for s in statuses if s["finished"] and s["state"] != "completed"]
    note = message_html("warn", [f"{s['name']} ended {s['state']}: {s.get('error') or ''} Resume it on the "
                                 "Train tab, then compare." for s in failed]) if failed else ""
    return f"<div class='studio-note'><ul>{''.join(lines)}</ul></div>{note}"


def verdict_list_html(result: dict) -> str:
    lines = list(result["verdict"])
    found = result.get("disagreements")
    if found and found["count"] == 0:
        lines.append(f"The two give the same answer on all {found['compared']:,} validation rows.")
    elif found:
        lines.append(f"They disagree on {found['count']:,} of {found['compared']:,} validation rows (listed below).")
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    warnings = message_html("warn", result.get("warnings") or [])
    return f"<div class='studio-note'><b>{html.escape(result['a']['name'])}</b> vs " \
           f"<b>{html.escape(result['b']['name'])}</b><ul>{items}</ul></div>{warnings}"


def quality_frame(result: dict) -> pd.DataFrame:
    a, b = result["a"]["name"], result["b"]["name"]
    rows = []
    for row in result["differences"]["metrics"].values():
        points = f"{row['points']:+.1f} points" if row.get("points") is not None else f"{row['difference']:+.4f}"
        better = {"a": "A", "b": "B"}.get(row["better"], "tie")
        rows.append({"metric": row["name"], "A": f"{row['a']:.4f}", "B": f"{row['b']:.4f}", "A − B": points,
                     "better": better})
    # Short headers: run names are long and would push the difference off screen; sides_label() names A and B.
    return pd.DataFrame(rows, columns=["metric", "A", "B", "A − B", "better"])


def sides_label(title: str, result: dict) -> str:
    """A table's label that says which run is A and which is B."""
    return f"{title} · A = {result['a']['name']} · B = {result['b']['name']}"


def cost_frame(result: dict) -> pd.DataFrame:
    a, b = result["a"], result["b"]
    rows = []
    for path, label, fmt in COST_ROWS:
        values = [_get(side, path) for side in (a, b)]
        shown = [fmt(v) if isinstance(v, (int, float)) else "not recorded" for v in values]
        ratio = f"{values[0] / values[1]:.2f}x" if all(isinstance(v, (int, float)) and v for v in values) else ""
        rows.append({"": label, "A": shown[0], "B": shown[1], "A ÷ B": ratio})
    return pd.DataFrame(rows, columns=["", "A", "B", "A ÷ B"])


def compare_curves_frame(result: dict | None) -> pd.DataFrame | None:
    """The main validation score of both runs over training steps."""
    points = []
    if result and result.get("curves"):
        main = f"eval_{result['curves']['main_metric']}"
        points = [p for p in result["curves"]["points"] if p["series"] == main and p["value"] is not None]
    rows = [(p["step"], float(p["value"]), p["name"]) for p in points]
    return plot_data(single_points_drawn(pd.DataFrame(rows, columns=["step", "value", "run"]), "run"))


def tradeoff_frame(result: dict | None) -> pd.DataFrame | None:
    rows = []
    if result:
        for side in (result["a"], result["b"]):
            latency = _get(side, "speed.latency_p50_ms")
            if latency is not None and side.get("main_value") is not None:
                rows.append((float(latency), float(side["main_value"]), side["name"]))
    return plot_data(pd.DataFrame(rows, columns=["latency_ms", "score", "run"]))


def tradeoff_limits(frame: pd.DataFrame | None) -> tuple[list[float] | None, list[float] | None]:
    """Axis ranges with room around the points: two points never sit on the plot's edges."""
    if frame is None:
        return None, None
    latency, score = frame["latency_ms"], frame["score"]
    spread = max(float(score.max() - score.min()), 0.02)
    return [0.0, float(latency.max()) * 1.4 + 0.1], [float(score.min()) - spread, float(score.max()) + spread]


def disagreements_frame(result: dict) -> pd.DataFrame | None:
    """The true answer and both predictions first (columns A and B, named in the label), then the texts: long
    texts last, so the answers are never pushed out of sight."""
    found = result.get("disagreements") or {}
    rows = []
    first, second = views_of(result.get("task")).input_names  # e.g. question and context
    for example in found.get("examples", []):
        row = {"true": _shown(example["gold"]), "A": side_text(example["a"]), "B": side_text(example["b"]),
               first: example["text"]}
        if example.get("text_pair"):
            row[second] = example["text_pair"]
        rows.append(row)
    return pd.DataFrame(rows) if rows else None


def _shown(value) -> str:
    """A gold value as a cell: label sets joined, "no answer" for an unanswerable question."""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "no label"
    return "no answer" if value == "" else str(value)


def side_text(side: dict) -> str:
    """One model's answer on a disagreement row: a label with its confidence, a label set, an answer, or a value."""
    tick = " ✓" if side.get("correct") else ""
    if "label" in side:
        return f"{side['label']} ({side['confidence']:.0%}){tick}"
    if "labels" in side:
        return _shown(side["labels"]) + tick
    if "answer" in side:
        return _shown(side["answer"]) + tick
    return f"{side['value']:.3f}"


def published_markdown(published: dict) -> str:
    bert, minilm = published["models"]["bert_base"], published["models"]["minilm"]
    header = f"| task | {bert['name']} ({bert['parameters']}) | {minilm['name']} ({minilm['parameters']}) |\n" \
             "| --- | --- | --- |\n"
    rows = "".join(f"| {t['task']} | {t['bert_base']} | {t['minilm']} |\n" for t in published["tasks"])
    return (f"{header}{rows}\n{published['speedup']['text']}.\n\n*{published['source']}.* {published['note']} "
            f"Source: {published['reference']}.")
