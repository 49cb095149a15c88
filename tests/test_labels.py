"""ClinVar review stars and annotation-derived consequences, checked on hand-built cases."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from genolm.consequence import ConsequenceIndex
from genolm.errors import GenolmError
from genolm.io.annotation import Gene
from genolm.io.fasta import contig_lengths
from genolm.labels import build_gene_table, build_variant_table, review_stars
from genolm.splits import make_splits, write_splits
from tests.conftest import shared_data


@pytest.mark.parametrize(
    ("status", "stars"),
    [
        ("practice_guideline", 4),
        ("reviewed_by_expert_panel", 3),
        ("criteria_provided,_multiple_submitters,_no_conflicts", 2),
        ("criteria_provided_multiple_submitters_no_conflicts", 2),
        ("criteria_provided,_single_submitter", 1),
        ("criteria_provided,_conflicting_interpretations", 1),
        ("no_assertion_criteria_provided", 0),
        ("", 0),
    ],
)
def test_review_stars_as_clinvar_shows_them(status, stars):
    assert review_stars(status) == stars


def _gene(strand, cds, start=0, end=30, name="g"):
    return Gene(name, "c", start, end, strand, "protein_coding", name, "", (), (), {}, cds)


#        0         1         2         3
#        0123456789012345678901234567890123456789
SEQ = "CCATGGCTTGGAAATAGCCCCCCCCCCCCCCCCCCCCCCC"


def test_plus_strand_coding_consequences():
    idx = ConsequenceIndex([_gene("+", ((2, 17),), start=2, end=17)], {"c": SEQ})
    # CDS ATG GCT TGG AAA TAG
    assert idx("c", 4, "A").kind == "start_lost"  # ATG -> ATA (not a start codon in table 1)
    assert idx("c", 7, "C").kind == "synonymous"  # GCT -> GCC, Ala
    assert idx("c", 5, "A").kind == "missense"  # GCT -> ACT, Ala -> Thr
    assert idx("c", 9, "A").kind == "stop_gained"  # TGG -> TAG
    assert idx("c", 15, "C").kind == "stop_lost"  # TAG -> TCG
    assert idx("c", 30, "A").kind == "intergenic" and idx("c", 30, "A").gene_fraction == -1
    assert idx("c", 2, "T").gene_fraction == 0.0 and idx("c", 16, "T").gene_fraction == 1.0


def test_codon_table_and_minus_strand():
    # Minus-strand gene over 11..17: coding strand = revcomp(SEQ[11:17]) "AAATAG" -> "CTATTT"
    minus = _gene("-", ((11, 17),), start=11, end=17)
    idx = ConsequenceIndex([minus], {"c": SEQ})
    assert idx("c", 16, "A").kind == "synonymous"  # genome G->A is coding C->T: CTA -> TTA, Leu -> Leu
    assert idx("c", 16, "C").kind == "missense"  # CTA -> GTA, Leu -> Val
    assert idx("c", 13, "T").kind == "missense"  # TTT -> ATT, Phe -> Ile
    assert idx("c", 16, "C").gene_fraction == 0.0  # the 5' end of a minus-strand gene is its right end
    # Table 2 (vertebrate mitochondria): TGA is Trp, so TGG -> TGA is synonymous there, a stop in table 1.
    plus = _gene("+", ((2, 17),), start=2, end=17)
    assert ConsequenceIndex([plus], {"c": SEQ}, table=1)("c", 10, "A").kind == "stop_gained"  # TGG -> TGA
    assert ConsequenceIndex([plus], {"c": SEQ}, table=2)("c", 10, "A").kind == "synonymous"


def test_non_coding_gene_and_utr_and_overlap_severity():
    rna = Gene("r", "c", 20, 30, "+", "tRNA", "r", "", (), (), {}, ())
    coding = _gene("+", ((2, 17),), start=0, end=25)
    idx = ConsequenceIndex([rna, coding], {"c": SEQ})
    assert idx("c", 0, "A").kind == "utr_or_intron"
    assert idx("c", 22, "A").kind == "non_coding_rna"  # both genes overlap: RNA beats UTR
    assert idx("c", 10, "A").kind == "stop_gained"


def test_real_clinvar_mtdna_variant_table(tmp_path):
    """ClinVar's MT contig is reconciled with the RefSeq FASTA; P/LP vs B/LB with REF checked."""
    data = shared_data("clinvar_mtdna")
    genome = data / "NC_012920.1.fa.gz"
    splits = tmp_path / "splits.tsv"
    write_splits(make_splits(contig_lengths(genome), method="blocks", block_size=2000, gap=0), splits)
    vcf = data / "clinvar_MT_2022-05-25.vcf.gz"
    table = build_variant_table(vcf, genome, splits, tmp_path / "v.tsv", tmp_path / "v.json", window=64)
    summary = json.loads((tmp_path / "v.json").read_text())
    assert set(table["contig"]) == {"NC_012920.1"}
    assert summary["dropped"]["alt_equals_ref"] == 1  # ClinVar's m.1438= reference-allele record
    # 255 P/LP and 1,430 B/LB in the file; only windows that would cross a block edge are left out.
    counts = table["label"].value_counts()
    dropped = summary["dropped"]
    left_out = dropped.get("outside_split_blocks", 0) + dropped.get("window_off_contig", 0)
    assert counts[1] + counts[0] + left_out == 255 + 1430
    assert counts[1] > 200 and counts[0] > 1200
    assert (table["ref_window"].str[32] == table["ref"]).all()
    assert pd.Series(table["split"]).nunique() == 3


