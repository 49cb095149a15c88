"""Run time and peak memory of every rule, from Snakemake's benchmark files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from genolm.report.figures import benchmark_bars
from genolm.report.format import Block, figure, fmt, is_number, note, table
from genolm.report.load import read_table


def benchmarks(directory: Path) -> list[Block]:
    """A table and a bar chart of mean wall time (and max RSS) per rule under `directory`."""
    rows = []
    for path in sorted(directory.rglob("*.tsv")):
        frame = read_table(path)
        if frame is None or "s" not in frame or frame.empty:
            continue
        seconds = pd.to_numeric(frame["s"], errors="coerce").mean()
        rss = pd.to_numeric(frame.get("max_rss", pd.Series(dtype=float)), errors="coerce").max()
        rows.append([path.relative_to(directory).with_suffix("").as_posix(), seconds, rss])
    if not rows:
        return [note("No benchmark files (benchmarks/**/*.tsv) in this run.")]
    table_rows = [
        [
            rule,
            fmt(seconds, 1),
            str(dt.timedelta(seconds=round(seconds))) if is_number(seconds) else "–",
            fmt(rss, 1),
        ]
        for rule, seconds, rss in rows
    ]
    return [
        table(["Rule", "Wall time (s)", "h:m:s", "Max RSS (MB)"], table_rows),
        figure(benchmark_bars([r[0] for r in rows], [r[1] for r in rows])),
    ]
