"""One page putting two or more runs side by side: what each run is, its pretraining curves, its metrics."""

from __future__ import annotations

import math
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from genolm.atomic import write_text
from genolm.errors import GenolmError
from genolm.report.figures import PALETTE, ci_arrays, legend_group
from genolm.report.format import Block, figure, fmt, h3, is_number, link, note, section, slug, table, with_ci
from genolm.report.load import FAMILIES, HEADLINE, METRICS, method_rank, read_json, read_table, role, tasks
from genolm.report.render import now, render

#: per run: family -> task -> method -> metrics.json content.
PerRun = dict[str, dict[str, dict[str, dict[str, dict]]]]

RUN_COLUMNS = [
    "Run",
    "Directory",
    "Bases",
    "Model",
    "Objective",
    "Parameters",
    "Steps",
    "Val loss",
    "Val perplexity",
]


def compare_runs(run_dirs: list[str | Path], out_html: str | Path) -> None:
    """Write one page putting two or more runs side by side: pretraining curves and task metrics.

    Args:
        run_dirs: the runs' results folders; a run is named by its folder (by its path if two share one).
        out_html: where to write the page (atomically).

    Raises:
        GenolmError: fewer than two folders, a folder that does not exist, or a malformed result file.
    """
    paths = [Path(d) for d in run_dirs]
    if len(paths) < 2:
        raise GenolmError(f"compare: need at least two run directories, got {len(paths)}")
    for path in paths:
        if not path.is_dir():
            raise GenolmError(f"{path}: run directory not found")
    names = [p.name for p in paths]
    if len(set(names)) < len(names):
        names = [str(p) for p in paths]
    runs = dict(zip(names, paths, strict=True))
    sections = [_overview(runs), _pretraining(runs), _tasks(runs)]
    write_text(out_html, render("GenoLM run comparison", " · ".join(names), sections, None, now()))


def _overview(runs: dict[str, Path]) -> Block:
    """One row per run: its data, model and final validation loss."""
    rows = []
    for name, path in runs.items():
        summary = read_json(path / "preprocess" / "summary.json") or {}
        pretrain = read_json(path / "pretrain" / "metrics.json") or {}
        val = pretrain.get("val") or {}
        rows.append(
            [
                name,
                str(path),
                summary.get("bases_read"),
                pretrain.get("family"),
                pretrain.get("objective"),
                pretrain.get("parameters"),
                pretrain.get("steps"),
                val.get("loss"),
                val.get("perplexity"),
            ]
        )
    return section("runs", "Runs", [table(RUN_COLUMNS, [[fmt(c) for c in r] for r in rows])])


def _pretraining(runs: dict[str, Path]) -> Block:
    """Train and val loss curves side by side, one colour per run in both panels."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("train loss", "val loss"), shared_yaxes=True)
    for i, (name, path) in enumerate(runs.items()):
        log = read_table(path / "pretrain" / "log.csv", sep=",")
        if log is None or not {"step", "phase", "loss"} <= set(log.columns):
            continue
        colour = PALETTE[i % len(PALETTE)]
        for col, phase in enumerate(("train", "val"), start=1):
            part = log[log["phase"] == phase]
            fig.add_scatter(
                x=part["step"],
                y=part["loss"],
                **legend_group(name, shown=col == 2),
                line_color=colour,
                mode="lines" if phase == "train" else "lines+markers",
                row=1,
                col=col,
            )
    if not fig.data:
        return section("pretraining", "Pretraining", [note("No pretraining logs in these runs.")])
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="loss", row=1, col=1)
    fig.update_layout(legend_title="run")
    return section("pretraining", "Pretraining", [figure(fig)])


def _tasks(runs: dict[str, Path]) -> Block:
    """Per task of any run: the headline metric per method and run, bars of every metric, all values."""
    blocks: list[Block] = []
    links = []
    per_run: PerRun = {name: {f: tasks(path, f) for f in FAMILIES} for name, path in runs.items()}
    for family, title in FAMILIES.items():
        for task in sorted({t for r in per_run.values() for t in r[family]}):
            anchor = slug(family, task)
            links.append(link(f"{title}: {task}", anchor))
            blocks.append(h3(f"{title}: {task}", anchor))
            by_run = {run: r[family].get(task, {}) for run, r in per_run.items()}
            blocks.append(_headline(by_run, HEADLINE[family]))
            entries = [(run, m, d) for run, methods in by_run.items() for m, d in methods.items()]
            metric_names = [m for m in METRICS if any(m in d.get("metrics", {}) for _, _, d in entries)]
            blocks.append(figure(_bars(by_run, metric_names)))
            rows = [
                [run, m, *(with_ci(d.get("metrics", {}).get(k)) for k in metric_names)]
                for run, m, d in entries
            ]
            blocks.append(table(["Run", "Method", *metric_names], rows, "All metrics, 95% bootstrap CIs."))
    if not blocks:
        blocks.append(note("No task metrics in these runs."))
    return section("tasks", "Tasks", blocks, links)


def _headline(by_run: dict[str, dict[str, dict]], metric: str) -> Block:
    """One row per method, one column per run; with two runs, the difference second minus first."""
    methods = sorted({m for methods in by_run.values() for m in methods}, key=method_rank)
    names = list(by_run)
    rows = []
    for method in methods:
        values = [by_run[run].get(method, {}).get("metrics", {}).get(metric) for run in names]
        row = [method, role(method), *(with_ci(v) for v in values)]
        if len(names) == 2:
            a, b = (v.get("value") if v else None for v in values)
            row.append(f"{b - a:+.3f}" if is_number(a) and is_number(b) else "–")
        rows.append(row)
    delta = [f"Δ ({names[1]} − {names[0]})"] if len(names) == 2 else []
    return table(
        ["Method", "Role", *names, *delta],
        rows,
        f"{metric} on the held-out test split per run, 95% bootstrap CIs; runs side by side.",
        numeric=False,
    )


def _bars(by_run: dict[str, dict[str, dict]], metric_names: list[str]) -> go.Figure:
    """One panel per metric; methods on the x axis, one bar per run with 95% CI error bars."""
    cols = min(3, len(metric_names)) or 1
    n_rows = math.ceil(len(metric_names) / cols) or 1
    fig = make_subplots(rows=n_rows, cols=cols, subplot_titles=metric_names)
    for i, (run, methods) in enumerate(by_run.items()):
        for j, metric in enumerate(metric_names):
            ms = [m.get("metrics", {}).get(metric, {}) for m in methods.values()]
            plus, minus = ci_arrays(ms)
            fig.add_bar(
                x=list(methods),
                y=[m.get("value") for m in ms],
                **legend_group(run, shown=j == 0),
                marker_color=PALETTE[i % len(PALETTE)],
                error_y={"type": "data", "array": plus, "arrayminus": minus},
                row=j // cols + 1,
                col=j % cols + 1,
            )
    fig.update_layout(barmode="group", height=300 * n_rows + 80, legend_title="run")
    return fig
