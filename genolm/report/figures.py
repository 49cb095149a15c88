"""The report's plotly figures, built from data already read; no figure reads a file.

Colours are shared so that paired panels (ROC beside precision-recall, train beside val) give one
method or run the same colour in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots
from sklearn.metrics import precision_recall_curve, roc_curve

from genolm.report.format import is_number
from genolm.report.load import role, split_rank

PALETTE = qualitative.Plotly  # one colour per method/run, shared by paired panels
SPLIT_COLOURS = {"train": "#4C78A8", "val": "#F58518", "test": "#54A24B"}
LABEL_COLOURS = (("benign", "#4C78A8"), ("pathogenic", "#E45756"))
LOG_LABELS = {"lr": "learning rate", "tokens_per_s": "throughput (tokens/s)"}
MAX_TRACK_CONTIGS = 30


def legend_group(name: str, shown: bool) -> dict[str, Any]:
    """Trace settings for a series drawn in several panels: one legend entry (`shown` on one trace only)
    that toggles all of them."""
    return {"name": name, "legendgroup": name, "showlegend": shown}


def ci_arrays(metrics: Sequence[dict]) -> tuple[list[float | None], list[float | None]]:
    """(plus, minus) error-bar lengths of metric dicts; None where a value or CI bound is not finite."""
    plus: list[float | None] = []
    minus: list[float | None] = []
    for m in metrics:
        v, lo, hi = m.get("value"), m.get("ci_low"), m.get("ci_high")
        ok = is_number(v) and is_number(lo) and is_number(hi)
        plus.append(hi - v if ok else None)
        minus.append(v - lo if ok else None)
    return plus, minus


def metric_bars(methods: dict[str, dict], metric_names: list[str]) -> go.Figure:
    """Grouped bars: one group per metric, one bar per method, 95% CI as asymmetric error bars."""
    fig = go.Figure()
    for method, data in methods.items():
        ms = [data.get("metrics", {}).get(name, {}) for name in metric_names]
        plus, minus = ci_arrays(ms)
        fig.add_bar(
            x=metric_names,
            y=[m.get("value") if is_number(m.get("value")) else None for m in ms],
            name=f"{method} ({role(method)})",
            error_y={"type": "data", "array": plus, "arrayminus": minus, "visible": True},
        )
    fig.update_layout(barmode="group", yaxis_title="value (95% CI)", legend_title="method")
    return fig


def roc_pr(curves: dict[str, tuple[Any, Any]], positive: str) -> go.Figure:
    """ROC and precision-recall curves of every method, side by side; `curves` maps name -> (y, score)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("ROC", "Precision-recall"))
    for i, (name, (y, score)) in enumerate(curves.items()):
        finite = np.isfinite(score)
        y, score = y[finite], score[finite]
        if len(set(y)) < 2:
            continue
        colour = PALETTE[i % len(PALETTE)]
        fpr, tpr, _ = roc_curve(y, score)
        precision, recall, _ = precision_recall_curve(y, score)
        fig.add_scatter(x=fpr, y=tpr, name=name, legendgroup=name, line_color=colour, row=1, col=1)
        fig.add_scatter(
            x=recall,
            y=precision,
            **legend_group(name, shown=False),
            line_color=colour,
            row=1,
            col=2,
        )
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="chance", row=1, col=1
    )
    fig.update_xaxes(title_text="false positive rate", row=1, col=1)
    fig.update_yaxes(title_text="true positive rate", row=1, col=1)
    fig.update_xaxes(title_text=f"recall ({positive})", row=1, col=2)
    fig.update_yaxes(title_text="precision", row=1, col=2)
    return fig


def split_track(splits: pd.DataFrame) -> go.Figure:
    """Split blocks along each of the longest contigs as horizontal bars, coloured by split."""
    extent = splits.groupby("contig")["end"].max().sort_values(ascending=False)
    contigs = list(extent.index[:MAX_TRACK_CONTIGS])
    shown = splits[splits["contig"].isin(contigs)]
    fig = go.Figure()
    for split in sorted(shown["split"].unique(), key=split_rank):
        part = shown[shown["split"] == split]
        fig.add_bar(
            y=part["contig"],
            x=part["end"] - part["start"],
            base=part["start"],
            orientation="h",
            name=split,
            marker_color=SPLIT_COLOURS.get(split),
            customdata=part[["start", "end"]].to_numpy(),
            hovertemplate="%{y}:%{customdata[0]:,}-%{customdata[1]:,}<extra>" + split + "</extra>",
        )
    fig.update_layout(
        barmode="overlay",
        xaxis_title="position (bp)",
        yaxis={"categoryorder": "array", "categoryarray": contigs[::-1]},
        height=140 + 28 * len(contigs),
        legend_title="split",
    )
    return fig


def pretrain_figures(log: pd.DataFrame) -> list[go.Figure]:
    """Loss curves, then val perplexity/accuracy and learning rate/throughput panels where logged."""
    train, val = log[log["phase"] == "train"], log[log["phase"] == "val"]
    loss = go.Figure()
    loss.add_scatter(x=train["step"], y=train["loss"], name="train loss", mode="lines", line_width=1)
    loss.add_scatter(x=val["step"], y=val["loss"], name="val loss", mode="lines+markers")
    loss.update_layout(xaxis_title="step", yaxis_title="loss")
    figures = [loss]
    pairs = [("perplexity", "accuracy", val, "val "), ("lr", "tokens_per_s", train, "")]
    for left, right, rows, prefix in pairs:
        present = [c for c in (left, right) if c in rows and rows[c].notna().any()]
        if not present:
            continue
        titles = [prefix + LOG_LABELS.get(c, c) for c in present]
        fig = make_subplots(rows=1, cols=len(present), subplot_titles=titles)
        for i, column in enumerate(present, start=1):
            fig.add_scatter(x=rows["step"], y=rows[column], name=titles[i - 1], mode="lines", row=1, col=i)
            fig.update_xaxes(title_text="step", row=1, col=i)
        fig.update_layout(showlegend=False)
        figures.append(fig)
    return figures


