"""Individual risk: combine per-variant scores over the alt alleles each person carries.

A person's `score_sum` is the dosage-weighted sum of the scores of the scored variants they carry
(a burden: every damaging allele adds up) and `score_max` is the score of their single worst carried
variant (a monogenic view: one pathogenic allele is enough). Scores come from a disease-risk
`scores.tsv` or from `genolm score-variants` (higher = more damaging); genotypes from a multi-sample
VCF. With case/control labels, AUROC says how well each combination ranks cases above controls.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from genolm.atomic import atomic_path, write_json
from genolm.errors import GenolmError
from genolm.io.contigs import canonical_contig
from genolm.io.tables import read_user_table
from genolm.io.vcf import read_genotypes
from genolm.metrics import classification_metrics

LOG = logging.getLogger(__name__)
CASE = {"1": 1, "case": 1, "0": 0, "control": 0}
RISK_SCORES = ("score_sum", "score_max")


def read_scores(path: str | Path) -> dict[tuple[str, int, str, str], float]:
    """(contig key, pos, ref, alt) -> score; contig names are matched spelling-independently (MT = chrM)."""
    table = read_user_table(path, dtype={"contig": str, "ref": str, "alt": str})
    missing = [c for c in ("contig", "pos", "ref", "alt", "score") if c not in table.columns]
    if missing:
        raise GenolmError(f"{path}: missing column(s) {', '.join(missing)}; expected a scores TSV")
    keys = [
        (canonical_contig(c), int(p), r.upper(), a.upper())
        for c, p, r, a in zip(table["contig"], table["pos"], table["ref"], table["alt"], strict=True)
    ]
    scores: dict[tuple[str, int, str, str], float] = {}
    for key, score in zip(keys, table["score"].astype(float), strict=True):
        if key in scores:
            raise GenolmError(f"{path}: variant {key[0]}:{key[1]} {key[2]}>{key[3]} is scored twice")
        scores[key] = score
    return scores


def read_case_labels(path: str | Path) -> dict[str, int]:
    """sample -> 1 (case) or 0 (control) from a TSV with columns sample and label (case/control or 1/0)."""
    table = read_user_table(path, ("sample", "label"), dtype=str)
    labels = table["label"].str.strip().str.lower()
    bad = labels[~labels.isin(CASE.keys())]
    if len(bad):
        raise GenolmError(
            f"{path}: label {bad.iloc[0]!r} of sample {table['sample'][bad.index[0]]!r} "
            "is not case, control, 1 or 0"
        )
    return dict(zip(table["sample"], labels.map(CASE), strict=True))


def individual_risk(
    scores_tsv: str | Path,
    genotypes_vcf: str | Path,
    out_tsv: str | Path,
    *,
    labels_tsv: str | Path | None = None,
    metrics_json: str | Path | None = None,
    seed: int = 42,
) -> pd.DataFrame:
    """Per-sample score_sum and score_max over carried scored alt alleles; AUROC when labels are given.

    A missing genotype counts as no alt allele (and is counted in `n_missing`); a sample carrying no
    scored variant has score_sum 0 and an empty score_max.
    """
    scores = read_scores(scores_tsv)
    samples, genotypes = read_genotypes(genotypes_vcf)
    if not samples:
        raise GenolmError(f"{genotypes_vcf}: no samples (genotype columns) in the VCF")
    kept = [
        (scores[key], dosage)
        for var, dosage in genotypes
        if (key := (canonical_contig(var.contig), var.pos, var.ref.upper(), var.alt.upper())) in scores
    ]
    LOG.info("%s: %d of %d alt alleles have a score", genotypes_vcf, len(kept), len(genotypes))
    if not kept:
        raise GenolmError(f"{genotypes_vcf}: none of its variants is in {scores_tsv}")
    score = np.array([s for s, _ in kept])
    dosage = np.stack([d for _, d in kept]).astype(float)  # (variants, samples)
    missing = dosage < 0
    dosage[missing] = 0
    carried = dosage > 0
    out = pd.DataFrame(
        {
            "sample": samples,
            "n_alleles": dosage.sum(0).astype(int),
            "n_variants": carried.sum(0),
            "n_missing": missing.sum(0),
            "score_sum": np.round(score @ dosage, 6),
            "score_max": np.round(np.where(carried, score[:, None], -np.inf).max(0), 6),
        }
    )
    out["score_max"] = out["score_max"].replace(-np.inf, np.nan)
    if labels_tsv is not None:
        out = _with_labels(out, read_case_labels(labels_tsv), labels_tsv)
    with atomic_path(out_tsv) as tmp:
        out.to_csv(tmp, sep="\t", index=False)
    if labels_tsv is not None and metrics_json is not None:
        write_json(metrics_json, risk_metrics(out, seed=seed))
    return out


def _with_labels(out: pd.DataFrame, labels: dict[str, int], path) -> pd.DataFrame:
    unknown = sorted(set(labels) - set(out["sample"]))
    if len(unknown) == len(labels):
        raise GenolmError(f"{path}: none of its samples ({', '.join(unknown[:3])}, ...) is in the VCF")
    if unknown:
        LOG.warning("%s: %d samples are not in the VCF, e.g. %s", path, len(unknown), unknown[:3])
    return out.assign(label=out["sample"].map(labels).astype("Int64"))


def risk_metrics(table: pd.DataFrame, *, seed: int = 42) -> dict:
    """AUROC and AUPRC (bootstrap 95% CIs) of each risk score for case vs control, over labelled samples.

    Non-carriers have no score_max; they rank below every carrier.
    """
    labelled = table.dropna(subset=["label"])
    y = labelled["label"].to_numpy(dtype=int)
    if len(set(y)) < 2:
        raise GenolmError("risk: labelled samples need both cases and controls for an AUROC")
    out: dict = {"n": int(len(y)), "n_cases": int(y.sum())}
    for name in RISK_SCORES:
        value = labelled[name].to_numpy(dtype=float)
        value = np.where(np.isnan(value), np.nanmin(value, initial=0) - 1, value)
        # Two columns (-s, s): AUROC/AUPRC read the second one as is, with no squashing (ties preserved).
        metrics = classification_metrics(y, np.column_stack([-value, value]), ["control", "case"], seed=seed)
        out[name] = {k: metrics["metrics"][k] for k in ("auroc", "auprc")}
        auroc = out[name]["auroc"]
        LOG.info(
            "%s: AUROC %.3f (95%% CI %.3f-%.3f)", name, auroc["value"], auroc["ci_low"], auroc["ci_high"]
        )
    return out
