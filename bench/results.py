"""One results table for every benchmark: bench/RESULTS.md, a row per result with the date and the machine."""
from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "| date | machine | benchmark | result |\n| --- | --- | --- | --- |\n"


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    return f"{os.cpu_count()} cores, {model}"


def append_results(benchmark: str, rows: list[str]) -> None:
    """Append one table row per result (creating the table if needed) and say where."""
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\n" + HEADER, encoding="utf-8")
    today, where = datetime.date.today().isoformat(), machine()
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.writelines(f"| {today} | {where} | {benchmark} | {row} |\n" for row in rows)
    print(f"appended {len(rows)} row(s) to {RESULTS}")
