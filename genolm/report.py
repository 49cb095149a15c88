"""One self-contained HTML report per run, and a side-by-side page for several runs.

Reads only the result files a run writes (never the training code), so a report can be rebuilt or
compared long after the models are gone. Every section is built as a list of plain blocks (tables,
figures, notes) that one Jinja2 template renders with autoescaping; plotly.js is inlined once.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.offline
import yaml
from markupsafe import Markup
from plotly.colors import qualitative
from plotly.subplots import make_subplots
from sklearn.metrics import precision_recall_curve, roc_curve

from genolm.atomic import write_text
from genolm.errors import GenolmError

FAMILIES = {"gene_function": "Gene function", "disease_risk": "Disease risk"}
MODEL_METHODS = (
    "finetune_full",
    "finetune_lora",
    "finetune_ia3",
    "finetune_prompt",
    "probe",
    "supervised",
    "zeroshot",
)
BASELINE_METHODS = ("consequence", "kmer_lr", "majority")
HEADLINE = {"gene_function": "macro_f1", "disease_risk": "auroc"}
# Shown in this order where present; the last three are those of multi-label tasks only.
METRICS = (
    "accuracy",
    "macro_f1",
    "mcc",
    "auroc",
    "auprc",
    "brier",
    "micro_f1",
    "hamming_loss",
    "subset_accuracy",
)
SPLITS = ("train", "val", "test")
PALETTE = qualitative.Plotly  # one colour per method/run, shared by paired panels
SPLIT_COLOURS = {"train": "#4C78A8", "val": "#F58518", "test": "#54A24B"}
PACKAGES = (
    "genolm",
    "torch",
    "transformers",
    "tokenizers",
    "numpy",
    "pandas",
    "scikit-learn",
    "snakemake",
    "plotly",
)
LOG_LABELS = {"lr": "learning rate", "tokens_per_s": "throughput (tokens/s)"}
MAX_TRACK_CONTIGS = 30
TOP_VARIANTS = 20
CLASSIFIER_GENES_SHOWN = 4  # one gene per class, as heatmaps in the interpretation section

Block = dict[str, Any]


# --- reading ---------------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    """Parsed JSON, or None when the file is absent (optional parts of a run)."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise GenolmError(f"{path}: line {err.lineno}: not valid JSON ({err.msg})") from None


def _read_table(path: Path, sep: str = "\t", **kwargs: Any) -> pd.DataFrame | None:
    """A delimited table, or None when absent; a malformed one is a one-line error naming the file."""
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, sep=sep, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        kind = "tab" if sep == "\t" else "comma"
        raise GenolmError(f"{path}: expected a {kind}-separated table ({err})") from None


def _require(table: pd.DataFrame, columns: tuple[str, ...], path: Path) -> pd.DataFrame:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise GenolmError(f"{path}: missing column(s) {', '.join(missing)}")
    return table


def _tasks(results: Path, family: str) -> dict[str, dict[str, dict]]:
    """task -> method -> metrics.json content, ordered model methods first, then baselines."""
    out: dict[str, dict[str, dict]] = {}
    for task_dir in sorted(p for p in (results / family).glob("*") if p.is_dir()):
        methods = {m.parent.name: _read_json(m) for m in task_dir.glob("*/metrics.json")}
        if methods:
            out[task_dir.name] = {m: methods[m] for m in sorted(methods, key=_method_rank)}
    return out


def _index(order: tuple[str, ...], item: str) -> int:
    """Position of `item` in a preferred order; unknown items go last."""
    return order.index(item) if item in order else len(order)


def _method_rank(method: str) -> tuple[int, str]:
    return (_index(MODEL_METHODS + BASELINE_METHODS, method), method)


def _role(method: str) -> str:
    return "model" if method in MODEL_METHODS else "baseline"


