"""Gene prioritisation: the logistic fit, calibration on null data, planted-gene recovery, files and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from scipy.stats import false_discovery_control, kstest
from sklearn.linear_model import LogisticRegression

from genolm.cli import main
from genolm.errors import GenolmError
from genolm.prioritise import prioritise
from genolm.prioritise.burden import bh_qvalues, burden_test, fit_logistic, genomic_inflation
from genolm.prioritise.cohort import consequence_weights
from genolm.prioritise.genes import GeneIndex, damaging_calls, read_gene_spans, summarise_genes
from genolm.simulate import simulate, simulate_cohort

pytestmark = pytest.mark.unit

#: Kolmogorov-Smirnov tolerance for "uniform": the statistic's critical value at alpha = 0.01.
KS_C = 1.63


def _ks_tolerance(n: int) -> float:
    return KS_C / np.sqrt(n)


def _null_burdens(
    rng: np.random.Generator, genes: int, samples: int, sites: int = 6, *, weighted: bool = False
) -> np.ndarray:
    """Rare-allele counts per gene and sample (or, weighted, sums of dosage x a U(0, 1) site weight)."""
    af = rng.uniform(0.005, 0.03, size=(genes, sites, 1))
    dosage = rng.binomial(2, np.broadcast_to(af, (genes, sites, samples)))
    weight = rng.uniform(0, 1, size=(genes, sites, 1)) if weighted else np.ones((genes, sites, 1))
    return (dosage * weight).sum(1)


def test_logistic_fit_matches_scikit_learn_and_statsmodels():
    """Measured: |beta - sklearn| 2e-10, |beta - statsmodels| and |se - statsmodels| < 1e-15 (seed 1)."""
    rng = np.random.default_rng(1)
    x = np.column_stack([np.ones(800), rng.normal(size=800), rng.poisson(0.3, size=800)])
    y = (rng.random(800) < 1 / (1 + np.exp(-(0.2 + 0.7 * x[:, 1] + 0.5 * x[:, 2])))).astype(float)
    fit = fit_logistic(x, y)
    reference = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10_000).fit(x, y)
    assert fit.converged
    np.testing.assert_allclose(fit.beta, reference.coef_[0], atol=1e-6)
    sm = pytest.importorskip("statsmodels.api")
    result = sm.Logit(y, x).fit(disp=0)
    np.testing.assert_allclose(fit.beta, result.params, atol=1e-8)
    np.testing.assert_allclose(fit.se, result.bse, atol=1e-8)
    assert fit.loglik == pytest.approx(result.llf, abs=1e-8)


def test_bh_qvalues_match_scipy_and_skip_nan():
    p = np.array([0.01, 0.04, 0.03, 0.2, np.nan, 0.5])
    q = bh_qvalues(p)
    np.testing.assert_allclose(q[~np.isnan(p)], false_discovery_control(p[~np.isnan(p)]))
    np.testing.assert_allclose(q[:4], [0.05, 0.0666667, 0.0666667, 0.25], atol=1e-6)
    assert np.isnan(q[4])


def test_null_p_values_are_uniform_with_covariates():
    """400 null genes, case status driven by a covariate only: KS statistic within 1.63 / sqrt(n)."""
    rng = np.random.default_rng(3)
    cov = rng.normal(size=800)
    y = (rng.random(800) < 1 / (1 + np.exp(-0.8 * cov))).astype(float)
    result = burden_test(_null_burdens(rng, 400, 800), y, cov[:, None], permutations=0, seed=3)
    p = result["p"].dropna().to_numpy()
    assert len(p) == 400
    assert kstest(p, "uniform").statistic < _ks_tolerance(len(p))
    assert 0.8 < genomic_inflation(p) < 1.2


def test_bh_keeps_the_false_discovery_rate():
    """20 replicates of 150 genes, 10 causal: the mean false discovery proportion at q < 0.1 stays <= 0.1
    (+ 0.03 for the replicates' sampling error); measured 0.103 and power 0.87 at seed 5."""
    rng = np.random.default_rng(5)
    fdp, power = [], []
    for _ in range(20):
        burden = _null_burdens(rng, 150, 600)
        y = (rng.random(600) < 1 / (1 + np.exp(-(burden[:10].sum(0) - 1.5)))).astype(float)
        q = burden_test(burden, y, permutations=0)["q"].to_numpy()
        found = np.flatnonzero(q < 0.1)
        fdp.append(np.mean(found >= 10) if len(found) else 0.0)
        power.append(np.mean(q[:10] < 0.1))
    assert np.mean(fdp) <= 0.1 + 0.03
    assert np.mean(power) > 0.7


def test_permutation_and_analytic_p_values_agree():
    """Weighted burdens of genes with many carriers, 2000 permutations: |p_perm - p_score| within
    4 binomial SEs + 0.005. (Unweighted counts without covariates take few distinct score values, where
    the permutation p counts the many ties and rightly exceeds the continuous approximation.)"""
    rng = np.random.default_rng(11)
    burden = _null_burdens(rng, 30, 500, weighted=True)
    y = (rng.random(500) < 1 / (1 + np.exp(-(2.0 * burden[0] - 0.3)))).astype(float)
    result = burden_test(burden, y, permutations=2000, permutation_below=10**6, seed=2)
    assert (result["p_source"] == "permutation").all()
    analytic, permuted = result["p_analytic"].to_numpy(), result["p_permutation"].to_numpy()
    se = np.sqrt(analytic * (1 - analytic) / 2000)
    assert np.all(np.abs(permuted - analytic) <= 4 * se + 0.005)
    assert analytic[0] < 1e-3 and permuted[0] == pytest.approx(1 / 2001)  # the associated gene


def test_few_carriers_get_the_permutation_p_value():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.5).astype(float)
    burden = np.zeros((2, 300))
    burden[0, :5] = 1  # 5 carriers: permutation
    burden[1] = rng.binomial(2, 0.2, size=300)  # ~108 carriers: score test
    result = burden_test(burden, y, permutations=500, permutation_below=20)
    assert list(result["p_source"]) == ["permutation", "score"]
    assert result["p"][0] == result["p_permutation"][0] and np.isnan(result["p_permutation"][1])
    assert list(result["n_carriers"]) == [5, int((burden[1] > 0).sum())]


