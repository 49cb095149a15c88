"""Gene prioritisation: genes ranked by predicted-damaging burden, and the cohort burden test where run.

Reads only `prioritise/<task>/genes.tsv` and `metrics.json` (see `genolm.prioritise`). On the demo the
planted causal genes are known, so each weighting's recall@10 and the planted genes' ranks say whether
the language model's scores find them better than the unweighted and consequence-weighted baselines.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genolm.report.figures import gene_manhattan
from genolm.report.format import Block, figure, fmt, frame_rows, h3, note, section, slug, table
from genolm.report.load import Run, read_json, read_table, require

TOP_GENES = 10
GENE_COLUMNS = (
    "rank",
    "gene",
    "contig",
    "start",
    "end",
    "n_variants",
    "n_damaging",
    "max_score",
    "beta",
    "p",
    "q",
)
RECALL_CAPTION = (
    "Per weighting: how genes were ranked, the recall of known (on the demo: planted causal) genes among "
    "the top 10, their ranks, and for the burden test the genomic inflation λGC (≈ 1 when p-values are "
    "calibrated) and the genes at BH q < 0.05. unweighted and consequence_weighted are the baselines a "
    "language-model weighting must beat."
)


def prioritise_section(run: Run) -> Block:
    """One block of tables and a genome-wide plot per disease-risk task that was prioritised."""
    tasks = sorted(p.parent for p in (run.results / "prioritise").glob("*/metrics.json"))
    if not tasks:
        return section("prioritise", "Gene prioritisation", [note("Not run in this configuration.")])
    blocks: list[Block] = []
    links = []
    for task_dir in tasks:
        anchor = slug("prioritise", task_dir.name)
        links.append({"text": task_dir.name, "href": anchor})
        blocks += [h3(task_dir.name, anchor), *_task_blocks(task_dir)]
    return section("prioritise", "Gene prioritisation", blocks, links)


def _task_blocks(task_dir: Path) -> list[Block]:
    metrics = read_json(task_dir / "metrics.json") or {}
    path = task_dir / "genes.tsv"
    genes = read_table(path, dtype={"gene": str, "contig": str, "method": str})
    if genes is None:
        return [note(f"{path.name} is missing.")]
    require(genes, ("method", "rank", "gene", "contig", "start", "p"), path)
    methods = metrics.get("methods", {})
    known = set(metrics.get("known_genes") or [])
    blocks: list[Block] = [table(*_recall_table(methods, known), RECALL_CAPTION, numeric=False)]
    burden = [m for m, d in methods.items() if d.get("rank_by") == "burden_p"]
    for method in burden or list(methods)[:1]:
        part = genes[genes["method"] == method].sort_values("rank", kind="stable")
        columns, rows = frame_rows(part.head(TOP_GENES), GENE_COLUMNS)
        blocks.append(table(columns, rows, f"Top {TOP_GENES} genes weighted by {method}.", numeric=False))
        if method in burden:
            blocks.append(figure(gene_manhattan(part, known, _q_threshold(part))))
    cohort = metrics.get("cohort")
    if cohort:
        covariates = ", ".join(cohort.get("covariates") or []) or "none"
        blocks.append(
            note(
                f"Cohort: {fmt(cohort.get('n_samples'))} samples ({fmt(cohort.get('n_cases'))} cases), "
                f"{fmt(cohort.get('n_qualifying'))} qualifying rare SNVs (alt frequency ≤ "
                f"{fmt(cohort.get('max_af'))}); covariates: {covariates}."
            )
        )
    if any(d.get("rank_by") == "n_damaging" for d in methods.values()):
        blocks.append(
            note(
                "Methods ranked by n_damaging count each gene's test variants called damaging; with few "
                "test variants per gene, these rankings are coarse."
            )
        )
    return blocks


def _recall_table(methods: dict[str, dict], known: set[str]) -> tuple[list[str], list[list[str]]]:
    columns = ["Weighting", "Ranked by", "Genes", "recall@10", "Known-gene ranks", "λGC", "q < 0.05"]
    rows = []
    for method, d in methods.items():
        ranks = d.get("known_gene_ranks") or {}
        shown = (
            ", ".join(f"{g} {r if r is not None else '–'}" for g, r in sorted(ranks.items()))
            if known
            else "–"
        )
        rows.append(
            [
                method,
                str(d.get("rank_by", "–")),
                fmt(d.get("n_genes")),
                fmt(d.get("recall_at_10")),
                shown,
                fmt(d.get("lambda_gc")),
                fmt(d.get("n_q_below_0.05")),
            ]
        )
    return columns, rows


def _q_threshold(genes: pd.DataFrame) -> float | None:
    """The largest p-value among genes with BH q <= 0.05 (where the dashed line goes), if any."""
    if "q" not in genes:
        return None
    hits = genes[pd.to_numeric(genes["q"], errors="coerce") <= 0.05]
    return float(pd.to_numeric(hits["p"]).max()) if len(hits) else None
