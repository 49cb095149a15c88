"""Annotation conventions and regional cuts: every major style reads to the same genes, cuts run end to end.

tests/data/conventions/ holds one small hand-made snippet per convention (the same eight genes on a
21 kb contig: five coding, a lncRNA, a snoRNA, a pseudogene), and regional/ holds each cut as users cut
them (awk '$4 >= 3800 && $5 <= 17500', headers kept; for GBFF a record of the region with the cut CDS
kept as partial features), so genes 1 and 6 lose their gene and transcript rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from Bio import SeqIO

from genolm.errors import GenolmError
from genolm.io.annotation import read_annotation
from genolm.labels import build_gene_table
from genolm.splits import write_splits

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data" / "conventions"
REGIONAL = DATA / "regional"
CONTIG_LENGTH = 21_000
# 0-based half-open CDS of the snippets' gene 2 (plus strand) and gene 1 (minus strand), stop codon included.
CDS_GENE2 = ((6100, 6500), (6800, 7300), (7600, 7700))
CDS_GENE1 = ((3600, 4000), (4300, 4800), (5100, 5200))
SNIPPETS = {
    # file: (gene ids 0..7, biotypes of genes 3, 5, 7, tolerated causes of the full file)
    "ncbi_refseq.gff3": (
        [f"gene-GENE{k}" for k in range(8)],
        ("lncRNA", "snoRNA", "pseudogene"),
        {"unknown_type": 1},  # the cDNA_match alignment row
    ),
    "ncbi_refseq.gbff": ([f"GENE{k}" for k in range(8)], ("ncRNA", "ncRNA", "pseudogene"), {}),
    "ensembl.gff3": (
        [f"ENSG0000000000{k}" for k in range(8)],
        ("lncRNA", "snoRNA", "processed_pseudogene"),
        {},
    ),
    "ensembl.gtf": (
        [f"ENSG0000000000{k}" for k in range(8)],
        ("lncRNA", "snoRNA", "processed_pseudogene"),
        {},
    ),
    "gencode.gtf": (
        [f"ENSG0000000000{k}.1" for k in range(8)],
        ("lncRNA", "snoRNA", "processed_pseudogene"),
        {},
    ),
    "flybase.gff3": (
        [f"FBgn000000{k}" for k in range(8)],
        ("ncRNA", "snoRNA", "pseudogene"),  # from the transcripts' types: FlyBase genes carry none
        {"unknown_type": 3},  # golden_path_region, an RNAi match, a TE insertion site
    ),
    "wormbase.gff3": (
        [f"Gene:WBGene0000000{k}" for k in range(8)],
        ("lincRNA", "snoRNA", "pseudogene"),
        {"part_without_gene": 2, "unknown_type": 3},  # RNASeq_splice introns; EST matches, a repeat
    ),
    "tair10.gff3": (
        [f"AT1G0{k}010" for k in range(8)],
        ("other_RNA", "snoRNA", "pseudogene"),  # from Note=
        {},
    ),
}


@pytest.mark.parametrize("name", list(SNIPPETS))
def test_every_convention_reads_the_same_genes(name):
    ids, (bio3, bio5, bio7), causes = SNIPPETS[name]
    genes, issues = read_annotation(DATA / name)
    assert [g.id for g in genes] == ids
    biotypes = [g.biotype for g in genes]
    assert biotypes[3] == bio3 and biotypes[5] == bio5 and biotypes[7] == bio7
    assert all(biotypes[k] == "protein_coding" for k in (0, 1, 2, 4, 6))
    assert genes[2].cds == CDS_GENE2 and genes[1].cds == CDS_GENE1
    assert (genes[1].strand, genes[1].start, genes[1].end) == ("-", 3500, 5300)
    assert {cause: item["count"] for cause, item in issues.as_dict().items()} == causes


def test_gff2_style_gtfs_without_gene_rows():
    """UCSC's ncbiRefSeq GTF (no gene rows) and AUGUSTUS (bare `g1` / `g1.t1` gene and transcript rows)."""
    ucsc, issues = read_annotation(DATA / "ucsc_ncbirefseq.gtf")
    assert [g.id for g in ucsc] == [f"GENE{k}" for k in range(7)] and not issues.counts
    assert ucsc[2].cds == CDS_GENE2 and ucsc[1].cds == CDS_GENE1
    assert ucsc[3].biotype == "" and ucsc[0].biotype == "protein_coding"  # NR_ transcripts say no type
    augustus, issues = read_annotation(DATA / "augustus_gff2.gtf")
    assert [g.id for g in augustus] == ["g1", "g2", "g3", "g5", "g7"] and not issues.counts
    assert augustus[2].cds == CDS_GENE2 and (augustus[1].start, augustus[1].end) == (3600, 5200)