def _tiny_annotation(tmp_path):
    genome = tmp_path / "g.fa"
    genome.write_text(">c1\n" + "ACGT" * 3000 + "\n")
    gff = tmp_path / "a.gff3"
    lines = ["##gff-version 3"]
    for i in range(12):
        start = 100 + i * 900
        lines.append(f"c1\tt\tgene\t{start}\t{start + 299}\t.\t+\t.\tID=g{i};Name=gene{i};locus_tag=b{i}")
    gff.write_text("\n".join(lines) + "\n")
    splits = tmp_path / "splits.tsv"
    write_splits(make_splits(contig_lengths(genome), method="blocks", block_size=3000, gap=0, seed=1), splits)
    return genome, gff, splits


def test_user_label_table_by_id_or_name(tmp_path):
    genome, gff, splits = _tiny_annotation(tmp_path)
    labels = tmp_path / "labels.tsv"
    rows = [f"{'b' if i < 6 else 'gene'}{i}\t{'x' if i % 2 else 'y'}" for i in range(12)]
    labels.write_text("id\tlabel\n" + "\n".join(rows + ["not_a_gene\tx"]) + "\n")
    table = build_gene_table(
        gff,
        genome,
        splits,
        tmp_path / "t.tsv",
        tmp_path / "t.json",
        label="table",
        label_table=labels,
        min_class_size=2,
    )
    expected = {f"b{i}": "x" if i % 2 else "y" for i in range(12)}
    assert all(expected[i] == label for i, label in zip(table["id"], table["label"], strict=True))
    # b3 straddles a split-block boundary, so it is left out and counted.
    summary = json.loads((tmp_path / "t.json").read_text())
    assert len(table) + summary["dropped"]["outside_split_blocks"] == 12
    assert {"b0", "b7", "b11"} <= set(table["id"])  # matched by locus tag and by gene name


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("gene\tlabel\nb1\tx\n", "expected columns id and label"),
        ("id\tlabel\nq\tx\n", "gene of the annotation"),
    ],
)
def test_bad_user_label_table_is_one_line(tmp_path, content, message):
    genome, gff, splits = _tiny_annotation(tmp_path)
    labels = tmp_path / "labels.tsv"
    labels.write_text(content)
    with pytest.raises(GenolmError, match=message):
        build_gene_table(
            gff, genome, splits, tmp_path / "t.tsv", tmp_path / "t.json", label="table", label_table=labels
        )
    assert not (tmp_path / "t.tsv").exists()