def confusion(matrix: list[list[int]], classes: list[str], title: str) -> go.Figure:
    """A confusion matrix as an annotated heatmap, true classes down, predicted across."""
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=classes,
            y=classes,
            colorscale="Blues",
            texttemplate="%{z}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="predicted",
        yaxis_title="true",
        yaxis_autorange="reversed",
        height=max(320, 80 + 40 * len(classes)),
    )
    return fig


def history(hist: pd.DataFrame) -> go.Figure:
    """A fine-tuning run's train loss and val macro-F1 per epoch, side by side."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("train loss", "val macro F1"))
    for i, column in enumerate(("train_loss", "val_macro_f1"), start=1):
        if column in hist:
            fig.add_scatter(x=hist["epoch"], y=hist[column], mode="lines+markers", row=1, col=i)
        fig.update_xaxes(title_text="epoch", row=1, col=i)
    fig.update_layout(showlegend=False, title="Fine-tuning history")
    return fig


def score_violins(scores: dict[str, pd.DataFrame]) -> go.Figure:
    """One panel per method: its variant scores split by true label."""
    fig = make_subplots(rows=1, cols=len(scores), subplot_titles=list(scores))
    for i, table in enumerate(scores.values(), start=1):
        for label, colour in LABEL_COLOURS:
            part = table[table["label"] == label]
            fig.add_violin(
                x=part["label"],
                y=part["score"],
                **legend_group(label, shown=i == 1),
                line_color=colour,
                box_visible=True,
                meanline_visible=True,
                points=False,
                row=1,
                col=i,
            )
    fig.update_yaxes(title_text="score (higher = more pathogenic)", row=1, col=1)
    fig.update_layout(title="Score distributions by true label")
    return fig


def stacked_heatmaps(
    grids: Sequence[pd.DataFrame],
    titles: Sequence[str],
    *,
    row_height: int,
    x_title: str,
    colour_title: str,
    hover_format: str,
    shared_xaxes: bool = False,
) -> go.Figure:
    """One heatmap per grid (rows: bases, columns: positions), stacked, on one colour scale centred at 0.

    Variant ISM matrices and classifier attributions both read this way: red pushes one way, blue the
    other, and one colour bar holds for every panel.
    """
    fig = make_subplots(rows=len(grids), cols=1, subplot_titles=list(titles), shared_xaxes=shared_xaxes)
    for row, grid in enumerate(grids, start=1):
        fig.add_heatmap(
            z=grid.to_numpy(),
            x=grid.columns.tolist(),
            y=grid.index.tolist(),
            coloraxis="coloraxis",
            hovertemplate=f"pos %{{x}}, %{{y}}: %{{z:{hover_format}}}<extra></extra>",
            row=row,
            col=1,
        )
    fig.update_layout(
        height=row_height * len(grids) + 80,
        coloraxis={"colorscale": "RdBu_r", "cmid": 0, "colorbar_title": colour_title},
    )
    fig.update_xaxes(title_text=x_title, row=len(grids), col=1)
    return fig


def benchmark_bars(rules: list[str], seconds: list[float]) -> go.Figure:
    """Wall time per rule as horizontal bars, in the order given (top to bottom)."""
    fig = go.Figure(go.Bar(x=seconds, y=rules, orientation="h"))
    fig.update_layout(
        xaxis_title="wall time (s)",
        yaxis={"autorange": "reversed"},
        height=120 + 24 * len(rules),
        showlegend=False,
    )
    return fig


def gene_manhattan(genes: pd.DataFrame, known: set[str], q_line: float | None) -> go.Figure:
    """Genome-wide burden results: each gene at its contig and start against −log10 p, one panel row.

    Contigs are laid end to end in their order of first appearance; known (planted) genes are drawn as
    red diamonds, and `q_line` (the largest p with BH q <= 0.05, if any) as a dashed threshold.
    """
    genes = genes[genes["p"].apply(is_number)].copy()
    contigs = list(dict.fromkeys(genes["contig"]))
    ends = genes.groupby("contig")["end"].max().reindex(contigs)
    offset = dict(zip(contigs, np.r_[0, np.cumsum(ends.to_numpy())[:-1]], strict=True))
    genes["x"] = genes["start"] + genes["contig"].map(offset)
    genes["y"] = -np.log10(genes["p"].astype(float).clip(lower=1e-300))
    fig = go.Figure()
    for is_known, style in (
        (False, {"color": "#4C78A8", "size": 6}),
        (True, {"color": "#E45756", "size": 11}),
    ):
        part = genes[genes["gene"].isin(known) == is_known]
        fig.add_trace(
            go.Scatter(
                x=part["x"],
                y=part["y"],
                mode="markers",
                name="known / planted gene" if is_known else "gene",
                marker={**style, "symbol": "diamond" if is_known else "circle"},
                text=part["gene"] + " (" + part["contig"] + ":" + part["start"].astype(str) + ")",
                hovertemplate="%{text}<br>−log10 p %{y:.2f}<extra></extra>",
            )
        )
    if q_line is not None:
        fig.add_hline(y=-np.log10(q_line), line_dash="dash", annotation_text="BH q = 0.05")
    fig.update_layout(
        height=320,
        margin={"l": 50, "r": 10, "t": 30, "b": 40},
        xaxis={
            "title": "genome position (contigs end to end)",
            "tickvals": list(offset.values()),
            "ticktext": contigs,
        },
        yaxis={"title": "−log10 p"},
    )
    return fig