# --- formatting ------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value: Any, digits: int = 3) -> str:
    """Integers with thousands separators, floats to `digits` decimals, missing/NaN as an en dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if 0 < abs(value) < 10**-digits else f"{value:,.{digits}f}"
    return str(value)


def _with_ci(metric: dict | None) -> str:
    if not metric:
        return "–"
    value = _fmt(metric.get("value"))
    if _is_number(metric.get("ci_low")) and _is_number(metric.get("ci_high")):
        return f"{value} [{_fmt(metric['ci_low'])}, {_fmt(metric['ci_high'])}]"
    return value


def _bytes(n: float | None) -> str:
    if not _is_number(n):
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return "–"


def _slug(*parts: str) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9_]+", "-", p).strip("-") or "x" for p in parts)


# --- blocks ----------------------------------------------------------------------------------------


def _h3(text: str, anchor: str | None = None) -> Block:
    return {"kind": "h3", "text": text, "id": anchor}


def _p(text: str) -> Block:
    return {"kind": "p", "text": text}


def _note(text: str) -> Block:
    return {"kind": "note", "text": text}


def _link(text: str, anchor: str) -> dict[str, str]:
    """A table cell that links to an anchor on the same page."""
    return {"text": text, "href": anchor}


def _table(columns: list[str], rows: list[list[Any]], caption: str = "", numeric: bool = True) -> Block:
    cells = [[c if isinstance(c, str | dict) else _fmt(c) for c in row] for row in rows]
    return {"kind": "table", "columns": columns, "rows": cells, "caption": caption, "numeric": numeric}


def _kv(pairs: list[tuple[str, Any]], caption: str = "") -> Block:
    return _table(["", ""], [[k, v] for k, v in pairs], caption, numeric=False)


def _figure(fig: go.Figure) -> Block:
    return {"kind": "figure", "fig": fig}


def _section(anchor: str, title: str, blocks: list[Block], links: Sequence[dict[str, str]] = ()) -> Block:
    """A page section; `links` are its sub-anchors (one per task) listed in the navigation bar."""
    return {"id": anchor, "title": title, "blocks": blocks, "links": list(links)}


# --- figures ---------------------------------------------------------------------------------------


def _metric_bars(methods: dict[str, dict], metric_names: list[str]) -> go.Figure:
    """Grouped bars: one group per metric, one bar per method, 95% CI as asymmetric error bars."""
    fig = go.Figure()
    for method, data in methods.items():
        metrics = data.get("metrics", {})
        values, plus, minus = [], [], []
        for name in metric_names:
            m = metrics.get(name, {})
            v = m.get("value")
            values.append(v if _is_number(v) else None)
            lo, hi = m.get("ci_low"), m.get("ci_high")
            ok = _is_number(v) and _is_number(lo) and _is_number(hi)
            plus.append(hi - v if ok else None)
            minus.append(v - lo if ok else None)
        fig.add_bar(
            x=metric_names,
            y=values,
            name=f"{method} ({_role(method)})",
            error_y={"type": "data", "array": plus, "arrayminus": minus, "visible": True},
        )
    fig.update_layout(barmode="group", yaxis_title="value (95% CI)", legend_title="method")
    return fig


def _roc_pr(curves: dict[str, tuple[Any, Any]], positive: str) -> go.Figure:
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
            name=name,
            legendgroup=name,
            showlegend=False,
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


def _split_track(splits: pd.DataFrame) -> go.Figure:
    """Split blocks along each contig as horizontal bars, coloured by split."""
    extent = splits.groupby("contig")["end"].max().sort_values(ascending=False)
    contigs = list(extent.index[:MAX_TRACK_CONTIGS])
    shown = splits[splits["contig"].isin(contigs)]
    fig = go.Figure()
    for split in sorted(shown["split"].unique(), key=lambda s: (_index(SPLITS, s), s)):
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


# --- sections --------------------------------------------------------------------------------------


def _banner_text() -> str:
    return (
        "SYNTHETIC DEMO DATA. The genome, annotation and variants in this run were generated by the "
        "workflow's simulator; the numbers below test the pipeline and say nothing about real biology."
    )


def _overview(results: Path, tasks: dict[str, dict[str, dict[str, dict]]]) -> Block:
    blocks: list[Block] = []
    summary = _read_json(results / "preprocess" / "summary.json") or {}
    pretrain = _read_json(results / "pretrain" / "metrics.json") or {}
    stats = [
        ("bases", _fmt(summary.get("bases_read"))),
        ("windows kept", _fmt(summary.get("windows_kept"))),
        ("model parameters", _fmt(pretrain.get("parameters"))),
        ("val perplexity", _fmt((pretrain.get("val") or {}).get("perplexity"))),
        ("tasks", str(sum(len(t) for t in tasks.values()))),
    ]
    blocks.append({"kind": "stats", "items": stats})
    rows = []
    for family, family_tasks in tasks.items():
        metric = HEADLINE[family]
        for task, methods in family_tasks.items():
            model = _best(methods, metric, MODEL_METHODS)
            base = _best({m: d for m, d in methods.items() if m not in MODEL_METHODS}, metric, None)
            delta = model[1]["value"] - base[1]["value"] if model and base else None
            rows.append(
                [
                    FAMILIES[family],
                    _link(task, _slug(family, task)),
                    metric,
                    model[0] if model else "–",
                    _with_ci(model[1] if model else None),
                    base[0] if base else "–",
                    _with_ci(base[1] if base else None),
                    f"{delta:+.3f}" if delta is not None else "–",
                    _verdict(model[1] if model else None, base[1] if base else None),
                ]
            )
    if rows:
        blocks.append(
            _table(
                [
                    "Family",
                    "Task",
                    "Metric",
                    "Best model",
                    "Value [95% CI]",
                    "Best baseline",
                    "Value [95% CI]",
                    "Δ",
                    "Verdict",
                ],
                rows,
                "Headline metric (higher is better) on the held-out test split: the best model method "
                "against the best baseline, with 95% bootstrap CIs. Verdict: which is better when the two "
                "intervals do not overlap.",
                numeric=False,
            )
        )
    else:
        blocks.append(_note("No task metrics found in this run."))
    return _section("overview", "Overview", blocks)


def _verdict(model: dict | None, base: dict | None) -> str:
    """Which side wins when the two 95% CIs are disjoint; a conservative check, not a paired test."""
    if not model or not base:
        return "–"
    bounds = [model.get("ci_low"), model.get("ci_high"), base.get("ci_low"), base.get("ci_high")]
    if not all(_is_number(b) for b in bounds):
        return "no CI"
    m_low, m_high, b_low, b_high = bounds
    if m_low > b_high:
        return "model better"
    if m_high < b_low:
        return "baseline better"
    return "CIs overlap"


def _best(methods: dict[str, dict], metric: str, allowed: tuple[str, ...] | None) -> tuple[str, dict] | None:
    """(method, metric dict) with the highest finite value of `metric` among `allowed` methods."""
    found = [
        (m, d["metrics"][metric])
        for m, d in methods.items()
        if (allowed is None or m in allowed) and _is_number(d.get("metrics", {}).get(metric, {}).get("value"))
    ]
    return max(found, key=lambda x: x[1]["value"]) if found else None


def _data(results: Path) -> Block:
    blocks: list[Block] = []
    summary = _read_json(results / "preprocess" / "summary.json")
    if summary is None:
        blocks.append(_note("No preprocessing summary (preprocess/summary.json) in this run."))
    else:
        bases, n_bases = summary.get("bases_read"), summary.get("n_bases")
        contigs = summary.get("contigs")
        n_frac = f" ({n_bases / bases:.2%})" if _is_number(n_bases) and _is_number(bases) and bases else ""
        max_n = summary.get("max_n_fraction")
        why = f" (more than {max_n:.0%} N)" if _is_number(max_n) else ""
        blocks.append(_h3("Genome"))
        blocks.append(
            _kv(
                [
                    ("Contigs", _fmt(len(contigs) if isinstance(contigs, list | dict) else contigs)),
                    ("Bases read", _fmt(bases)),
                    ("N bases", _fmt(n_bases) + n_frac),
                    ("Window / stride", f"{_fmt(summary.get('window'))} / {_fmt(summary.get('stride'))} bp"),
                    ("Windows (all)", _fmt(summary.get("windows_total"))),
                    ("Windows kept", _fmt(summary.get("windows_kept"))),
                    ("Windows dropped", _fmt(summary.get("dropped_n")) + why),
                ]
            )
        )
    splits_path = results / "preprocess" / "splits.tsv"
    splits = _read_table(splits_path, dtype={"contig": str, "split": str})
    if splits is not None:
        _require(splits, ("contig", "start", "end", "split"), splits_path)
    split_summary = (summary or {}).get("splits", {})
    if splits is not None or split_summary:
        blocks.append(_h3("Splits"))
        blocks.append(_split_totals(splits, split_summary))
    if splits is not None and len(splits):
        n_contigs = splits["contig"].nunique()
        if n_contigs > MAX_TRACK_CONTIGS:
            blocks.append(_note(f"Track shows the {MAX_TRACK_CONTIGS} longest of {n_contigs} contigs."))
        blocks.append(_figure(_split_track(splits)))
    blocks.append(_h3("Tokenizer"))
    blocks.append(_tokenizer(results / "tokenizer"))
    blocks.append(_h3("Labels"))
    blocks.extend(_labels(results / "labels"))
    return _section("data", "Data", blocks)


def _split_totals(splits: pd.DataFrame | None, summary: dict) -> Block:
    names = [s for s in SPLITS if s in summary or (splits is not None and s in set(splits["split"]))]
    rows = []
    for split in names:
        part = splits[splits["split"] == split] if splits is not None else None
        rows.append(
            [
                split,
                len(part) if part is not None else None,
                int((part["end"] - part["start"]).sum()) if part is not None else None,
                summary.get(split, {}).get("windows"),
                summary.get(split, {}).get("bases"),
            ]
        )
    return _table(
        ["Split", "Blocks", "Bases in blocks", "Windows", "Window bases"],
        rows,
        "Contiguous blocks per split; gaps between blocks belong to no split, so no window straddles two.",
    )


def _tokenizer(directory: Path) -> Block:
    config = _read_json(directory / "tokenizer_config.json")
    tok = _read_json(directory / "tokenizer.json")
    if config is None and tok is None:
        return _note("No tokenizer in this run.")
    kind = (config or {}).get("genolm_kind") or (config or {}).get("tokenizer_class") or "unknown"
    k = (config or {}).get("genolm_k")
    vocab = ((tok or {}).get("model") or {}).get("vocab")
    return _kv(
        [
            ("Kind", f"{kind} (k={k})" if isinstance(k, int) and k > 1 else str(kind)),
            ("Vocabulary size", _fmt(len(vocab)) if vocab is not None else "–"),
        ]
    )


def _labels(directory: Path) -> list[Block]:
    blocks: list[Block] = []
    for family, subdir in (("gene_function", "genes"), ("disease_risk", "variants")):
        for path in sorted((directory / subdir).glob("*.summary.json")):
            summary = _read_json(path)
            task = path.name.removesuffix(".summary.json")
            per_split = summary.get("per_split", {})
            classes = summary.get("classes", {})
            rows = [
                [str(c), *(per_split.get(s, {}).get(c, 0) for s in SPLITS), n] for c, n in classes.items()
            ]
            dropped = summary.get("dropped", {})
            caption = (
                f"{FAMILIES[family]} task {task}: {_fmt(summary.get('rows'))} labelled rows. Dropped: "
                + (", ".join(f"{reason} {_fmt(n)}" for reason, n in dropped.items() if n) or "none")
            )
            blocks.append(_table(["Class", *SPLITS, "total"], rows, caption))
    return blocks or [_note("No label summaries in this run.")]


def _pretraining(results: Path) -> Block:
    blocks: list[Block] = []
    metrics = _read_json(results / "pretrain" / "metrics.json")
    if metrics is not None:
        objective = {"mlm": "masked language modelling (MLM)", "clm": "causal language modelling (CLM)"}
        val = metrics.get("val") or {}
        blocks.append(
            _kv(
                [
                    ("Model family", str(metrics.get("family", "–"))),
                    ("Objective", objective.get(metrics.get("objective"), str(metrics.get("objective")))),
                    ("Parameters", _fmt(metrics.get("parameters"))),
                    ("Steps", _fmt(metrics.get("steps"))),
                    ("Window (tokens)", _fmt(metrics.get("window"))),
                    (
                        "Train / val windows",
                        f"{_fmt(metrics.get('train_windows'))} / {_fmt(metrics.get('val_windows'))}",
                    ),
                    *((f"Val {k.replace('_', ' ')}", _fmt(v)) for k, v in val.items()),
                ],
                "Final validation metrics of the exported model.",
            )
        )
        settings = metrics.get("settings") or {}
        if settings:
            blocks.append(_h3("Hyperparameters"))
            blocks.append(
                _kv(
                    [
                        (k, _fmt(v) if not isinstance(v, dict | list) else json.dumps(v))
                        for k, v in settings.items()
                    ]
                )
            )
    log_path = results / "pretrain" / "log.csv"
    log = _read_table(log_path, sep=",")
    if log is not None:
        _require(log, ("step", "phase", "loss"), log_path)
        blocks.append(_h3("Curves"))
        blocks.extend(_figure(f) for f in _pretrain_figures(log))
    if not blocks:
        blocks.append(_note("No pretraining results (pretrain/metrics.json, pretrain/log.csv) in this run."))
    return _section("pretraining", "Pretraining", blocks)


def _pretrain_figures(log: pd.DataFrame) -> list[go.Figure]:
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


def _family(
    results: Path, family: str, methods_by_task: dict[str, dict[str, dict]], configured: bool
) -> Block:
    title = FAMILIES[family]
    if not methods_by_task:
        why = (
            f"configured, but no results found under {family}/ (is the run complete?)"
            if configured
            else "not configured for this run"
        )
        return _section(family, title, [_note(f"{title}: {why}.")])
    present = sorted({m for methods in methods_by_task.values() for m in methods}, key=_method_rank)
    blocks: list[Block] = [
        _p(
            "All methods are scored on the same held-out test split; intervals are 95% bootstrap CIs; "
            "Brier score and Hamming loss: lower is better. "
            f"Model: {', '.join(m for m in present if _role(m) == 'model') or 'none'}; "
            f"baselines: {', '.join(m for m in present if _role(m) == 'baseline') or 'none'}."
        )
    ]
    for task, methods in methods_by_task.items():
        blocks.append(_h3(f"Task: {task}", _slug(family, task)))
        metric_names = [m for m in METRICS if any(m in d.get("metrics", {}) for d in methods.values())]
        blocks.append(_figure(_metric_bars(methods, metric_names)))
        rows = [
            [
                method,
                d.get("n_train"),
                d.get("n"),
                *(_with_ci(d.get("metrics", {}).get(m)) for m in metric_names),
            ]
            for method, d in methods.items()
        ]
        blocks.append(_table(["Method", "n train", "n test", *metric_names], rows))
        task_dir = results / family / task
        if family == "gene_function":
            blocks.extend(_gene_details(task_dir, methods))
        else:
            blocks.extend(_risk_details(task_dir, methods))
    links = [_link(task, _slug(family, task)) for task in methods_by_task]
    return _section(family, title, blocks, links)


def _gene_details(task_dir: Path, methods: dict[str, dict]) -> list[Block]:
    blocks: list[Block] = []
    best = _best(methods, "macro_f1", MODEL_METHODS)
    name = best[0] if best else None
    model = methods.get(name) if name else None
    if model:
        classes = [str(c) for c in model.get("classes", [])]
        if model.get("confusion"):
            fig = go.Figure(
                go.Heatmap(
                    z=model["confusion"],
                    x=classes,
                    y=classes,
                    colorscale="Blues",
                    texttemplate="%{z}",
                    hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
                )
            )
            fig.update_layout(
                title=f"Confusion matrix ({name}, the best model method by macro-F1)",
                xaxis_title="predicted",
                yaxis_title="true",
                yaxis_autorange="reversed",
                height=max(320, 80 + 40 * len(classes)),
            )
            blocks.append(_figure(fig))
        per_class = model.get("per_class") or {}
        if per_class:
            # Multi-label metrics add each label's AUROC (a dash where the test rows hold one class only).
            keys = ["precision", "recall", "f1", "auroc", "support"]
            if not any("auroc" in v for v in per_class.values()):
                keys.remove("auroc")
            rows = [[c, *(v.get(k) for k in keys)] for c, v in per_class.items()]
            names = {
                "precision": "Precision",
                "recall": "Recall",
                "f1": "F1",
                "auroc": "AUROC",
                "support": "Support",
            }
            blocks.append(_table(["Class", *(names[k] for k in keys)], rows, f"Per class, {name}."))
        history = model.get("history") or []
        if history:
            hist = pd.DataFrame(history)
            fig = make_subplots(rows=1, cols=2, subplot_titles=("train loss", "val macro F1"))
            for i, column in enumerate(("train_loss", "val_macro_f1"), start=1):
                if column in hist:
                    fig.add_scatter(x=hist["epoch"], y=hist[column], mode="lines+markers", row=1, col=i)
                fig.update_xaxes(title_text="epoch", row=1, col=i)
            fig.update_layout(showlegend=False, title="Fine-tuning history")
            blocks.append(_figure(fig))
    first = next(iter(methods.values()))
    classes = first.get("classes", [])
    if len(classes) != 2 or first.get("task_type") == "multilabel":  # curves need one label per gene
        return blocks
    positive = str(classes[1])
    curves = {}
    for method in methods:
        path = task_dir / method / "predictions.tsv"
        pred = _read_table(path, dtype={"label": str, "prediction": str})
        if pred is not None:
            _require(pred, ("label", f"p_{positive}"), path)
            curves[method] = (
                (pred["label"] == positive).astype(int).to_numpy(),
                pred[f"p_{positive}"].to_numpy(),
            )
    if curves:
        blocks.append(_figure(_roc_pr(curves, positive)))
    return blocks


def _risk_details(task_dir: Path, methods: dict[str, dict]) -> list[Block]:
    scores = {}
    for method in methods:
        path = task_dir / method / "scores.tsv"
        table = _read_table(path, dtype={"contig": str, "label": str, "id": str})
        if table is not None:
            scores[method] = _require(table, ("label", "score"), path)
    if not scores:
        return [_note("No scores.tsv files for this task.")]
    fig = make_subplots(rows=1, cols=len(scores), subplot_titles=list(scores))
    for i, table in enumerate(scores.values(), start=1):
        for label, colour in (("benign", "#4C78A8"), ("pathogenic", "#E45756")):
            part = table[table["label"] == label]
            fig.add_violin(
                x=part["label"],
                y=part["score"],
                name=label,
                legendgroup=label,
                showlegend=i == 1,
                line_color=colour,
                box_visible=True,
                meanline_visible=True,
                points=False,
                row=1,
                col=i,
            )
    fig.update_yaxes(title_text="score (higher = more pathogenic)", row=1, col=1)
    fig.update_layout(title="Score distributions by true label")
    blocks: list[Block] = [_figure(fig)]
    curves = {
        m: ((t["label"] == "pathogenic").astype(int).to_numpy(), t["score"].to_numpy())
        for m, t in scores.items()
    }
    blocks.append(_figure(_roc_pr(curves, "pathogenic")))
    best = _best({m: d for m, d in methods.items() if m in scores}, "auroc", MODEL_METHODS)
    if best:
        table = scores[best[0]].sort_values("score", ascending=False, kind="stable").head(TOP_VARIANTS)
        columns = [
            c
            for c in ("id", "gene", "contig", "pos", "ref", "alt", "consequence", "clnsig", "label", "score")
            if c in table
        ]
        rows = [
            [str(rank), *(_cell(v) for v in row)]
            for rank, row in enumerate(table[columns].itertuples(index=False), start=1)
        ]
        blocks.append(
            _table(
                ["#", *columns],
                rows,
                f"Top {TOP_VARIANTS} test variants by {best[0]} score (the model method with best AUROC).",
                numeric=False,
            )
        )
    return blocks


def _classifier_interpretation(results: Path) -> list[Block]:
    """Per explained classifier: per-base integrated gradients of a few genes, their ISM, the motif table."""
    blocks: list[Block] = []
    for path in sorted((results / "interpret" / "genes").glob("*/*/summary.json")):
        summary, task_dir = _read_json(path), path.parent
        genes = summary.get("genes", [])
        label = f"{task_dir.parent.name} ({task_dir.name})"
        blocks.append(
            _h3(f"Classifier interpretation: {label}", _slug("interpret-genes", *path.parts[-3:-1]))
        )
        blocks.append(
            _p(
                f"{summary.get('method')}; the {summary.get('top_genes')} most confident correctly predicted "
                f"test genes per class ({len(genes)} genes). Red bases push the gene towards the explained "
                f"class. ISM: {summary.get('ism')}."
            )
        )
        attr = _read_table(task_dir / "attributions.tsv", dtype={"id": str})
        shown = list({g["class"]: g for g in genes}.values())[:CLASSIFIER_GENES_SHOWN]
        if attr is not None and shown:
            titles = [f"{g['id']} → {g['class']} (p = {_fmt(g.get('p'))})" for g in shown]
            fig = make_subplots(rows=len(shown), cols=1, subplot_titles=titles)
            for row, g in enumerate(shown, start=1):
                part = attr[(attr["id"] == g["id"]) & (attr["class"] == g["class"])]
                grid = part.pivot(index="base", columns="pos", values="attribution").reindex(list("ACGT"))
                fig.add_heatmap(
                    z=grid.to_numpy(),
                    x=grid.columns.tolist(),
                    y=grid.index.tolist(),
                    coloraxis="coloraxis",
                    hovertemplate="pos %{x}, %{y}: %{z:.4f}<extra></extra>",
                    row=row,
                    col=1,
                )
            fig.update_layout(
                height=150 * len(shown) + 80,
                coloraxis={"colorscale": "RdBu_r", "cmid": 0, "colorbar_title": "attribution"},
            )
            fig.update_xaxes(title_text="position in the gene (bp, coding strand)", row=len(shown), col=1)
            blocks.append(_figure(fig))
        motifs = _read_table(task_dir / "motifs.tsv")
        if motifs is not None and len(motifs):
            columns = [
                c
                for c in ("motif", "class", "n_seqlets", "consensus", "best_match", "match_score", "p_value")
                if c in motifs
            ]
            blocks.append(
                _table(
                    columns,
                    [[_cell(v) for v in row] for row in motifs[columns].itertuples(index=False)],
                    "Motifs clustered from attribution seqlets (motifs.jaspar); best match in "
                    f"{summary.get('motif_database') or 'no database (interpret.motif_database unset)'}.",
                    numeric=False,
                )
            )
        else:
            blocks.append(_note(f"No attribution motif with at least the configured seqlets ({label})."))
    return blocks


def _interpretation(results: Path) -> Block:
    """ISM heatmaps and gradient x input of the top zero-shot variants; the int8 compression table."""
    blocks: list[Block] = []
    for task_dir in sorted(p for p in (results / "interpret").glob("*") if (p / "summary.json").is_file()):
        summary = _read_json(task_dir / "summary.json")
        ism = _read_table(task_dir / "ism.tsv", dtype={"id": str})
        variants = summary.get("variants", [])
        if ism is None or not variants:
            continue
        blocks.append(_h3(f"Interpretation: {task_dir.name}", _slug("interpret", task_dir.name)))
        blocks.append(
            _p(
                f"In-silico mutagenesis of every base within {summary.get('flank')} bp of the top "
                f"{len(variants)} zero-shot test variants, scored like the zero-shot method (minus the "
                "log-likelihood ratio, both strands; red = the model finds the mutation less likely, 0 at "
                f"the reference base). Model: {summary.get('model')}. "
                f"Gradient x input: {summary.get('gradients')}."
            )
        )
        titles = [
            f"{v['id']} {v.get('ref', '')}>{v.get('alt', '')} ({v.get('label', '?')})" for v in variants
        ]
        fig = make_subplots(rows=len(variants), cols=1, subplot_titles=titles, shared_xaxes=True)
        for row, v in enumerate(variants, start=1):
            grid = ism[ism["id"] == str(v["id"])].pivot(index="alt_base", columns="rel_pos", values="score")
            fig.add_heatmap(
                z=grid.to_numpy(),
                x=grid.columns.tolist(),
                y=grid.index.tolist(),
                coloraxis="coloraxis",
                hovertemplate="pos %{x}, %{y}: %{z:.3f}<extra></extra>",
                row=row,
                col=1,
            )
        fig.update_layout(
            height=140 * len(variants) + 80,
            coloraxis={"colorscale": "RdBu_r", "cmid": 0, "colorbar_title": "score"},
        )
        fig.update_xaxes(title_text="position relative to the variant (bp)", row=len(variants), col=1)
        blocks.append(_figure(fig))
        attr = _read_table(task_dir / "attributions.tsv", dtype={"id": str})
        if attr is not None and len(attr):
            grad = go.Figure()
            for vid, part in attr.groupby("id", sort=False):
                grad.add_scatter(x=part["rel_pos"], y=part["grad_x_input"], mode="lines+markers", name=vid)
            grad.update_layout(
                xaxis_title="position relative to the variant (bp)", yaxis_title="gradient x input"
            )
            blocks.append(_figure(grad))
        blocks.append(
            _table(
                ["Variant", "Label", "Zero-shot score", "ISM score", "Strongest other position"],
                [
                    [
                        str(v["id"]),
                        str(v.get("label", "–")),
                        v.get("score"),
                        v.get("ism_score"),
                        v.get("strongest_other_position"),
                    ]
                    for v in variants
                ],
                "ISM score: the variant's own entry of its matrix, recomputed (equals the zero-shot score).",
            )
        )
    blocks += _classifier_interpretation(results)
    compress = _read_json(results / "compress" / "metrics.json")
    if compress:
        timing = _read_json(results / "compress" / "timing.json") or {}
        models = compress.get("models", {})
        tasks = compress.get("disease_risk", {})
        rows = [
            [
                name,
                _bytes(m.get("size_bytes")),
                timing.get("sequences_per_s", {}).get(name),
                m.get("test_lm", {}).get("loss"),
                m.get("test_lm", {}).get("accuracy"),
                *(_with_ci(t.get("auroc", {}).get(name)) for t in tasks.values()),
            ]
            for name, m in models.items()
        ]
        blocks.append(_h3("Compression", "compression"))
        blocks.append(
            _table(
                ["Model", "Size", "Sequences/s (CPU)", "Test LM loss", "Test token accuracy"]
                + [f"{t} zero-shot AUROC [95% CI]" for t in tasks],
                rows,
                f"{compress.get('method')}: size ratio {_fmt(compress.get('size_ratio'))}, speed-up "
                f"{_fmt(timing.get('speedup'))} on {_fmt(compress.get('n_windows'))} test windows with "
                f"{_fmt(timing.get('threads'))} threads; same seeded masks and test variants for both. "
                + " ".join(
                    f"{t}: Spearman {_fmt(v.get('spearman'))} between fp32 and int8 scores."
                    for t, v in tasks.items()
                ),
            )
        )
    blocks += _distillation(results)
    if not blocks:
        blocks.append(
            _note("Not run (config keys interpret.enabled, compress.enabled and compress.distill.enabled).")
        )
    return _section("interpretation", "Interpretation & compression", blocks)


DISTILL_NAMES = {
    "teacher": "teacher (finetune_full)",
    "student": "distilled student",
    "int8_teacher": "int8 teacher",
}


def _distillation(results: Path) -> list[Block]:
    """Per gene-function task: the fine-tuned teacher beside its distilled student and its int8 copy."""
    blocks: list[Block] = []
    for path in sorted((results / "compress").glob("*/comparison.json")):
        comparison = _read_json(path)
        timing = _read_json(path.parent / "distill" / "timing.json") or {}
        student = _read_json(path.parent / "distill" / "metrics.json") or {}
        headline = comparison.get("headline", "macro_f1")
        speed = timing.get("genes_per_s", {})
        models = comparison.get("models", {})
        rows = [
            [
                DISTILL_NAMES[name],
                m.get("parameters"),
                _bytes(m.get("size_bytes")),
                speed.get(name),
                _with_ci(m.get(headline)),
                comparison.get("metric_change", {}).get(name),
                m.get("agreement_with_teacher"),
            ]
            for name in DISTILL_NAMES
            if (m := models.get(name))
        ]
        shape = student.get("student_config", {})
        settings = student.get("settings", {})
        blocks.append(_h3(f"Compression: {path.parent.name}", _slug("compress", path.parent.name)))
        blocks.append(
            _table(
                ["Model", "Parameters", "Size", "Genes/s (CPU)", f"Test {headline} [95% CI]", "Change"]
                + ["Agreement with teacher"],
                rows,
                f"Same {_fmt(comparison.get('n_test'))} test genes for all; student: {shape.get('layers')} "
                f"layers, width {shape.get('hidden_size')}, {shape.get('heads')} heads, initialised from "
                f"{settings.get('init')}, trained {_fmt(timing.get('train_seconds'), 1)} s with T = "
                f"{settings.get('temperature')}, alpha = {settings.get('alpha')} (best epoch "
                f"{student.get('best_epoch')}); throughput with batch {timing.get('batch_size')} and "
                f"{_fmt(timing.get('threads'))} threads, best of 3. Agreement: share of test decisions "
                "equal to the teacher's.",
            )
        )
    return blocks


def _cell(value: Any) -> str:
    if pd.isna(value):
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3f}"
    return str(value)


def _provenance(results: Path, config: dict, workflow_dir: Path, generated: str) -> Block:
    blocks: list[Block] = [_h3("Sources")]
    rows = []
    for path in sorted((results / "data").glob("*.provenance.json")):
        p = _read_json(path)
        rows.append(
            [
                path.name.removesuffix(".provenance.json"),
                str(p.get("source", "–")),
                _bytes(p.get("size")),
                str(p.get("md5", "–")),
                str(p.get("sha256", "–")),
                str(p.get("fetched_at", "–")),
                _fmt(p.get("from_cache")),
            ]
        )
    blocks.append(
        _table(["Input", "Source", "Size", "MD5", "SHA-256", "Fetched", "From cache"], rows, numeric=False)
        if rows
        else _note("No provenance records (data/*.provenance.json) in this run.")
    )
    commit, dirty = _git_state(workflow_dir)
    blocks.append(_h3("Software"))
    blocks.append(
        _kv(
            [
                ("Workflow commit", commit),
                ("Uncommitted changes", dirty),
                ("Python", platform.python_version()),
                *((name, _version(name)) for name in PACKAGES),
            ]
        )
    )
    blocks.append(_h3("Hardware (machine that generated this report)"))
    blocks.append(_kv(_hardware()))
    blocks.append(_h3("Run times per rule"))
    blocks.extend(_benchmarks(results / "benchmarks"))
    blocks.append(_h3("Configuration as run"))
    plain = json.loads(json.dumps(config, default=str))
    blocks.append({"kind": "pre", "text": yaml.safe_dump(plain, sort_keys=False, default_flow_style=False)})
    blocks.append(_p(f"Report generated {generated}."))
    return _section("provenance", "Provenance", blocks)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_state(directory: Path) -> tuple[str, str]:
    """(commit, "yes"/"no" for uncommitted changes), or "unknown" when not a git checkout."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return "unknown", "unknown"
    status = git("status", "--porcelain")
    return commit.strip(), "unknown" if status is None else ("yes" if status.strip() else "no")