def test_no_gene_is_labelled_with_the_word_gene():
    for path in sorted(
        p for p in [*DATA.iterdir(), *REGIONAL.iterdir()] if p.suffix in (".gff3", ".gtf", ".gbff")
    ):
        genes, _ = read_annotation(path)
        assert "gene" not in {g.biotype for g in genes}, path.name


# file -> (genes read from the cut, tolerated causes); GFF3/GTF leave the cut genes out, GBFF keeps
# their partial CDS as genes of their own (as GenBank reads a CDS without a gene).
REGIONAL_EXPECTED = {
    "ncbi_refseq.gff3": (4, {"missing_parent": 6, "unknown_type": 1}),
    "ncbi_refseq.gbff": (6, {"cds_or_rna_without_gene": 2}),
    "ensembl.gff3": (4, {"missing_parent": 7}),
    "ensembl.gtf": (4, {"missing_parent": 11}),
    "gencode.gtf": (4, {"missing_parent": 11}),
    "flybase.gff3": (4, {"missing_parent": 11, "unknown_type": 2}),
    "wormbase.gff3": (4, {"missing_parent": 9, "part_without_gene": 2, "unknown_type": 2}),
    "tair10.gff3": (4, {"missing_parent": 9}),
    "ucsc_ncbirefseq.gtf": (4, {"missing_parent": 8}),
    "augustus_gff2.gtf": (2, {"missing_parent": 4}),
}


@pytest.mark.parametrize("name", list(REGIONAL_EXPECTED))
def test_regional_cut_is_read_with_orphans_counted_and_strict_refuses(name):
    n_genes, causes = REGIONAL_EXPECTED[name]
    genes, issues = read_annotation(REGIONAL / name, source=f"my/{name}")
    assert len(genes) == n_genes
    found = issues.as_dict()
    assert {cause: item["count"] for cause, item in found.items()} == causes
    assert all(item["example"].startswith(f"my/{name}") for item in found.values())
    if "missing_parent" in causes:
        with pytest.raises(GenolmError, match=rf"^my/{name}:\d+: (Parent '|gene_id |transcript_id )"):
            read_annotation(REGIONAL / name, strict=True, source=f"my/{name}")


