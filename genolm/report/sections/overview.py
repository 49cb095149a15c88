"""The first screen: the run in five numbers and, per task, the two questions a user asks first.

Does the best model method beat the best baseline? Does pretraining beat the same model trained from a
random initialisation? Both are answered on the same test rows with paired bootstrap 95% CIs.
"""

from __future__ import annotations

from pathlib import Path

from genolm.names import BASELINE_METHODS, MODEL_METHODS, PRETRAINING_CONTROLS
from genolm.report.format import Block, fmt, is_number, link, note, section, slug, stats, table, with_ci
from genolm.report.load import FAMILIES, HEADLINE, Run, best, read_json
from genolm.report.paired import compare

COLUMNS = [
    "Family",
    "Task",
    "Metric",
    "Best model",
    "Value [95% CI]",
    "Best baseline",
    "Value [95% CI]",
    "Δ [paired 95% CI]",
    "Verdict",
    "Warnings",
]
LABEL_SUMMARIES = {"gene_function": "genes", "disease_risk": "variants"}
CAPTION = (
    "Does the model beat what you could get without it? Headline metric (higher is better) on the held-out "
    "test split: the best model method against the best baseline, each with its 95% bootstrap CI, and their "
    "difference with a paired bootstrap 95% CI over the test rows both scored. Verdict: which is better "
    "when that CI excludes 0. Warnings: where the test split is too small for its numbers to mean much."
)
PRETRAINING_COLUMNS = [
    "Family",
    "Task",
    "Metric",
    "Pretrained",
    "Value",
    "Random init",
    "Value",
    "Δ [paired 95% CI]",
    "Verdict",
]
PRETRAINING_CAPTION = (
    "Did pretraining help? Each pretrained method against the same architecture and recipe started from "
    "randomly initialised weights, on the same test rows (paired bootstrap 95% CI of the difference)."
)


def overview_section(run: Run) -> Block:
    """Headline numbers of the run and the model-against-baseline table, one row per task."""
    tasks = run.tasks
    summary = read_json(run.results / "preprocess" / "summary.json") or {}
    pretrain = read_json(run.results / "pretrain" / "metrics.json") or {}
    blocks: list[Block] = [
        stats(
            [
                ("bases", fmt(summary.get("bases_read"))),
                ("windows kept", fmt(summary.get("windows_kept"))),
                ("model parameters", fmt(pretrain.get("parameters"))),
                ("val perplexity", fmt((pretrain.get("val") or {}).get("perplexity"))),
                ("tasks", str(sum(len(t) for t in tasks.values()))),
            ]
        )
    ]
    rows = [
        _headline_row(run.results / family / task, family, task, methods)
        for family, family_tasks in tasks.items()
        for task, methods in family_tasks.items()
    ]
    if not rows:
        blocks.append(note("No task metrics found in this run."))
        return section("overview", "Overview", blocks)
    blocks.append(table(COLUMNS, rows, CAPTION, numeric=False))
    pretraining = [
        row
        for family, family_tasks in tasks.items()
        for task, methods in family_tasks.items()
        for row in _pretraining_rows(run.results / family / task, family, task, methods)
    ]
    if pretraining:
        blocks.append(table(PRETRAINING_COLUMNS, pretraining, PRETRAINING_CAPTION, numeric=False))
    return section("overview", "Overview", blocks)


def _multilabel(methods: dict[str, dict]) -> bool:
    return any(d.get("task_type") == "multilabel" for d in methods.values())


def _difference(task_dir: Path, family: str, a: str, b: str, metric: str, methods: dict) -> tuple[str, str]:
    """The paired difference as "+0.123 [+0.050, +0.190]" and its verdict, "–" where it cannot be had."""
    diff = compare(task_dir, family, a, b, metric, _multilabel(methods))
    if diff is None or not all(is_number(diff[k]) for k in ("value", "ci_low", "ci_high")):
        return "–", "–"
    text = f"{diff['value']:+.3f} [{diff['ci_low']:+.3f}, {diff['ci_high']:+.3f}]"
    if diff["ci_low"] > 0:
        return text, f"{a} better"
    if diff["ci_high"] < 0:
        return text, f"{b} better"
    return text, "no clear difference"


def _headline_row(task_dir: Path, family: str, task: str, methods: dict[str, dict]) -> list:
    """One task's row: best model method and best baseline on the family's headline metric."""
    metric = HEADLINE[family]
    model = best(methods, metric, MODEL_METHODS)
    base = best(methods, metric, BASELINE_METHODS)
    delta, verdict = (
        _difference(task_dir, family, model[0], base[0], metric, methods) if model and base else ("–", "–")
    )
    return [
        FAMILIES[family],
        link(task, slug(family, task)),
        metric,
        model[0] if model else "–",
        with_ci(model[1] if model else None),
        base[0] if base else "–",
        with_ci(base[1] if base else None),
        delta,
        verdict,
        _warnings(task_dir.parents[1], family, task),
    ]


def _warnings(results: Path, family: str, task: str) -> str:
    """The task's label-summary warnings (e.g. too few test rows), joined; "–" when there are none."""
    summary = read_json(results / "labels" / LABEL_SUMMARIES[family] / f"{task}.summary.json") or {}
    return "⚠ " + "; ".join(summary["warnings"]) if summary.get("warnings") else "–"


def _pretraining_rows(task_dir: Path, family: str, task: str, methods: dict[str, dict]) -> list[list]:
    """One row per pretrained method whose random-init control ran on this task."""
    metric = HEADLINE[family]
    rows = []
    for pretrained, control in PRETRAINING_CONTROLS.items():
        if pretrained not in methods or control not in methods:
            continue
        delta, verdict = _difference(task_dir, family, pretrained, control, metric, methods)
        rows.append(
            [
                FAMILIES[family],
                link(task, slug(family, task)),
                metric,
                pretrained,
                with_ci(methods[pretrained].get("metrics", {}).get(metric)),
                control,
                with_ci(methods[control].get("metrics", {}).get(metric)),
                delta,
                verdict,
            ]
        )
    return rows
