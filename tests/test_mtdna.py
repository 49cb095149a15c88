"""config/mtdna.yaml end to end on the real rCRS + ClinVar mtDNA SNVs, shrunk to a CI-sized run."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from conftest import REPO, run_snakemake, shared_data

pytestmark = pytest.mark.workflow
METHODS = ("zeroshot", "zeroshot_calibrated", "supervised", "kmer_lr")


@pytest.fixture(scope="module")
def mtdna_run(tmp_path_factory):
    """config/mtdna.yaml with the real files and ~30 pretraining steps; returns its results folder."""
    data = shared_data("clinvar_mtdna")
    workdir = tmp_path_factory.mktemp("mtdna")
    small = workdir / "ci.yaml"
    small.write_text(
        yaml.safe_dump(
            {
                "run": "mtdna_ci",
                "sources": {
                    "genome": {"path": str(data / "NC_012920.1.fa.gz")},
                    "variants": {"path": str(data / "clinvar_MT_2022-05-25.vcf.gz")},
                },
                "preprocess": {"stride": 64},
                "model": {"dropout": 0.0},
                # The sentence-pair objective on real data: is the second half on the same strand?
                "pretrain": {
                    "pair_objective": "strand",
                    "max_steps": 30,
                    "batch_size": 16,
                    "warmup_steps": 5,
                    "eval_every": 15,
                    "eval_batches": 2,
                    "checkpoint_every": 15,
                },
                # Half the variant window halves the embedding time of the supervised method.
                "disease_risk": {"tasks": {"clinvar_mt": {"window": 64}}},
            }
        )
    )
    results = workdir / "results" / "mtdna_ci"
    targets = [f"results/mtdna_ci/disease_risk/clinvar_mt/{m}/metrics.json" for m in METHODS]
    targets.append("results/mtdna_ci/interpret/clinvar_mt/ism.tsv")
    # An option ends --configfile's file list (run_snakemake puts the files before these args).
    run_snakemake(workdir, *targets, configfiles=[REPO / "config" / "mtdna.yaml", small])
    return results


def test_variant_table_counts(mtdna_run):
    summary = json.loads((mtdna_run / "labels" / "variants" / "clinvar_mt.summary.json").read_text())
    table = pd.read_csv(mtdna_run / "labels" / "variants" / "clinvar_mt.tsv", sep="\t")
    # The file holds 255 P/LP and 1,430 B/LB SNVs (README of the data); only windows that would leave
    # a split block or the contig are set aside, and they are counted.
    left_out = summary["dropped"].get("outside_split_blocks", 0) + summary["dropped"].get(
        "window_off_contig", 0
    )
    assert len(table) + left_out == 255 + 1430
    assert summary["dropped"]["alt_equals_ref"] == 1
    assert summary["classes"] == {
        "benign": int((table["label"] == 0).sum()),
        "pathogenic": int((table["label"] == 1).sum()),
    }
    assert 0 < left_out < 0.2 * (255 + 1430)  # 64-base windows in 1,000-base blocks: ~6% expected
    assert set(table["split"]) == {"train", "val", "test"}
    assert (table["ref_window"].str.len() == 64).all()
    assert (table["ref_window"].str[32] == table["ref"]).all()


def test_every_method_scores_the_same_test_rows(mtdna_run):
    table = pd.read_csv(mtdna_run / "labels" / "variants" / "clinvar_mt.tsv", sep="\t")
    test_ids = sorted(table.loc[table["split"] == "test", "id"].astype(str))
    for method in METHODS:
        folder = mtdna_run / "disease_risk" / "clinvar_mt" / method
        metrics = json.loads((folder / "metrics.json").read_text())
        scores = pd.read_csv(folder / "scores.tsv", sep="\t")
        assert sorted(scores["id"].astype(str)) == test_ids
        assert metrics["n"] == len(test_ids) and metrics["method"] == method
        auroc = metrics["metrics"]["auroc"]
        assert 0 <= auroc["ci_low"] <= auroc["value"] <= auroc["ci_high"] <= 1
    assert not (mtdna_run / "disease_risk" / "clinvar_mt" / "consequence").exists()


def test_calibrated_zero_shot_only_shifts_each_substitution_type(mtdna_run):
    """Centring on the LM's per-substitution mean keeps the order within each type and moves types apart:
    the calibrated score is the raw one plus one constant per ref>alt."""
    task = mtdna_run / "disease_risk" / "clinvar_mt"
    raw, calibrated = (
        pd.read_csv(task / m / "scores.tsv", sep="\t", dtype={"id": str}).set_index("id")
        for m in ("zeroshot", "zeroshot_calibrated")
    )
    both = raw.join(calibrated["score"].rename("calibrated"))
    shift = (both["calibrated"] - both["score"]).groupby(both["ref"] + ">" + both["alt"])
    assert (shift.max() - shift.min()).max() <= 2.5e-6  # one constant per type (scores are rounded to 1e-6)
    assert shift.mean().nunique() > 1  # the types really are moved, by different amounts
    metrics = json.loads((task / "zeroshot_calibrated" / "metrics.json").read_text())
    assert metrics["n_fit_unlabelled"] > 0


def test_pair_objective_is_trained_and_logged(mtdna_run):
    metrics = json.loads((mtdna_run / "pretrain" / "metrics.json").read_text())
    assert metrics["settings"]["pair_objective"] == "strand"
    assert 0 <= metrics["val"]["pair_accuracy"] <= 1 and metrics["val"]["pair_loss"] > 0
    log = pd.read_csv(mtdna_run / "pretrain" / "log.csv")
    assert log["pair_loss"].notna().any()


def test_ism_of_top_real_variants_holds_their_zero_shot_scores(mtdna_run):
    """Each explained variant's own ISM entry is its zero-shot score: the same scorer, same window."""
    ism = pd.read_csv(mtdna_run / "interpret" / "clinvar_mt" / "ism.tsv", sep="\t", dtype={"id": str})
    scores = pd.read_csv(
        mtdna_run / "disease_risk" / "clinvar_mt" / "zeroshot" / "scores.tsv", sep="\t", dtype={"id": str}
    ).set_index("id")
    top = scores["score"].nlargest(ism["id"].nunique()).index
    assert set(ism["id"]) == set(top)
    for vid in top:
        own = ism[(ism["id"] == vid) & (ism["rel_pos"] == 0) & (ism["alt_base"] == scores.loc[vid, "alt"])]
        assert len(own) == 1 and abs(own["score"].iloc[0] - scores.loc[vid, "score"]) < 1e-4