def _hardware() -> list[tuple[str, str]]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        memory = _bytes(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        memory = "unknown"
    return [
        ("Platform", platform.platform()),
        ("CPU count", _fmt(os.cpu_count())),
        ("CPU model", cpu),
        ("Memory", memory),
    ]


def _benchmarks(directory: Path) -> list[Block]:
    rows = []
    for path in sorted(directory.rglob("*.tsv")):
        table = _read_table(path)
        if table is None or "s" not in table or table.empty:
            continue
        seconds = pd.to_numeric(table["s"], errors="coerce").mean()
        rss = pd.to_numeric(table.get("max_rss", pd.Series(dtype=float)), errors="coerce").max()
        rows.append([path.relative_to(directory).with_suffix("").as_posix(), seconds, rss])
    if not rows:
        return [_note("No benchmark files (benchmarks/**/*.tsv) in this run.")]
    fig = go.Figure(go.Bar(x=[r[1] for r in rows], y=[r[0] for r in rows], orientation="h"))
    fig.update_layout(
        xaxis_title="wall time (s)",
        yaxis={"autorange": "reversed"},
        height=120 + 24 * len(rows),
        showlegend=False,
    )
    table_rows = [
        [
            r[0],
            _fmt(r[1], 1),
            str(dt.timedelta(seconds=round(r[1]))) if _is_number(r[1]) else "–",
            _fmt(r[2], 1),
        ]
        for r in rows
    ]
    return [_table(["Rule", "Wall time (s)", "h:m:s", "Max RSS (MB)"], table_rows), _figure(fig)]


# --- rendering -------------------------------------------------------------------------------------


def _render(title: str, subtitle: str, sections: list[Block], banner: str | None, generated: str) -> str:
    """Render sections through the template; figures become inline divs with sequential ids."""
    count = 0
    for section in sections:
        for block in section["blocks"]:
            if block["kind"] == "figure":
                count += 1
                fig = block.pop("fig")
                # A title above subplot titles needs more room, or the two overlap.
                top = 90 if fig.layout.title.text and fig.layout.annotations else 50
                fig.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": top, "b": 50})
                if fig.layout.height is None:
                    fig.update_layout(height=380)
                block["html"] = Markup(
                    fig.to_html(
                        full_html=False,
                        include_plotlyjs=False,
                        div_id=f"fig-{count}",
                        config={"displaylogo": False, "responsive": True},
                    )
                )
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("genolm", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("report.html").render(
        title=title,
        subtitle=subtitle,
        sections=sections,
        banner=banner,
        generated=generated,
        plotly_js=Markup(plotly.offline.get_plotlyjs()),
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def build_report(
    results_dir: str | Path,
    out_html: str | Path,
    *,
    config: dict,
    synthetic: bool,
    workflow_dir: str | Path,
) -> None:
    """Write the run's report: one self-contained HTML file that opens offline."""
    results = Path(results_dir)
    if not results.is_dir():
        raise GenolmError(f"{results}: results directory not found")
    generated = _now()
    tasks = {family: _tasks(results, family) for family in FAMILIES}
    sections = [
        _overview(results, tasks),
        _data(results),
        _pretraining(results),
        *(
            _family(results, family, tasks[family], bool((config.get(family) or {}).get("tasks")))
            for family in FAMILIES
        ),
        _interpretation(results),
        _provenance(results, config, Path(workflow_dir), generated),
    ]
    run = str(config.get("run") or results.name)
    html = _render(
        f"GenoLM report: {run}", str(results), sections, _banner_text() if synthetic else None, generated
    )
    write_text(out_html, html)


def compare_runs(run_dirs: list[str | Path], out_html: str | Path) -> None:
    """Write one page putting two or more runs side by side: pretraining curves and task metrics."""
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
    sections = [_compare_overview(runs), _compare_pretraining(runs), _compare_tasks(runs)]
    html = _render("GenoLM run comparison", " · ".join(names), sections, None, _now())
    write_text(out_html, html)


def _compare_overview(runs: dict[str, Path]) -> Block:
    rows = []
    for name, path in runs.items():
        summary = _read_json(path / "preprocess" / "summary.json") or {}
        pretrain = _read_json(path / "pretrain" / "metrics.json") or {}
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
    columns = [
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
    return _section("runs", "Runs", [_table(columns, [[_fmt(c) for c in r] for r in rows])])


def _compare_pretraining(runs: dict[str, Path]) -> Block:
    """Train and val loss curves side by side, one colour per run in both panels."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("train loss", "val loss"), shared_yaxes=True)
    for i, (name, path) in enumerate(runs.items()):
        log = _read_table(path / "pretrain" / "log.csv", sep=",")
        if log is None or not {"step", "phase", "loss"} <= set(log.columns):
            continue
        colour = PALETTE[i % len(PALETTE)]
        for col, phase in enumerate(("train", "val"), start=1):
            part = log[log["phase"] == phase]
            fig.add_scatter(
                x=part["step"],
                y=part["loss"],
                name=name,
                legendgroup=name,
                showlegend=col == 2,
                line_color=colour,
                mode="lines" if phase == "train" else "lines+markers",
                row=1,
                col=col,
            )
    if not fig.data:
        return _section("pretraining", "Pretraining", [_note("No pretraining logs in these runs.")])
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="loss", row=1, col=1)
    fig.update_layout(legend_title="run")
    return _section("pretraining", "Pretraining", [_figure(fig)])


def _compare_tasks(runs: dict[str, Path]) -> Block:
    blocks: list[Block] = []
    links = []
    per_run = {name: {f: _tasks(path, f) for f in FAMILIES} for name, path in runs.items()}
    for family, title in FAMILIES.items():
        tasks = sorted({t for r in per_run.values() for t in r[family]})
        for task in tasks:
            anchor = _slug(family, task)
            links.append(_link(f"{title}: {task}", anchor))
            blocks.append(_h3(f"{title}: {task}", anchor))
            by_run = {run: r[family].get(task, {}) for run, r in per_run.items()}
            blocks.append(_compare_headline(by_run, HEADLINE[family]))
            entries = [(run, m, d) for run, methods in by_run.items() for m, d in methods.items()]
            metric_names = [m for m in METRICS if any(m in d.get("metrics", {}) for _, _, d in entries)]
            blocks.append(_figure(_compare_bars(per_run, family, task, metric_names)))
            rows = [
                [run, m, *(_with_ci(d.get("metrics", {}).get(k)) for k in metric_names)]
                for run, m, d in entries
            ]
            blocks.append(_table(["Run", "Method", *metric_names], rows, "All metrics, 95% bootstrap CIs."))
    if not blocks:
        blocks.append(_note("No task metrics in these runs."))
    return _section("tasks", "Tasks", blocks, links)


def _compare_headline(by_run: dict[str, dict[str, dict]], metric: str) -> Block:
    """One row per method, one column per run; with two runs, the difference second minus first."""
    methods = sorted({m for methods in by_run.values() for m in methods}, key=_method_rank)
    names = list(by_run)
    rows = []
    for method in methods:
        values = [by_run[run].get(method, {}).get("metrics", {}).get(metric) for run in names]
        row = [method, _role(method), *(_with_ci(v) for v in values)]
        if len(names) == 2:
            a, b = (v.get("value") if v else None for v in values)
            row.append(f"{b - a:+.3f}" if _is_number(a) and _is_number(b) else "–")
        rows.append(row)
    delta = [f"Δ ({names[1]} − {names[0]})"] if len(names) == 2 else []
    return _table(
        ["Method", "Role", *names, *delta],
        rows,
        f"{metric} on the held-out test split per run, 95% bootstrap CIs; runs side by side.",
        numeric=False,
    )


def _compare_bars(per_run: dict, family: str, task: str, metric_names: list[str]) -> go.Figure:
    """One panel per metric; methods on the x axis, one bar per run with 95% CI error bars."""
    cols = min(3, len(metric_names)) or 1
    n_rows = math.ceil(len(metric_names) / cols) or 1
    fig = make_subplots(rows=n_rows, cols=cols, subplot_titles=metric_names)
    for i, (run, tasks) in enumerate(per_run.items()):
        methods = tasks[family].get(task, {})
        for j, metric in enumerate(metric_names):
            ms = [m.get("metrics", {}).get(metric, {}) for m in methods.values()]
            ok = [
                _is_number(m.get("ci_low")) and _is_number(m.get("ci_high")) and _is_number(m.get("value"))
                for m in ms
            ]
            fig.add_bar(
                x=list(methods),
                y=[m.get("value") for m in ms],
                name=run,
                legendgroup=run,
                showlegend=j == 0,
                marker_color=PALETTE[i % len(PALETTE)],
                error_y={
                    "type": "data",
                    "array": [m["ci_high"] - m["value"] if o else None for m, o in zip(ms, ok, strict=True)],
                    "arrayminus": [
                        m["value"] - m["ci_low"] if o else None for m, o in zip(ms, ok, strict=True)
                    ],
                },
                row=j // cols + 1,
                col=j % cols + 1,
            )
    fig.update_layout(barmode="group", height=300 * n_rows + 80, legend_title="run")
    return fig
