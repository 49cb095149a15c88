"""The prioritise stage: per-gene summaries of every method's scores and, with a cohort, burden tests,
ranked per method into one genes.tsv, with metrics.json saying where the known genes rank."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from genolm.atomic import write_json, write_tsv
from genolm.errors import GenolmError
from genolm.io.tables import read_table
from genolm.prioritise.burden import genomic_inflation
from genolm.prioritise.cohort import cohort_burden_tests, consequence_weights, read_cohort
from genolm.prioritise.genes import (
    GeneIndex,
    damaging_calls,
    read_gene_spans,
    read_method_scores,
    summarise_genes,
)

LOG = logging.getLogger(__name__)
TOP = 10  # recall_at_10
#: The burden tests' settings, by one name each as a task's `cohort` config key, a `genolm prioritise`
#: option and a keyword argument of `prioritise` (the workflow script and the CLI pass them on by it).
BURDEN_SETTINGS = ("covariates", "max_af", "permutations", "permutation_below")
COLUMNS = [
    "method",
    "rank",
    "rank_by",
    "gene",
    "contig",
    "start",
    "end",
    "known",
    "n_variants",
    "n_damaging",
    "mean_score",
    "max_score",
    "n_pathogenic",
    "enrichment_or",
    "enrichment_p",
    "n_qualifying",
    "n_carriers",
    "case_carriers",
    "beta",
    "se",
    "stat",
    "p_analytic",
    "p_permutation",
    "p",
    "p_source",
    "q",
]


def prioritise(
    annotation: str | Path,
    out_tsv: str | Path,
    metrics_json: str | Path,
    *,
    scores: dict[str, str | Path],
    genome: str | Path | None = None,
    genotypes: str | Path | None = None,
    labels: str | Path | None = None,
    cohort_scores: dict[str, str | Path] | None = None,
    covariates: list[str] | tuple[str, ...] = (),
    known_genes: str | Path | None = None,
    max_af: float = 0.05,
    permutations: int = 1000,
    permutation_below: int = 20,
    seed: int = 42,
) -> pd.DataFrame:
    """Rank genes per method and write genes.tsv (one row per method and gene) and metrics.json.

    Args:
        annotation: GFF3/GTF/GenBank giving the genes and their positions.
        out_tsv: genes.tsv to write (COLUMNS; rank 1 = first to follow up).
        metrics_json: per method: how genes were ranked, known-gene ranks, recall_at_10.
        scores: method -> scores TSV (contig, pos, ref, alt, score; label optional) summarised per gene.
        genome: reference FASTA; needed with a cohort (consequences for the consequence weighting).
        genotypes: cohort VCF with GT; with `labels` it turns on the burden tests.
        labels: TSV sample, label (case/control or 1/0) and the `covariates` columns.
        cohort_scores: method -> scores of the cohort's variants used as burden weights
            (default: `scores`, e.g. when the user scored the cohort VCF).
        covariates: columns of `labels` adjusted for in every test.
        known_genes: TSV with a `gene` column (known or planted causal genes) whose ranks are reported.
        max_af, permutations, permutation_below, seed: the burden tests' settings.

    Returns:
        The ranked table.

    Raises:
        GenolmError: unreadable inputs, or a cohort without labels, genotypes or genome.
    """
    if (genotypes is None) != (labels is None) or (genotypes is not None and genome is None):
        raise GenolmError("prioritise: a cohort needs genotypes, labels and the genome together")
    if not scores and genotypes is None:
        raise GenolmError("prioritise: nothing to rank; give scores, a cohort or both")
    spans = read_gene_spans(annotation)
    index = GeneIndex(spans)
    parts, info = _score_summaries(scores, index, seed)
    metrics: dict = {"family": "prioritise", "seed": seed}
    if genotypes is not None:
        cohort = read_cohort(genotypes, labels, covariates)
        chosen = scores if cohort_scores is None else cohort_scores
        tests, metrics["cohort"] = cohort_burden_tests(
            cohort,
            index,
            {m: read_method_scores(p) for m, p in chosen.items()},
            consequence_weights(cohort.variants, annotation, genome),
            max_af=max_af,
            permutations=permutations,
            permutation_below=permutation_below,
            seed=seed,
        )
        metrics["cohort"] |= {"covariates": list(covariates), "permutations": permutations}
        parts.append(tests)
    known = _known(known_genes)
    ranked = rank_genes(pd.concat(parts, ignore_index=True), spans, known)
    metrics["methods"] = _method_metrics(ranked, info, known)
    if known is not None:
        metrics["known_genes"] = sorted(known)
    write_tsv(out_tsv, ranked, float_format="%.6g")
    write_json(metrics_json, metrics)
    for method, m in metrics["methods"].items():
        LOG.info(
            "%s: %d genes ranked by %s, recall_at_10 %s",
            method,
            m["n_genes"],
            m["rank_by"],
            m.get("recall_at_10"),
        )
    return ranked


def _score_summaries(scores: dict, index: GeneIndex, seed: int) -> tuple[list[pd.DataFrame], dict]:
    """Each method's per-gene summary (tagged with the method) and how its damaging calls were made."""
    parts, info = [], {}
    for method, path in scores.items():
        table = read_method_scores(path)
        calls, rule = damaging_calls(table, seed=seed)
        summary = summarise_genes(table, index, calls)
        info[method] = {"n_scored": len(table), "n_genes_scored": len(summary), "damaging": rule}
        parts.append(summary.assign(method=method))
    return parts, info


