"""The pretrained model: its shape and final validation metrics, its hyperparameters and its curves."""

from __future__ import annotations

import json

from genolm.report.figures import pretrain_figures
from genolm.report.format import Block, figure, fmt, h3, kv, note, section
from genolm.report.load import Run, read_json, read_table, require

OBJECTIVES = {"mlm": "masked language modelling (MLM)", "clm": "causal language modelling (CLM)"}


def pretraining_section(run: Run) -> Block:
    """pretrain/metrics.json as tables and pretrain/log.csv as curves, each where present."""
    blocks: list[Block] = []
    metrics = read_json(run.results / "pretrain" / "metrics.json")
    if metrics is not None:
        blocks.append(_model(metrics))
        settings = metrics.get("settings") or {}
        if settings:
            blocks.append(h3("Hyperparameters"))
            blocks.append(
                kv(
                    [
                        (k, fmt(v) if not isinstance(v, dict | list) else json.dumps(v))
                        for k, v in settings.items()
                    ]
                )
            )
    log_path = run.results / "pretrain" / "log.csv"
    log = read_table(log_path, sep=",")
    if log is not None:
        require(log, ("step", "phase", "loss"), log_path)
        blocks.append(h3("Curves"))
        blocks.extend(figure(f) for f in pretrain_figures(log))
    if not blocks:
        blocks.append(note("No pretraining results (pretrain/metrics.json, pretrain/log.csv) in this run."))
    return section("pretraining", "Pretraining", blocks)


def _model(metrics: dict) -> Block:
    """The exported model's family, objective, size, training length and final validation metrics."""
    val = metrics.get("val") or {}
    return kv(
        [
            ("Model family", str(metrics.get("family", "–"))),
            ("Objective", OBJECTIVES.get(metrics.get("objective"), str(metrics.get("objective")))),
            ("Parameters", fmt(metrics.get("parameters"))),
            ("Steps", fmt(metrics.get("steps"))),
            ("Window (tokens)", fmt(metrics.get("window"))),
            (
                "Train / val windows",
                f"{fmt(metrics.get('train_windows'))} / {fmt(metrics.get('val_windows'))}",
            ),
            *((f"Val {k.replace('_', ' ')}", fmt(v)) for k, v in val.items()),
        ],
        "Final validation metrics of the exported model.",
    )