def _genome_and_splits(tmp_path: Path, genes, gbff: Path | None = None) -> tuple[Path, Path]:
    """A genome for the cut's contig and splits giving the complete genes train, train, val, test."""
    contig = genes[0].contig
    if gbff is not None:
        seq = str(next(SeqIO.parse(gbff, "genbank")).seq)
    else:
        seq = "".join(np.random.default_rng(0).choice(list("ACGT"), CONTIG_LENGTH))
    genome = tmp_path / "genome.fa"
    genome.write_text(f">{contig} cut test\n{seq}\n")
    complete = genes[-4:] if len(genes) == 4 else genes[1:5]
    bounds = (
        [0] + [(a.end + b.start) // 2 for a, b in zip(complete[:-1], complete[1:], strict=True)] + [len(seq)]
    )
    rows = [
        (contig, lo, hi, s)
        for lo, hi, s in zip(bounds[:-1], bounds[1:], ["train", "train", "val", "test"], strict=True)
    ]
    splits = tmp_path / "splits.tsv"
    write_splits(pd.DataFrame(rows, columns=["contig", "start", "end", "split"]), splits)
    return genome, splits


@pytest.mark.parametrize("name", [n for n, (count, _) in REGIONAL_EXPECTED.items() if count >= 4])
def test_regional_cut_runs_end_to_end_through_the_label_table(tmp_path, name):
    """gene_labels on a cut: the complete genes are labelled, the orphans counted in the summary."""
    path = REGIONAL / name
    genes, issues = read_annotation(path)
    genome, splits = _genome_and_splits(tmp_path, genes, path if name.endswith(".gbff") else None)
    complete = genes[-4:] if len(genes) == 4 else genes[1:5]
    labels = tmp_path / "labels.tsv"
    labels.write_text("id\tlabel\n" + "".join(f"{g.id}\t{'ab'[i % 2]}\n" for i, g in enumerate(complete)))
    out, summary_path = tmp_path / "genes.tsv", tmp_path / "genes.summary.json"
    table = build_gene_table(
        path,
        genome,
        splits,
        out,
        summary_path,
        label="table",
        label_table=labels,
        min_class_size=1,
        sources={"annotation": f"regional/{name}"},
    )
    summary = json.loads(summary_path.read_text())
    assert table["id"].tolist() == [g.id for g in complete]
    assert table["split"].tolist() == ["train", "train", "val", "test"]
    assert summary["annotation_issues"] == {
        cause: {**item, "example": item["example"].replace(str(path), f"regional/{name}")}
        for cause, item in issues.as_dict().items()
    }
    assert summary["dropped"] == ({"no_label": len(genes) - 4} if len(genes) > 4 else {})
    assert any("test split has only 1 rows" in w for w in summary["warnings"])


CAUSES_GFF3 = """##gff-version 3
c1\tsrc\tCDS\t2\t5\t.\t+\t0\tID=cA;Parent=tA
c1\tsrc\tgene\t1\t20\t.\t+\t.\tID=gA
c1\tsrc\tmRNA\t1\t20\t.\t+\t.\tID=tA;Parent=gA
c1\tsrc\tgene\t30\t50\t.\t+\t.\tID=gB
c1\tsrc\tpseudogene\t30\t50\t.\t+\t.\tID=tB;Parent=gB
c1\tsrc\texon\t30\t50\t.\t+\t.\tParent=tB,tA
c1\tsrc\tmRNA\t60\t80\t.\t+\t.\tID=tC;Parent=gone
c1\tsrc\tCDS\t61\t70\t.\t+\t0\tParent=tC
c1\tsrc\tCDS\t61\t70\t.\t+\t0\tParent=tA,tA-Protein
c1\tsrc\tCDS\t90\t99\t.\t-\t0\tID=lonely;locus_tag=L9
c1\tsrc\texon\t90\t99\t.\t-\t.\tID=e9
c1\tsrc\tregion\t100\t110\t.\t+\t.\tID=gA
c1\tsrc\tenhancer\t120\t130\t.\t+\t.\tID=enh1
"""


def test_each_tolerated_cause_is_counted_with_its_first_example(tmp_path):
    path = tmp_path / "causes.gff3"
    path.write_text(CAUSES_GFF3)
    genes, issues = read_annotation(path, source="causes.gff3")
    by_id = {g.id: g for g in genes}
    assert list(by_id) == ["gA", "gB", "L9"]
    # A FlyBase-style pseudogene row under a gene is that gene's transcript, not a second gene.
    assert by_id["gB"].biotype == "pseudogene" and by_id["gA"].cds == ((1, 5), (60, 70))
    assert by_id["L9"].cds == ((89, 99),)
    assert issues.as_dict() == {
        "cds_or_rna_without_gene": {"count": 1, "example": "causes.gff3:11: " + CAUSES_GFF3.splitlines()[10]},
        "duplicate_id": {"count": 1, "example": "causes.gff3:13: " + CAUSES_GFF3.splitlines()[12]},
        "missing_parent": {"count": 1, "example": "causes.gff3:8: " + CAUSES_GFF3.splitlines()[7]},
        "missing_parent_kept": {"count": 1, "example": "causes.gff3:10: " + CAUSES_GFF3.splitlines()[9]},
        "parent_after_child": {"count": 1, "example": "causes.gff3:2: " + CAUSES_GFF3.splitlines()[1]},
        "parents_in_several_genes": {"count": 1, "example": "causes.gff3:7: " + CAUSES_GFF3.splitlines()[6]},
        "part_without_gene": {"count": 1, "example": "causes.gff3:12: " + CAUSES_GFF3.splitlines()[11]},
        "under_missing_parent": {"count": 1, "example": "causes.gff3:9: " + CAUSES_GFF3.splitlines()[8]},
        "unknown_type": {"count": 1, "example": "causes.gff3:14: " + CAUSES_GFF3.splitlines()[13]},
    }
    with pytest.raises(GenolmError, match=r"^causes.gff3:8: Parent 'gone' is not defined by any ID"):
        read_annotation(path, strict=True, source="causes.gff3")