def _known(path: str | Path | None) -> set[str] | None:
    return None if path is None else set(read_table(path, {"gene": str})["gene"])


def rank_genes(rows: pd.DataFrame, spans: pd.DataFrame, known: set[str] | None) -> pd.DataFrame:
    """Merge each method's summary and burden rows per gene, then rank within the method.

    A method with burden tests ranks by p (then by the score statistic); one without ranks by its
    damaging count, then its max score. Genes tie-break by name, so ranks are reproducible.

    Args:
        rows: per-gene rows of every method (score summaries and burden results, one or more per gene).
        spans: the annotation's genes with contig, start and end.
        known: genes flagged `known` (None or empty: none).

    Returns:
        The ranked table, `COLUMNS` (a column no method filled is NaN).
    """
    keys = ["method", "gene"]
    merged = rows.groupby(keys, sort=False).first().reset_index()
    merged = merged.merge(spans[["gene", "contig", "start", "end"]], on="gene", how="left")
    merged["known"] = merged["gene"].isin(known or ())
    out = []
    for _, part in merged.groupby("method", sort=False):
        if "p" in part and part["p"].notna().any():
            part = part.sort_values(["p", "stat", "gene"], ascending=[True, False, True], na_position="last")
            part = part.assign(rank_by="burden_p")
        else:
            part = part.sort_values(["n_damaging", "max_score", "gene"], ascending=[False, False, True])
            part = part.assign(rank_by="n_damaging")
        out.append(part.assign(rank=np.arange(1, len(part) + 1)))
    table = pd.concat(out, ignore_index=True)
    for column in COLUMNS:
        if column not in table:
            table[column] = np.nan
    return table[COLUMNS]


def _method_metrics(ranked: pd.DataFrame, info: dict, known: set[str] | None) -> dict:
    out = {}
    for method, part in ranked.groupby("method", sort=False):
        entry = {"n_genes": len(part), "rank_by": part["rank_by"].iloc[0], **info.get(method, {})}
        if entry["rank_by"] == "burden_p":
            p = part["p"].to_numpy(dtype=float)
            entry |= {
                "n_tested": int(np.sum(~np.isnan(p))),
                "n_q_below_0.05": int(np.sum(part["q"] < 0.05)),
                "lambda_gc": genomic_inflation(p),
                "n_permutation_p": int(np.sum(part["p_source"] == "permutation")),
            }
        if known is not None:
            ranks = dict(zip(part["gene"], part["rank"].astype(int), strict=True))
            entry["known_gene_ranks"] = {g: ranks.get(g) for g in sorted(known)}
            hits = sum(1 for g in known if ranks.get(g, TOP + 1) <= TOP)
            entry[f"recall_at_{TOP}"] = round(hits / len(known), 4) if known else None
        out[method] = entry
    return out
