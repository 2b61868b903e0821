"""Backend records -> what Gradio components draw: DataFrames for plots and tables, escaped HTML for tokens."""
from __future__ import annotations

import html

import pandas as pd

STAT_ROWS = (  # (key in a preview dict, what a person reads, how to show it)
    ("mean", "Mean length (tokens)", "{:.1f}"),
    ("p50", "Median length (p50)", "{:.0f}"),
    ("p95", "95th percentile (p95)", "{:.0f}"),
    ("max", "Longest row", "{:.0f}"),
    ("truncated_share", "Rows cut at max length", "{:.1%}"),
    ("unk_rate", "Unknown-token rate ([UNK])", "{:.2%}"),
    ("suggested_max_length", "Suggested max length", "{:.0f}"),
)


def label_balance_frame(report: dict) -> pd.DataFrame:
    """Rows per class and split, for a grouped bar chart; regression gets a value histogram instead."""
    rows = [{"label": label, "split": "train", "rows": count} for label, count in report["label_counts"].items()]
    rows += [{"label": label, "split": "validation", "rows": count}
             for label, count in report.get("eval_label_counts", {}).items()]
    return pd.DataFrame(rows, columns=["label", "split", "rows"])


def samples_frame(report: dict) -> pd.DataFrame:
    return pd.DataFrame(report.get("samples") or [])


def stats_frame(previews: dict[str, dict]) -> pd.DataFrame:
    """One row per statistic, one column per tokenizer."""
    table = {"": [label for _, label, _ in STAT_ROWS]}
    for name, preview in previews.items():
        table[name] = [fmt.format(preview[key]) for key, _, fmt in STAT_ROWS]
    return pd.DataFrame(table)


def histogram_frame(previews: dict[str, dict]) -> pd.DataFrame:
    """Token-length histograms as one line per tokenizer (bin centres), so two tokenizers overlay readably."""
    rows = []
    for name, preview in previews.items():
        edges, counts = preview["histogram"]["edges"], preview["histogram"]["counts"]
        for low, high, count in zip(edges, edges[1:], counts):
            rows.append({"tokens": (low + high - 1) / 2, "rows": int(count), "tokenizer": name})
    return pd.DataFrame(rows, columns=["tokens", "rows", "tokenizer"])


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


def message_html(kind: str, lines: list[str]) -> str:
    """An error or warning box; every line escaped (it may quote the user's file)."""
    if not lines:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f"<div class='studio-{kind}'><ul style='margin:0'>{items}</ul></div>"
