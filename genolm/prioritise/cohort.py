"""Cohort mode: per-gene burdens of rare alt alleles, weighted by method scores, tested for case status.

A sample's burden in a gene is the sum over the gene's qualifying variants of dosage x weight.
Qualifying: an SNV inside the gene's span, with alt allele frequency (diploid, over called samples)
above 0 and at most `max_af`, and scored by every method that weights the cohort, so that every
weighting sees the same variants. Weights: a method's score as a percentile rank among the cohort's
qualifying variants (scale-free, in (0, 1]); `unweighted` counts rare alt alleles (weight 1);
`consequence_weighted` uses a fixed severity per annotated consequence (CONSEQUENCE_WEIGHTS).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from genolm.consequence import ConsequenceIndex
from genolm.errors import GenolmError
from genolm.io.annotation import Gene, read_genes
from genolm.io.contigs import canonical_contig, reconcile_contigs
from genolm.io.fasta import decode, read_genome
from genolm.io.tables import read_table
from genolm.io.vcf import read_genotypes
from genolm.prioritise.burden import burden_test
from genolm.prioritise.genes import GeneIndex
from genolm.risk import CASE

LOG = logging.getLogger(__name__)
#: Fixed severity weights of the consequence-weighted baseline (classes of genolm.consequence).
CONSEQUENCE_WEIGHTS = {
    "stop_gained": 1.0,
    "start_lost": 1.0,
    "stop_lost": 0.8,
    "missense": 0.5,
    "non_coding_rna": 0.3,
    "utr_or_intron": 0.2,
    "synonymous": 0.1,
    "intergenic": 0.0,
}
BASELINE_WEIGHTINGS = ("unweighted", "consequence_weighted")


@dataclass(frozen=True)
class Cohort:
    """Labelled samples and their SNV dosages (missing calls count as no alt allele)."""

    samples: list[str]
    y: np.ndarray  # 1 = case
    covariates: np.ndarray | None  # (samples, k)
    variants: pd.DataFrame  # contig, pos, ref, alt, af
    dosage: np.ndarray  # (variants, samples) float


def read_cohort(
    genotypes: str | Path, labels: str | Path, covariates: list[str] | tuple[str, ...] = ()
) -> Cohort:
    """The samples both files share, with case status, covariates and SNV dosages.

    Raises:
        GenolmError: unreadable files, unknown labels or covariates, no shared samples, one class only.
    """
    table = read_table(labels, {"sample": str, "label": str, **{c: str for c in covariates}})
    status = table["label"].str.strip().str.lower().map(CASE)
    if status.isna().any():
        line = int(status.isna().to_numpy().argmax()) + 2
        raise GenolmError(
            f"{labels}:{line}: label {table['label'][status.isna()].iloc[0]!r} is not case, control, 1 or 0"
        )
    samples, records = read_genotypes(genotypes)
    where = {s: i for i, s in enumerate(samples)}
    keep = table["sample"].isin(where).to_numpy()
    if not keep.any():
        raise GenolmError(f"{labels}: none of its samples is in {genotypes}")
    if not keep.all():
        LOG.warning("%s: %d samples are not in %s; left out", labels, int((~keep).sum()), genotypes)
    table, status = table[keep], status[keep].to_numpy(dtype=int)
    if len(np.unique(status)) < 2:
        raise GenolmError(f"{labels}: the samples in {genotypes} need both cases and controls")
    cols = [int(where[s]) for s in table["sample"]]
    snvs = [(v, d) for v, d in records if len(v.ref) == 1 and len(v.alt) == 1]
    LOG.info("%s: %d SNV alleles of %d, %d labelled samples", genotypes, len(snvs), len(records), len(cols))
    if not snvs:
        raise GenolmError(f"{genotypes}: no SNV with genotypes")
    raw = np.stack([d for _, d in snvs])[:, cols].astype(float)
    called = (raw >= 0).sum(1)
    dosage = np.where(raw < 0, 0.0, raw)
    variants = pd.DataFrame(
        [(v.contig, v.pos, v.ref.upper(), v.alt.upper()) for v, _ in snvs],
        columns=["contig", "pos", "ref", "alt"],
    )
    variants["af"] = dosage.sum(1) / np.maximum(1, 2 * called)
    return Cohort(list(table["sample"]), status, _covariates(table, covariates, labels), variants, dosage)


def _covariates(table: pd.DataFrame, names, path) -> np.ndarray | None:
    if not names:
        return None
    values = table[list(names)].apply(pd.to_numeric, errors="coerce")
    if values.isna().any().any():
        name = values.columns[values.isna().any()][0]
        raise GenolmError(f"{path}: covariate {name!r} has a value that is not a number")
    return values.to_numpy(dtype=float)


def variant_keys(table: pd.DataFrame) -> list[tuple[str, int, str, str]]:
    """(contig key, pos, ref, alt) per row, contig names matched spelling-independently."""
    return [
        (canonical_contig(c), int(p), r.upper(), a.upper())
        for c, p, r, a in zip(table["contig"], table["pos"], table["ref"], table["alt"], strict=True)
    ]


def consequence_weights(variants: pd.DataFrame, annotation: str | Path, genome: str | Path) -> np.ndarray:
    """CONSEQUENCE_WEIGHTS of each variant's annotated consequence (genolm.consequence, standard code)."""
    seqs = read_genome(genome)
    genes = read_genes(annotation)
    to_genome = reconcile_contigs({g.contig for g in genes}, seqs, source=str(annotation))
    renamed = [Gene(**{**g.__dict__, "contig": to_genome[g.contig]}) for g in genes]
    index = ConsequenceIndex(renamed, {c: decode(seqs[c]) for c in set(to_genome.values())})
    contig = reconcile_contigs(set(variants["contig"]), seqs, source="cohort genotypes")
    kinds = [
        index(contig[c], int(p) - 1, a).kind
        for c, p, a in zip(variants["contig"], variants["pos"], variants["alt"], strict=True)
    ]
    return np.array([CONSEQUENCE_WEIGHTS[k] for k in kinds])