def test_no_variance_is_untestable_and_one_class_refused():
    y = np.array([0, 1] * 50, dtype=float)
    result = burden_test(np.zeros((1, 100)), y)
    assert np.isnan(result["p"][0]) and result["p_source"][0] == ""
    with pytest.raises(GenolmError, match="both cases"):
        burden_test(np.ones((1, 10)), np.ones(10))


GFF = """##gff-version 3
c1\tt\tgene\t101\t400\t.\t+\t.\tID=g1;Name=alpha
c1\tt\tgene\t301\t600\t.\t-\t.\tID=g2;Name=beta
chr2\tt\tgene\t11\t60\t.\t+\t.\tID=g3
"""


def test_variants_map_to_every_overlapping_gene(tmp_path):
    (tmp_path / "a.gff3").write_text(GFF)
    spans = read_gene_spans(tmp_path / "a.gff3")
    assert list(spans["gene"]) == ["alpha", "beta", "g3"]
    index = GeneIndex(spans)
    assert index.genes_at("c1", 350) == ["alpha", "beta"]
    assert index.genes_at("c1", 101) == ["alpha"] and index.genes_at("c1", 100) == []
    assert index.genes_at("c1", 600) == ["beta"] and index.genes_at("2", 60) == ["g3"]


def test_gene_summary_counts_and_enrichment():
    spans = pd.DataFrame({"gene": ["a", "b"], "contig": ["c", "c"], "start": [1, 101], "end": [100, 200]})
    table = pd.DataFrame(
        {
            "contig": ["c"] * 6,
            "pos": [5, 10, 20, 150, 160, 500],
            "score": [3.0, 2.0, 1.0, -1.0, 0.5, 9.0],
            "y": [1, 1, 1, 0, 0, 1],
        }
    )
    damaging = np.array([True, True, False, False, True, True])
    out = summarise_genes(table, GeneIndex(spans), damaging).set_index("gene")
    assert out.loc["a", ["n_variants", "n_damaging", "n_pathogenic"]].tolist() == [3, 2, 3]
    assert out.loc["a", "mean_score"] == pytest.approx(2.0) and out.loc["b", "max_score"] == 0.5
    assert out.loc["a", "enrichment_p"] == pytest.approx(0.1)  # Fisher: 3/3 vs 0/2, one-sided
    assert "500" not in out.index and len(out) == 2  # the intergenic variant is in no gene


