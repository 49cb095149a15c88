"""Variants to genes, and each scoring method's per-gene summary of its variant scores.

A variant belongs to every annotated gene whose span holds it (genes may overlap; promoters lie outside
the span, as in genolm.consequence). Per gene and method: how many scored variants it holds, how many
the method calls damaging, their mean and max score, and where the scores carry ClinVar-style labels,
the enrichment of pathogenic labels in the gene (Fisher's exact test against all other genes).

The damaging threshold maximises Youden's J (sensitivity + specificity - 1) on labelled variants. A
disease-risk `scores.tsv` holds only test variants, so the threshold is cross-fitted: each variant's
call uses the threshold chosen on the other folds, and no variant's own label decides its call.
Without labels the method's top `UNLABELLED_TOP` fraction of scores is called damaging.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact

from genolm.errors import GenolmError
from genolm.io.annotation import read_genes
from genolm.io.contigs import canonical_contig
from genolm.io.tables import read_table

UNLABELLED_TOP = 0.1
FOLDS = 5
SCORE_COLUMNS = {"contig": str, "pos": int, "ref": str, "alt": str, "score": str}
_LABELS = {"pathogenic": 1, "benign": 0, "1": 1, "0": 0}


def read_gene_spans(annotation: str | Path) -> pd.DataFrame:
    """Genes of an annotation: gene (name, else id), contig, start and end (1-based inclusive), strand."""
    genes = read_genes(annotation)
    if not genes:
        raise GenolmError(f"{annotation}: no genes in the annotation")
    table = pd.DataFrame(
        {
            "gene": [g.name or g.id for g in genes],
            "contig": [g.contig for g in genes],
            "start": [g.start + 1 for g in genes],
            "end": [g.end for g in genes],
            "strand": [g.strand for g in genes],
        }
    )
    return table.drop_duplicates("gene").sort_values(["contig", "start", "gene"], ignore_index=True)


class GeneIndex:
    """Genes by spelling-independent contig key, for position look-ups of many variants."""

    def __init__(self, spans: pd.DataFrame) -> None:
        by_contig: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for gene, contig, start, end in spans[["gene", "contig", "start", "end"]].itertuples(index=False):
            by_contig[canonical_contig(contig)].append((int(start), int(end), gene))
        self._genes = {key: sorted(rows) for key, rows in by_contig.items()}
        self._starts = {key: [r[0] for r in rows] for key, rows in self._genes.items()}
        self._longest = max((e - s for rows in self._genes.values() for s, e, _ in rows), default=0)

    def genes_at(self, contig: str, pos: int) -> list[str]:
        """Names of the genes whose span holds 1-based `pos` of `contig`."""
        key = canonical_contig(contig)
        rows = self._genes.get(key, [])
        lo = bisect.bisect_left(self._starts.get(key, []), pos - self._longest)
        hi = bisect.bisect_right(self._starts.get(key, []), pos)
        return [gene for start, end, gene in rows[lo:hi] if start <= pos <= end]


def read_method_scores(path: str | Path) -> pd.DataFrame:
    """A scores TSV (contig, pos, ref, alt, score; optional label pathogenic/benign) with a 0/1 `y` column.

    Raises:
        GenolmError: a missing column, a score that is not a number or a label that is not known.
    """
    table = read_table(path, SCORE_COLUMNS)
    score = pd.to_numeric(table["score"], errors="coerce")
    if score.isna().any():
        line = int(score.isna().to_numpy().argmax()) + 2
        raise GenolmError(
            f"{path}:{line}: score is {table['score'][score.isna()].iloc[0]!r}, expected a number"
        )
    table["score"] = score.astype(float)
    if "label" in table:
        y = table["label"].str.lower().map(_LABELS)
        if y.isna().any():
            line = int(y.isna().to_numpy().argmax()) + 2
            raise GenolmError(
                f"{path}:{line}: label is {table['label'][y.isna()].iloc[0]!r}, expected pathogenic or benign"
            )
        table["y"] = y.astype(int)
    return table


def youden_threshold(score: np.ndarray, y: np.ndarray) -> float:
    """The score cut (call damaging at score >= cut) with the highest sensitivity + specificity."""
    cuts = np.unique(score)
    pos, neg = max(1, int(y.sum())), max(1, int((1 - y).sum()))
    j = [((score >= c) & (y == 1)).sum() / pos - ((score >= c) & (y == 0)).sum() / neg for c in cuts]
    return float(cuts[int(np.argmax(j))])


def damaging_calls(table: pd.DataFrame, *, seed: int = 42) -> tuple[np.ndarray, dict]:
    """Per-variant damaging calls and how they were made (see the module docstring).

    Returns:
        The boolean calls and a record: rule, and the threshold(s) used.
    """
    score = table["score"].to_numpy()
    if "y" not in table or table["y"].nunique() < 2 or len(table) < 2 * FOLDS:
        cut = float(np.quantile(score, 1 - UNLABELLED_TOP))
        return score >= cut, {"rule": f"top {UNLABELLED_TOP:.0%} of scores (no labels)", "threshold": cut}
    y = table["y"].to_numpy()
    fold = np.random.default_rng(seed).permutation(len(score)) % FOLDS
    calls = np.zeros(len(score), dtype=bool)
    cuts = []
    for k in range(FOLDS):
        rest = fold != k
        cut = youden_threshold(score[rest], y[rest]) if len(np.unique(y[rest])) == 2 else np.inf
        calls[fold == k] = score[fold == k] >= cut
        cuts.append(round(cut, 6))
    return calls, {
        "rule": f"Youden's J, cross-fitted over {FOLDS} folds of the labelled variants",
        "thresholds": cuts,
    }


def summarise_genes(table: pd.DataFrame, index: GeneIndex, damaging: np.ndarray) -> pd.DataFrame:
    """One row per gene holding a scored variant: counts, mean/max score and, with labels, enrichment.

    Args:
        table: one method's scores (read_method_scores).
        index: where the genes are.
        damaging: the method's per-variant calls (damaging_calls).

    Returns:
        gene, n_variants, n_damaging, mean_score, max_score and, with labels, n_pathogenic,
        enrichment_or and enrichment_p (one-sided Fisher test: the gene's pathogenic share vs the
        other genes').
    """
    genes = [index.genes_at(c, int(p)) for c, p in zip(table["contig"], table["pos"], strict=True)]
    rows = table.assign(gene=genes, damaging=damaging).explode("gene").dropna(subset=["gene"])
    if rows.empty:
        return pd.DataFrame(columns=["gene", "n_variants", "n_damaging", "mean_score", "max_score"])
    agg = {"n_variants": ("score", "size"), "n_damaging": ("damaging", "sum")}
    agg |= {"mean_score": ("score", "mean"), "max_score": ("score", "max")}
    if "y" in rows:
        agg["n_pathogenic"] = ("y", "sum")
    out = rows.groupby("gene", sort=True).agg(**agg).reset_index()
    if "y" in rows:
        out["enrichment_or"], out["enrichment_p"] = _enrichment(out["n_pathogenic"], out["n_variants"])
    return out


def _enrichment(pathogenic: pd.Series, total: pd.Series) -> tuple[list[float], list[float]]:
    all_path, all_total = int(pathogenic.sum()), int(total.sum())
    ors, ps = [], []
    for k, n in zip(pathogenic.astype(int), total.astype(int), strict=True):
        rest_path, rest_total = all_path - k, all_total - n
        odds, p = fisher_exact([[k, n - k], [rest_path, rest_total - rest_path]], alternative="greater")
        ors.append(float(odds))
        ps.append(float(p))
    return ors, ps