def cohort_burden_tests(
    cohort: Cohort,
    index: GeneIndex,
    method_scores: dict[str, pd.DataFrame],
    severity: np.ndarray,
    *,
    max_af: float = 0.05,
    permutations: int = 1000,
    permutation_below: int = 20,
    seed: int = 42,
) -> tuple[pd.DataFrame, dict]:
    """Burden test of every gene under every weighting (module docstring).

    Args:
        cohort: read_cohort's result.
        index: where the genes are.
        method_scores: method -> its scores of the cohort's variants (contig, pos, ref, alt, score).
        severity: consequence_weights of the cohort's variants.
        max_af: rare-variant cut.
        permutations, permutation_below, seed: see genolm.prioritise.burden.burden_test.

    Returns:
        Rows (method, gene, n_qualifying and burden_test's columns) and a summary of the qualifying set.
    """
    keys = variant_keys(cohort.variants)
    weights = {"unweighted": np.ones(len(keys)), "consequence_weighted": severity}
    for method, table in method_scores.items():
        score = dict(zip(variant_keys(table), table["score"], strict=True))
        weights[method] = np.array([score.get(k, np.nan) for k in keys])
    af = cohort.variants["af"].to_numpy()
    scored = (
        np.all([~np.isnan(weights[m]) for m in method_scores], axis=0)
        if method_scores
        else np.ones(len(af), bool)
    )
    rare = (af > 0) & (af <= max_af)
    pairs = [
        (i, gene)
        for i, (c, p) in enumerate(zip(cohort.variants["contig"], cohort.variants["pos"], strict=True))
        if rare[i] and scored[i]
        for gene in index.genes_at(c, int(p))
    ]
    if not pairs:
        raise GenolmError(f"cohort: no rare (0 < AF <= {max_af}) scored SNV lies in an annotated gene")
    by_gene = (
        pd.DataFrame(pairs, columns=["variant", "gene"]).groupby("gene", sort=True)["variant"].apply(list)
    )
    qualifying = sorted({i for i, _ in pairs})
    for method in method_scores:  # percentile rank among the qualifying variants
        w = np.full(len(keys), np.nan)
        w[qualifying] = rankdata(weights[method][qualifying]) / len(qualifying)
        weights[method] = w
    parts = []
    for name, w in weights.items():
        burden = np.stack([w[idx] @ cohort.dosage[idx] for idx in by_gene])
        result = burden_test(
            burden,
            cohort.y,
            cohort.covariates,
            permutations=permutations,
            permutation_below=permutation_below,
            seed=seed,
        )
        result.insert(0, "n_qualifying", [len(idx) for idx in by_gene])
        result.insert(0, "gene", list(by_gene.index))
        result.insert(0, "method", name)
        parts.append(result)
    summary = {
        "n_samples": len(cohort.samples),
        "n_cases": int(cohort.y.sum()),
        "n_snvs": len(keys),
        "n_rare": int(rare.sum()),
        "n_unscored": int((~scored).sum()),
        "n_qualifying": len(qualifying),
        "max_af": max_af,
        "weightings": list(weights),
    }
    return pd.concat(parts, ignore_index=True), summary
