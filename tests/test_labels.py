"""ClinVar review stars and annotation-derived consequences, checked on hand-built cases."""

from __future__ import annotations

import pytest

from genolm.consequence import ConsequenceIndex
from genolm.io.annotation import Gene
from genolm.labels import review_stars


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
