"""Individual risk from variant scores and a multi-sample VCF (genolm.risk, `genolm risk`)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from genolm.cli import main
from genolm.errors import GenolmError
from genolm.risk import individual_risk

# (contig, pos, ref, alt, score); the VCF spells the contig MT, the scores NC_012920.1 (as real files do).
SCORES = [
    ("NC_012920.1", 10, "A", "G", 2.0),
    ("NC_012920.1", 20, "C", "T", -1.0),
    ("NC_012920.1", 30, "G", "A", 0.5),
]
# Genotypes per variant, for samples s0..s3; pos 40 is unscored, "./." is missing.
GENOTYPES = {
    10: ["0/1", "0/0", "1/1", "0/0"],
    20: ["0/0", "0/1", "0/1", "./."],
    30: ["0/1", "0/0", "0/0", "0/0"],
    40: ["1/1", "1/1", "1/1", "1/1"],
}


def write_inputs(tmp_path):
    scores = tmp_path / "scores.tsv"
    pd.DataFrame(SCORES, columns=["contig", "pos", "ref", "alt", "score"]).to_csv(
        scores, sep="\t", index=False
    )
    refs = {10: ("A", "G"), 20: ("C", "T"), 30: ("G", "A"), 40: ("T", "C")}
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=MT,length=100>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts0\ts1\ts2\ts3",
    ]
    for pos, gts in GENOTYPES.items():
        lines.append(f"MT\t{pos}\tv{pos}\t{refs[pos][0]}\t{refs[pos][1]}\t.\t.\t.\tGT\t" + "\t".join(gts))
    vcf = tmp_path / "cohort.vcf"
    vcf.write_text("\n".join(lines) + "\n")
    return scores, vcf


def test_sum_and_max_over_carried_alleles(tmp_path):
    scores, vcf = write_inputs(tmp_path)
    out = individual_risk(scores, vcf, tmp_path / "risk.tsv")
    written = pd.read_csv(tmp_path / "risk.tsv", sep="\t")
    assert written["sample"].tolist() == ["s0", "s1", "s2", "s3"]
    # s0: 2.0*1 + 0.5*1; s1: -1.0*1; s2: 2.0*2 + -1.0*1; s3: nothing scored carried (one missing GT).
    np.testing.assert_allclose(written["score_sum"], [2.5, -1.0, 3.0, 0.0])
    np.testing.assert_allclose(written["score_max"], [2.0, -1.0, 2.0, np.nan])
    assert written["n_alleles"].tolist() == [2, 1, 3, 0]
    assert written["n_variants"].tolist() == [2, 1, 2, 0]
    assert written["n_missing"].tolist() == [0, 0, 0, 1]
    assert len(out) == 4


def test_cli_writes_auroc_with_labels(tmp_path):
    scores, vcf = write_inputs(tmp_path)
    labels = tmp_path / "cases.tsv"
    labels.write_text("sample\tlabel\ns0\tcase\ns1\tcontrol\ns2\tcase\ns3\tcontrol\nnot_in_vcf\t1\n")
    out = tmp_path / "risk.tsv"
    assert (
        main(
            [
                "risk",
                "--scores",
                str(scores),
                "--genotypes",
                str(vcf),
                "--labels",
                str(labels),
                "-o",
                str(out),
            ]
        )
        == 0
    )
    table = pd.read_csv(out, sep="\t")
    assert table["label"].tolist() == [1, 0, 1, 0]
    metrics = json.loads((tmp_path / "risk.metrics.json").read_text())
    assert metrics["n"] == 4 and metrics["n_cases"] == 2
    assert metrics["score_sum"]["auroc"]["value"] == pytest.approx(
        roc_auc_score([1, 0, 1, 0], [2.5, -1, 3, 0])
    )
    # The non-carrier s3 ranks below every carrier for score_max: [2, -1, 2, -2] -> perfect ranking.
    assert metrics["score_max"]["auroc"]["value"] == pytest.approx(1.0)


def test_no_overlap_and_bad_labels_are_one_line_errors(tmp_path):
    scores, vcf = write_inputs(tmp_path)
    other = tmp_path / "other.tsv"
    pd.DataFrame([("MT", 99, "A", "C", 1.0)], columns=["contig", "pos", "ref", "alt", "score"]).to_csv(
        other, sep="\t", index=False
    )
    with pytest.raises(GenolmError, match=r"cohort.vcf: none of its variants is in .*other.tsv"):
        individual_risk(other, vcf, tmp_path / "r.tsv")
    labels = tmp_path / "cases.tsv"
    labels.write_text("sample\tlabel\ns0\tsick\n")
    with pytest.raises(GenolmError, match=r"label 'sick' of sample 's0' is not case, control, 1 or 0"):
        individual_risk(scores, vcf, tmp_path / "r.tsv", labels_tsv=labels)
    assert not (tmp_path / "r.tsv").exists()
