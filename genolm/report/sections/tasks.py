"""The shape both task families share: per task, metric bars and a table of every method, then details."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from genolm.report.figures import metric_bars
from genolm.report.format import Block, figure, h3, link, note, p, section, slug, table, with_ci
from genolm.report.load import FAMILIES, METRICS, Run, method_rank, role

#: (task folder, that task's methods -> metrics) -> the family's own blocks for the task.
Details = Callable[[Path, dict[str, dict]], list[Block]]


def family_section(run: Run, family: str, details: Details) -> Block:
    """One family's section: every task's metrics for all methods, followed by `details` of the task.

    Args:
        run: the run being reported.
        family: "gene_function" or "disease_risk" (a key of `FAMILIES`).
        details: the family's per-task blocks (curves, confusion matrix, top variants ...).

    Returns:
        The section, with one navigation link per task; a note when the family has no results.
    """
    title = FAMILIES[family]
    methods_by_task = run.tasks[family]
    if not methods_by_task:
        why = (
            f"configured, but no results found under {family}/ (is the run complete?)"
            if run.configured(family)
            else "not configured for this run"
        )
        return section(family, title, [note(f"{title}: {why}.")])
    present = sorted({m for methods in methods_by_task.values() for m in methods}, key=method_rank)
    blocks: list[Block] = [
        p(
            "All methods are scored on the same held-out test split; intervals are 95% bootstrap CIs; "
            "Brier score and Hamming loss: lower is better. "
            f"Model: {', '.join(m for m in present if role(m) == 'model') or 'none'}; "
            f"baselines: {', '.join(m for m in present if role(m) == 'baseline') or 'none'}."
        )
    ]
    for task, methods in methods_by_task.items():
        blocks.append(h3(f"Task: {task}", slug(family, task)))
        blocks.extend(_metrics(methods))
        blocks.extend(details(run.results / family / task, methods))
    links = [link(task, slug(family, task)) for task in methods_by_task]
    return section(family, title, blocks, links)


def _metrics(methods: dict[str, dict]) -> list[Block]:
    """Bars of every metric any method reports, and the same numbers as a table with the row counts."""
    metric_names = [m for m in METRICS if any(m in d.get("metrics", {}) for d in methods.values())]
    rows = [
        [
            method,
            d.get("n_train"),
            d.get("n"),
            *(with_ci(d.get("metrics", {}).get(m)) for m in metric_names),
        ]
        for method, d in methods.items()
    ]
    return [
        figure(metric_bars(methods, metric_names)),
        table(["Method", "n train", "n test", *metric_names], rows),
    ]