def test_damaging_threshold_is_cross_fitted_without_using_a_variants_own_label():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=200)
    table = pd.DataFrame({"score": y + rng.normal(0, 0.5, size=200), "y": y})
    calls, rule = damaging_calls(table, seed=1)
    assert "cross-fitted" in rule["rule"] and len(rule["thresholds"]) == 5
    assert all(0.0 < t < 1.0 for t in rule["thresholds"])  # between the class means
    assert 0.75 < np.mean(calls == (y == 1)) < 0.95
    unlabelled, rule = damaging_calls(table.drop(columns="y"))
    assert unlabelled.sum() == 20 and "no labels" in rule["rule"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A small simulated genome, a cohort with 4 planted genes and a null cohort on it."""
    d = tmp_path_factory.mktemp("world")
    simulate(d / "g.fa.gz", d / "a.gff3.gz", d / "v.vcf.gz", seed=3, n_contigs=2, contig_length=60_000)
    out = {"dir": d}
    for name, causal in (("planted", 4), ("null", 0)):
        paths = (d / f"{name}.vcf.gz", d / f"{name}.tsv", d / f"{name}_causal.tsv")
        out[name] = simulate_cohort(
            d / "g.fa.gz", d / "a.gff3.gz", *paths, seed=3, samples=1500, causal_genes=causal
        )
    return out


def _scores_of(vcf: Path, d: Path, noise: float, seed: int) -> Path:
    """A stand-in for a scoring method: the consequence severity plus Gaussian noise."""
    with pysam.VariantFile(str(vcf)) as handle:
        rows = [(r.contig, r.pos, r.ref, r.alts[0]) for r in handle]
    table = pd.DataFrame(rows, columns=["contig", "pos", "ref", "alt"])
    severity = consequence_weights(table, d / "a.gff3.gz", d / "g.fa.gz")
    table["score"] = severity + np.random.default_rng(seed).normal(0, noise, size=len(table))
    path = d / f"scores_{vcf.stem}_{noise}.tsv"
    table.to_csv(path, sep="\t", index=False)
    return path


def _run(world, name: str, tmp_path: Path) -> tuple[pd.DataFrame, dict]:
    d = world["dir"]
    ranked = prioritise(
        d / "a.gff3.gz",
        tmp_path / "genes.tsv",
        tmp_path / "metrics.json",
        scores={"oracle": _scores_of(d / f"{name}.vcf.gz", d, 0.1, seed=1)},
        genome=d / "g.fa.gz",
        genotypes=d / f"{name}.vcf.gz",
        labels=d / f"{name}.tsv",
        covariates=["pc1"],
        known_genes=d / f"{name}_causal.tsv",
        seed=4,
    )
    return ranked, json.loads((tmp_path / "metrics.json").read_text())


def test_planted_genes_rank_at_the_top(world, tmp_path):
    """Measured at seeds 3 (data) and 4 (folds, permutations), 76 genes: planted ranks oracle 1, 2, 3, 9;
    consequence_weighted 1, 2, 3, 6; unweighted 1, 2, 8, 70 (synonymous and missense alleles dilute
    the unweighted burden of the gene whose effect rests on few stop-gained alleles)."""
    ranked, metrics = _run(world, "planted", tmp_path)
    planted = set(world["planted"]["causal_genes"])
    assert metrics["known_genes"] == sorted(planted) and len(planted) == 4
    methods = metrics["methods"]
    assert methods["oracle"]["recall_at_10"] == methods["consequence_weighted"]["recall_at_10"] == 1.0
    assert sorted(methods["consequence_weighted"]["known_gene_ranks"].values()) == [1, 2, 3, 6]
    assert methods["unweighted"]["recall_at_10"] == 0.75
    assert max(methods["unweighted"]["known_gene_ranks"].values()) > 50
    oracle = ranked[ranked["method"] == "oracle"]
    assert methods["oracle"]["n_genes"] == len(oracle) == methods["unweighted"]["n_genes"] > 70
    assert set(oracle[oracle["known"]]["gene"]) == planted
    assert (oracle["rank"].to_numpy() == np.arange(1, len(oracle) + 1)).all()
    assert oracle["p"].is_monotonic_increasing and (oracle[oracle["known"]]["beta"] > 0).all()
    assert oracle[["contig", "start", "end"]].notna().all().all()
    assert metrics["cohort"]["n_samples"] == 1500 and metrics["cohort"]["n_unscored"] == 0


def test_null_cohort_is_calibrated(world, tmp_path):
    """No planted gene: every weighting's p-values are uniform (KS within 1.63 / sqrt(n)) and BH at
    q < 0.05 reports nothing."""
    ranked, metrics = _run(world, "null", tmp_path)
    assert metrics["known_genes"] == []
    for method in ("oracle", "unweighted", "consequence_weighted"):
        p = ranked.loc[ranked["method"] == method, "p"].dropna().to_numpy()
        assert len(p) > 50
        assert kstest(p, "uniform").statistic < _ks_tolerance(len(p)), method
        assert metrics["methods"][method]["n_q_below_0.05"] == 0
        assert 0.7 < metrics["methods"][method]["lambda_gc"] < 1.3


def test_genes_mode_from_labelled_scores(tmp_path):
    (tmp_path / "a.gff3").write_text(GFF)
    rows = [("c1", p, "A", "G", s, lab) for p, s, lab in [(150, 2.0, "pathogenic"), (350, 1.0, "benign")]]
    rows += [("c1", 200 + i, "A", "G", 0.1 * i, "pathogenic" if i % 2 else "benign") for i in range(12)]
    pd.DataFrame(rows, columns=["contig", "pos", "ref", "alt", "score", "label"]).to_csv(
        tmp_path / "s.tsv", sep="\t", index=False
    )
    ranked = prioritise(
        tmp_path / "a.gff3", tmp_path / "g.tsv", tmp_path / "m.json", scores={"m": tmp_path / "s.tsv"}
    )
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert list(ranked["gene"]) == ["alpha", "beta"] and set(ranked["rank_by"]) == {"n_damaging"}
    assert ranked.set_index("gene").loc["alpha", "n_variants"] == 14
    assert ranked.set_index("gene").loc["beta", "n_variants"] == 1
    assert metrics["methods"]["m"]["n_scored"] == 14 and "cohort" not in metrics
    assert metrics["methods"]["m"]["n_genes"] == metrics["methods"]["m"]["n_genes_scored"] == 2
    written = pd.read_csv(tmp_path / "g.tsv", sep="\t")
    assert list(written.columns[:7]) == ["method", "rank", "rank_by", "gene", "contig", "start", "end"]


def test_cohort_needs_genome_and_labels(tmp_path):
    (tmp_path / "a.gff3").write_text(GFF)
    with pytest.raises(GenolmError, match="genotypes, labels and the genome"):
        prioritise(tmp_path / "a.gff3", tmp_path / "g.tsv", tmp_path / "m.json", scores={}, genotypes="x.vcf")
    with pytest.raises(GenolmError, match="nothing to rank"):
        prioritise(tmp_path / "a.gff3", tmp_path / "g.tsv", tmp_path / "m.json", scores={})
    assert not (tmp_path / "g.tsv").exists()


def test_cli_prioritise_with_a_cohort(world, tmp_path, capsys):
    d = world["dir"]
    scores = _scores_of(d / "planted.vcf.gz", d, 0.1, seed=1)
    args = ["prioritise", "--annotation", str(d / "a.gff3.gz"), "--scores", f"lm={scores}"]
    args += ["--genome", str(d / "g.fa.gz"), "--genotypes", str(d / "planted.vcf.gz")]
    args += ["--labels", str(d / "planted.tsv"), "--covariates", "pc1"]
    args += [
        "--known-genes",
        str(d / "planted_causal.tsv"),
        "--permutations",
        "200",
        "-o",
        str(tmp_path / "g.tsv"),
    ]
    assert main(args) == 0
    metrics = json.loads((tmp_path / "g.metrics.json").read_text())
    assert set(metrics["methods"]) == {"lm", "unweighted", "consequence_weighted"}
    assert metrics["methods"]["lm"]["recall_at_10"] == 1.0
    assert (
        main(["prioritise", "--annotation", "a.gff", "--scores", "noname", "-o", str(tmp_path / "x.tsv")])
        == 1
    )
    assert "--scores noname: expected NAME=PATH" in capsys.readouterr().err
