"""The first screen: the run in five numbers, and per task the best model method against the best baseline."""

from __future__ import annotations

from genolm.names import MODEL_METHODS
from genolm.report.format import Block, fmt, is_number, link, note, section, slug, stats, table, with_ci
from genolm.report.load import FAMILIES, HEADLINE, Run, best, read_json

COLUMNS = [
    "Family",
    "Task",
    "Metric",
    "Best model",
    "Value [95% CI]",
    "Best baseline",
    "Value [95% CI]",
    "Δ",
    "Verdict",
]
CAPTION = (
    "Headline metric (higher is better) on the held-out test split: the best model method against the "
    "best baseline, with 95% bootstrap CIs. Verdict: which is better when the two intervals do not overlap."
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
        _headline_row(family, task, methods)
        for family, family_tasks in tasks.items()
        for task, methods in family_tasks.items()
    ]
    if rows:
        blocks.append(table(COLUMNS, rows, CAPTION, numeric=False))
    else:
        blocks.append(note("No task metrics found in this run."))
    return section("overview", "Overview", blocks)


def _headline_row(family: str, task: str, methods: dict[str, dict]) -> list:
    """One task's row: best model method and best baseline on the family's headline metric."""
    metric = HEADLINE[family]
    model = best(methods, metric, MODEL_METHODS)
    base = best({m: d for m, d in methods.items() if m not in MODEL_METHODS}, metric, None)
    delta = model[1]["value"] - base[1]["value"] if model and base else None
    return [
        FAMILIES[family],
        link(task, slug(family, task)),
        metric,
        model[0] if model else "–",
        with_ci(model[1] if model else None),
        base[0] if base else "–",
        with_ci(base[1] if base else None),
        f"{delta:+.3f}" if delta is not None else "–",
        verdict(model[1] if model else None, base[1] if base else None),
    ]


def verdict(model: dict | None, base: dict | None) -> str:
    """Which side wins when the two 95% CIs are disjoint; a conservative check, not a paired test."""
    if not model or not base:
        return "–"
    bounds = [model.get("ci_low"), model.get("ci_high"), base.get("ci_low"), base.get("ci_high")]
    if not all(is_number(b) for b in bounds):
        return "no CI"
    m_low, m_high, b_low, b_high = bounds
    if m_low > b_high:
        return "model better"
    if m_high < b_low:
        return "baseline better"
    return "CIs overlap"
