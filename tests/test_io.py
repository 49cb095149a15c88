"""Readers in genolm.io: small inline files for every branch, plus the real E. coli and ClinVar files."""

from __future__ import annotations

import gzip
import io
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pysam
import pytest
from Bio.Seq import Seq
from Bio.SeqFeature import CompoundLocation, SeqFeature, SimpleLocation
from Bio.SeqRecord import SeqRecord
from hypothesis import given, settings
from hypothesis import strategies as st

from genolm.errors import GenolmError
from genolm.io import fasta
from genolm.io.annotation import Gene, gene_sequence, read_annotation, read_genes, sniff_format
from genolm.io.contigs import canonical_contig, reconcile_contigs
from genolm.io.fasta import (
    contig_lengths,
    decode,
    encode,
    iter_fasta,
    open_text,
    read_genome,
)
from genolm.io.vcf import read_genotypes, read_variants, read_variants_counted
from genolm.sequence import reverse_complement_codes
from tests.conftest import shared_data

ECOLI = "ecoli_k12/GCF_000005845.2_ASM584v2_genomic"
CLINVAR = "clinvar_mtdna/clinvar_MT_2022-05-25.vcf.gz"


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


# ------------------------------------------------------------------ base codes


def test_encode_maps_acgt_either_case_and_iupac_to_n():
    assert encode("ACGTacgt").tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert encode(b"NnRYSWKMBDHVrysw").tolist() == [4] * 16
    assert encode("").dtype == np.uint8


@pytest.mark.parametrize("bad", ["AC-GT", "ACG*", "AC1", "ACU", "AC GT", "ACé"])
def test_encode_rejects_non_iupac(bad):
    with pytest.raises(GenolmError, match="invalid base"):
        encode(bad)


def test_decode_and_reverse_complement():
    codes = encode("AACGTNg")
    assert decode(codes) == "AACGTNG"
    assert decode(reverse_complement_codes(codes)) == "CNACGTT"
    with pytest.raises(ValueError):
        decode(np.array([5], dtype=np.uint8))


# ------------------------------------------------------------------ FASTA


def test_iter_fasta_streams_records_with_first_word_names(tmp_path):
    path = write(tmp_path / "g.fa", ">chr1 some description\nACGT\nNNac\n\n>chr2\nGG\n")
    records = list(iter_fasta(path))
    assert [name for name, _ in records] == ["chr1", "chr2"]
    assert decode(records[0][1]) == "ACGTNNAC"
    assert records[1][1].tolist() == [2, 2]
    assert records[0][1].flags.writeable
    assert contig_lengths(path) == {"chr1": 8, "chr2": 2}
    assert list(read_genome(path)) == ["chr1", "chr2"]


def test_soft_mask_marks_lowercase(tmp_path):
    path = write(tmp_path / "g.fa", ">a\nACgt\nnA\n")
    [(name, codes, mask)] = list(iter_fasta(path, soft_mask=True))
    assert decode(codes) == "ACGTNA"
    assert mask.tolist() == [False, False, True, True, True, False]


def test_crlf_and_bom_are_tolerated(tmp_path):
    path = write(tmp_path / "g.fa", b"\xef\xbb\xbf>a desc\r\nAC\r\nGT\r\n>b\r\nT\r\n")
    assert {n: decode(c) for n, c in iter_fasta(path)} == {"a": "ACGT", "b": "T"}
    with open_text(path) as fh:
        assert fh.read() == ">a desc\nAC\nGT\n>b\nT\n"


def test_gzip_bgzip_and_plain_named_gz_all_read(tmp_path):
    text = ">a\nACGT\n>b\nTTTT\n"
    plain = write(tmp_path / "plain.fa", text)
    gz = write(tmp_path / "g.fa.gz", gzip.compress(text.encode()))
    misnamed = write(tmp_path / "really_plain.fa.gz", text)
    bgz = tmp_path / "g.fa.bgz"
    pysam.tabix_compress(str(plain), str(bgz))
    assert bgz.read_bytes()[:4] == b"\x1f\x8b\x08\x04"  # BGZF's extra-field flag: it really is bgzip
    for path in (plain, gz, misnamed, bgz):
        assert {n: decode(c) for n, c in iter_fasta(path)} == {"a": "ACGT", "b": "TTTT"}, path


def test_truncated_gzip_names_the_file(tmp_path):
    data = gzip.compress(b">a\n" + b"ACGT" * 5000 + b"\n")
    path = write(tmp_path / "cut.fa.gz", data[: len(data) // 2])
    with pytest.raises(GenolmError, match="cut.fa.gz.*truncated"):
        list(iter_fasta(path))
    with pytest.raises(GenolmError, match="cut.fa.gz"), open_text(path) as fh:
        fh.read()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"bad.fa: empty file"),
        ("\n\n", r"bad.fa: empty file"),
        ("\nACGT\n>a\nAC\n", r"bad.fa:2: not FASTA"),
        ("LOCUS x\n", r"bad.fa:1: not FASTA"),
        (">a\n>b\nAC\n", r"bad.fa:1: record 'a' has no sequence"),
        (">a\nAC\n>b\n\n", r"bad.fa:3: record 'b' has no sequence"),
        (">a\nACGT\nAC-T\n", r"bad.fa:3: invalid sequence character '-'"),
        (">a\nAC\n>b\nAAAA\nAA\nA1\n", r"bad.fa:6: invalid sequence character '1'"),
        (">a\nAC\n>a\nGG\n", r"bad.fa:3: duplicate contig name 'a'"),
        (">\nAC\n", r"bad.fa:1: FASTA header has no name"),
    ],
)
def test_malformed_fasta_raises_with_file_and_line(tmp_path, text, message):
    path = write(tmp_path / "bad.fa", text)
    with pytest.raises(GenolmError, match=message):
        list(iter_fasta(path))


def _check_blocks(text: bytes, chunk: int) -> None:
    """However the file falls into chunks, blocks reassemble the text, carry the line number of their
    first byte, and give headers whole (bases None) and sequence runs without their line ends."""
    blocks = list(fasta._blocks(io.BytesIO(text), chunk_size=chunk))
    assert b"".join(raw for raw, _, _ in blocks) == text
    offset = 0
    for raw, bases, lineno in blocks:
        assert lineno == text[:offset].count(b"\n") + 1
        if bases is None:
            assert raw.startswith(b">") and (offset == 0 or text[offset - 1 : offset] == b"\n")
            assert raw.endswith(b"\n") or offset + len(raw) == len(text)
        else:
            assert bases == raw.replace(b"\n", b"")
        offset += len(raw)


@pytest.mark.parametrize("chunk", [1, 7, 61, 62, 200, 1 << 22])
def test_chunked_blocks_on_long_lines(chunk):
    line = b"ACGT" * 15
    _check_blocks(b">a x\n" + (line + b"\n") * 5 + b">b\n" + line + b"\n\n>c\n" + line, chunk)


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(st.one_of(st.just(">h x"), st.text("ACGTacgtN", max_size=70)), min_size=1, max_size=30),
    chunk=st.integers(min_value=1, max_value=300),
)
def test_chunked_blocks_property(lines, chunk):
    _check_blocks("\n".join(lines).encode(), chunk)


def test_real_ecoli_genome_plain_and_gzip_read_alike(tmp_path):
    """Values only: reading speed is measured by benchmarks/preprocess.py against zcat and a naive reader."""
    gz = shared_data(f"{ECOLI}.fna.gz")
    plain = write(tmp_path / "ecoli.fa", gzip.decompress(gz.read_bytes()))
    genome = read_genome(gz)
    assert list(genome) == ["NC_000913.3"]
    seq = genome["NC_000913.3"]
    assert len(seq) == 4_641_652
    assert decode(seq[:20]) == "AGCTTTTCATTCTGACTGCA"
    assert np.bincount(seq, minlength=5).tolist() == [1_142_742, 1_180_091, 1_177_437, 1_141_382, 0]
    (name, codes), *rest = list(iter_fasta(plain))
    assert name == "NC_000913.3" and not rest
    np.testing.assert_array_equal(codes, seq)


def test_real_mitochondrial_fasta_keeps_the_rcrs_n():
    lengths = contig_lengths(shared_data("clinvar_mtdna/NC_012920.1.fa.gz"))
    assert lengths == {"NC_012920.1": 16_569}
    seq = read_genome(shared_data("clinvar_mtdna/NC_012920.1.fa.gz"))["NC_012920.1"]
    assert seq[3106] == fasta.N and (seq == fasta.N).sum() == 1


# ------------------------------------------------------------------ annotation

GFF3 = """##gff-version 3
##sequence-region c1 1 60
c1\tsrc\tgene\t3\t20\t.\t-\t.\tID=g1;Name=abcA;locus_tag=L1;gene_biotype=protein_coding;Dbxref=GO:0000001
c1\tsrc\tmRNA\t3\t20\t.\t-\t.\tID=t1;Parent=g1;Ontology_term=GO:0000002
c1\tsrc\texon\t3\t8\t.\t-\t.\tID=e1;Parent=t1
c1\tsrc\tCDS\t3\t8\t.\t-\t0\tID=c1;Parent=t1;product=sugar%2C kinase%3B 2;Dbxref=EC:2.7.1.1,UniProt:P1
c1\tsrc\tCDS\t12\t20\t.\t-\t0\tID=c1;Parent=t1;product=sugar%2C kinase%3B 2;ec_number=1.1.1.1
c1\tsrc\tmRNA\t12\t20\t.\t-\t.\tID=t2;Parent=g1
c1\tsrc\tCDS\t14\t20\t.\t-\t0\tID=c2;Parent=t2;go_function=binding|0005488||IEA
c1\tsrc\tpseudogene\t30\t40\t.\t+\t.\tID=g2;Name=psiA;pseudo=true
c1\tsrc\tgene\t45\t55\t.\t+\t.\tID=g3;Name=trnA
c1\tsrc\ttRNA\t45\t55\t.\t+\t.\tID=r3;Parent=g3;product=tRNA-Ala
c1\tsrc\tCDS\t56\t60\t.\t+\t0\tID=orf9;locus_tag=L9
##FASTA
>c1
ACGT
"""


def test_gff3_hierarchy_attributes_and_biotypes(tmp_path):
    path = write(tmp_path / "a.gff3", GFF3)
    assert sniff_format(path) == "gff3"
    genes = {g.id: g for g in read_genes(path)}
    assert list(genes) == ["L1", "g2", "g3", "L9"]
    g1 = genes["L1"]
    assert (g1.contig, g1.start, g1.end, g1.strand, g1.name) == ("c1", 2, 20, "-", "abcA")
    assert g1.cds == ((2, 8), (11, 20))  # first coding transcript t1 only, genome order, 0-based half-open
    assert g1.product == "sugar, kinase; 2"
    assert g1.ec_numbers == ("2.7.1.1", "1.1.1.1")
    assert g1.go_terms == ("GO:0000001", "GO:0000002", "GO:0005488")
    assert g1.biotype == "protein_coding" and g1.attributes["locus_tag"] == "L1"
    assert (genes["g2"].biotype, genes["g2"].cds) == ("pseudogene", ())
    assert (genes["g3"].biotype, genes["g3"].product, genes["g3"].cds) == ("tRNA", "tRNA-Ala", ())
    assert (genes["L9"].biotype, genes["L9"].cds) == ("protein_coding", ((55, 60),))


def test_gene_sequence_joins_cds_and_reverse_complements(tmp_path):
    genome = {"c1": encode("AACCGGTTAC" * 3)}
    minus = Gene("m", "c1", 2, 14, "-", "protein_coding", "", "", (), (), {}, ((2, 4), (10, 14)))
    assert decode(gene_sequence(genome, minus)) == "GGTTGG"  # revcomp of CC + AACC
    assert decode(gene_sequence(genome, minus, cds_only=False)) == decode(
        reverse_complement_codes(genome["c1"][2:14])
    )
    assert decode(gene_sequence(genome, minus, flank=3)) == decode(
        reverse_complement_codes(np.concatenate([genome["c1"][2:4], genome["c1"][10:17]]))
    )
    plus = Gene("p", "c1", 1, 5, "+", "ncRNA", "", "", (), (), {}, ())
    assert decode(gene_sequence(genome, plus, flank=4)) == "AACCG"  # flank clipped at the contig start
    with pytest.raises(GenolmError, match="contig 'c2'"):
        gene_sequence(genome, Gene("x", "c2", 0, 3, "+", "", "", "", (), (), {}, ()))
    with pytest.raises(GenolmError, match="outside contig"):
        gene_sequence(genome, Gene("y", "c1", 25, 40, "+", "", "", "", (), (), {}, ()))


GTF = (
    'c1\tsrc\tgene\t1\t30\t.\t+\t.\tgene_id "G1"; gene_name "alpha"; gene_biotype "protein_coding";\n'
    'c1\tsrc\ttranscript\t1\t30\t.\t+\t.\tgene_id "G1"; transcript_id "T1";\n'
    'c1\tsrc\tCDS\t11\t15\t.\t+\t0\tgene_id "G1"; transcript_id "T1"; tag "a"; tag "b";\n'
    'c1\tsrc\tCDS\t3\t6\t.\t+\t0\tgene_id "G1"; transcript_id "T1";\n'
    'c1\tsrc\tCDS\t20\t25\t.\t+\t0\tgene_id "G1"; transcript_id "T2";\n'
    'c2\tsrc\texon\t5\t9\t.\t-\t.\tgene_id "G2"; transcript_id "T3"; gene_type "lncRNA";\n'
    'c2\tsrc\texon\t15\t19\t.\t-\t.\tgene_id "G2"; transcript_id "T3";\n'
)


def test_gtf_genes_with_and_without_gene_rows(tmp_path):
    """Without gene rows a gene spans its rows; where others have one, a gene without lost it to a cut."""
    path = write(tmp_path / "a.gtf", GTF)
    assert sniff_format(path) == "gtf"
    (only,), issues = read_annotation(path)
    # G2 lost its gene row and T2 its transcript row (as in a regional cut): their 3 rows are left out.
    assert only.id == "G1" and only.cds == ((2, 6), (10, 15)) and issues.counts == {"missing_parent": 3}
    g1, g2 = read_genes(write(tmp_path / "b.gtf", GTF.split("\n", 2)[2]))  # no gene or transcript rows
    assert (g1.id, g1.name, g1.start, g1.end, g1.biotype) == ("G1", "G1", 2, 25, "protein_coding")
    assert g1.cds == ((2, 6), (10, 15))
    assert (g2.id, g2.contig, g2.start, g2.end, g2.strand, g2.biotype, g2.cds) == (
        "G2",
        "c2",
        4,
        19,
        "-",
        "lncRNA",
        (),
    )


def _genbank_file(tmp_path: Path) -> Path:
    record = SeqRecord(Seq("ACGT" * 30), id="X1.1", name="X1", annotations={"molecule_type": "DNA"})

    def feat(kind, location, **quals):
        return SeqFeature(
            location, type=kind, qualifiers={k: [v] if isinstance(v, str) else v for k, v in quals.items()}
        )

    split = CompoundLocation([SimpleLocation(40, 50, strand=-1), SimpleLocation(10, 20, strand=-1)])
    record.features = [
        feat("gene", SimpleLocation(10, 50, strand=-1), locus_tag="T1", gene="xyzA"),
        feat(
            "CDS",
            split,
            locus_tag="T1",
            product="kinase",
            EC_number=["2.7.1.1", "3.1.1.1"],
            db_xref=["GO:0000003", "UniProt:Q1"],
            GO_process="GO:0000004 - something [Evidence IEA]",
        ),
        feat("gene", SimpleLocation(60, 70, strand=1), locus_tag="T2", pseudo=""),
        feat("gene", SimpleLocation(80, 100, strand=1), gene="trnX"),
        feat("tRNA", SimpleLocation(82, 98, strand=1), product="tRNA-X"),
        feat("CDS", SimpleLocation(100, 112, strand=1), locus_tag="T4", product="lonely"),
    ]
    path = tmp_path / "a.gbk"
    from Bio import SeqIO

    SeqIO.write(record, path, "genbank")
    return path


def test_genbank_join_ec_go_and_biotypes(tmp_path):
    path = _genbank_file(tmp_path)
    assert sniff_format(path) == "genbank"
    genes = {g.id: g for g in read_genes(path)}
    assert list(genes) == ["T1", "T2", "trnX", "T4"]
    t1 = genes["T1"]
    assert (t1.contig, t1.start, t1.end, t1.strand, t1.name) == ("X1.1", 10, 50, "-", "xyzA")
    assert t1.cds == ((10, 20), (40, 50))
    assert (t1.product, t1.ec_numbers, t1.go_terms) == (
        "kinase",
        ("2.7.1.1", "3.1.1.1"),
        ("GO:0000003", "GO:0000004"),
    )
    assert genes["T2"].biotype == "pseudogene"
    assert (genes["trnX"].biotype, genes["trnX"].product) == ("tRNA", "tRNA-X")  # joined by containment
    assert (genes["T4"].biotype, genes["T4"].cds) == ("protein_coding", ((100, 112),))  # CDS without a gene


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("c1\tsrc\tgene\t1\t10\t.\t+\tID=g", r"bad.gff3:2: expected 9 tab-separated columns, found 8"),
        ("c1\tsrc\tgene\tone\t10\t.\t+\t.\tID=g", r"bad.gff3:2: start/end must be integers"),
        ("c1\tsrc\tgene\t11\t10\t.\t+\t.\tID=g", r"bad.gff3:2: expected 1 <= start <= end"),
        ("c1\tsrc\tgene\t1\t10\t.\tx\t.\tID=g", r"bad.gff3:2: strand must be one of"),
        ("c1\tsrc\tCDS\t1\t10\t.\t+\t0\tID=c;Parent=nope", r"bad.gff3:2: Parent 'nope' is not defined"),
    ],
)
def test_malformed_gff3_lines(tmp_path, line, message):
    path = write(tmp_path / "bad.gff3", f"##gff-version 3\n{line}\n")
    with pytest.raises(GenolmError, match=message):
        read_genes(path, "gff3", strict=True)


def test_malformed_gtf_and_unknown_formats(tmp_path):
    gtf = write(tmp_path / "bad.gtf", 'c1\ts\texon\t1\t5\t.\t+\t.\ttranscript_id "T";\n')
    with pytest.raises(GenolmError, match=r"bad.gtf:1: GTF line has no gene_id"):
        read_genes(gtf, "gtf", strict=True)
    assert read_annotation(gtf, "gtf")[1].counts == {"no_gene_id": 1}  # lenient: counted, left out
    with pytest.raises(GenolmError, match=r"odd.txt: cannot tell the annotation format"):
        sniff_format(write(tmp_path / "odd.txt", "hello world\n"))
    with pytest.raises(GenolmError, match=r"empty.gff: empty annotation file"):
        read_genes(write(tmp_path / "empty.gff", "\n"))
    with pytest.raises(GenolmError, match=r"x.gbk: no GenBank records"):
        read_genes(write(tmp_path / "x.gbk", "hello\n"), "genbank")
    with pytest.raises(GenolmError, match="unknown annotation format 'bed'"):
        read_genes(gtf, "bed")


@pytest.fixture(scope="module")
def ecoli_genes() -> dict[str, dict[str, Gene]]:
    return {
        fmt: {g.id: g for g in read_genes(shared_data(f"{ECOLI}.{ext}"))}
        for fmt, ext in (("gff3", "gff.gz"), ("gb", "gbff.gz"))
    }


def test_real_ecoli_annotations_agree_across_formats(ecoli_genes):
    gff, gb = ecoli_genes["gff3"], ecoli_genes["gb"]
    expected = {"protein_coding": 4288, "pseudogene": 145, "ncRNA": 98, "tRNA": 86, "rRNA": 22}
    for genes in (gff, gb):
        assert len(genes) == 4639
        assert Counter(g.biotype for g in genes.values()) == expected
    assert set(gff) == set(gb)
    thrl_gff, thrl_gb = gff["b0001"], gb["b0001"]
    assert (thrl_gff.start, thrl_gff.end, thrl_gff.strand, thrl_gff.name) == (189, 255, "+", "thrL")
    assert (thrl_gb.start, thrl_gb.end, thrl_gb.strand, thrl_gb.cds) == (189, 255, "+", ((189, 255),))
    assert all(gff[k].cds == gb[k].cds and gff[k].strand == gb[k].strand for k in gff)
    assert gff["b0240"].cds == gb["b0240"].cds == ((257828, 257899), (258675, 259006))  # joined pseudo CDS


def test_real_ecoli_ec_numbers(ecoli_genes):
    gb = ecoli_genes["gb"]
    assert gb["b0002"].ec_numbers == ("1.1.1.3", "2.7.2.4")
    assert gb["b0002"].product == "fused aspartate kinase/homoserine dehydrogenase 1"
    with_ec = [g for g in gb.values() if g.ec_numbers]
    assert len(with_ec) == 1416
    assert sum(len(g.ec_numbers) for g in with_ec) == 1659
    assert sum(len({ec.split(".")[0] for ec in g.ec_numbers}) == 1 for g in with_ec) == 1373
    assert not any(g.ec_numbers for g in ecoli_genes["gff3"].values())  # NCBI's GFF carries no EC numbers


def test_real_ecoli_gene_sequences_translate(ecoli_genes):
    genome = read_genome(shared_data(f"{ECOLI}.fna.gz"))
    gb = ecoli_genes["gb"]
    assert str(Seq(decode(gene_sequence(genome, gb["b0001"]))).translate()) == "MKRISTTITTTITITTGNGAG*"
    yaaa = decode(gene_sequence(genome, gb["b0006"]))  # minus strand
    assert yaaa.startswith("ATG") and yaaa[-3:] in ("TAA", "TAG", "TGA") and len(yaaa) == 6459 - 5682
    coding = [g for g in gb.values() if g.biotype == "protein_coding"]
    starts = Counter(decode(gene_sequence(genome, g)[:3]) for g in coding)
    assert starts["ATG"] + starts["GTG"] + starts["TTG"] > 0.99 * len(coding)


# ------------------------------------------------------------------ VCF

VCF = """##fileformat=VCFv4.2
##INFO=<ID=AF,Number=A,Type=Float,Description="freq">
##INFO=<ID=AD,Number=R,Type=Integer,Description="depth">
##INFO=<ID=DB,Number=0,Type=Flag,Description="dbsnp">
##INFO=<ID=NOTE,Number=.,Type=String,Description="free text">
##FORMAT=<ID=GT,Number=1,Type=String,Description="genotype">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\ts2\ts3
1\t10\trs1\tA\tC,G\t.\t.\tAF=0.1,0.25;AD=5,3,2;DB;NOTE=x,y\tGT\t0/1\t1/2\t./.
1\t20\t.\tA\t<DEL>\t.\t.\t.\tGT\t0|0\t1|1\t0/.
1\t30\tv3\tT\tT,*\t.\t.\t.\tGT\t0\t1\t0
1\t40\tv4\tG\t.\t.\t.\t.\tGT\t0\t0\t0
MT\t50\t.\tC\tT\t.\t.\t.\tGT\t1\t0\t.
"""


def test_read_variants_splits_alleles_and_counts_skips(tmp_path):
    path = write(tmp_path / "a.vcf", VCF)
    variants, skipped = read_variants_counted(path)
    assert skipped == {"missing_alt": 1, "symbolic_alt": 2, "alt_equals_ref": 1}
    assert [(v.id, v.contig, v.pos, v.ref, v.alt) for v in variants] == [
        ("rs1", "1", 10, "A", "C"),
        ("rs1", "1", 10, "A", "G"),
        ("MT:50:C:T", "MT", 50, "C", "T"),
    ]
    assert variants[0].info == {"AF": "0.1", "AD": "5,3", "DB": "1", "NOTE": "x,y"}
    assert variants[1].info == {"AF": "0.25", "AD": "5,2", "DB": "1", "NOTE": "x,y"}
    assert list(read_variants(path)) == variants


def test_read_genotypes_dosages(tmp_path):
    pysam.tabix_compress(str(write(tmp_path / "a.vcf", VCF)), str(tmp_path / "a.vcf.gz"))
    samples, rows = read_genotypes(tmp_path / "a.vcf.gz")
    assert samples == ["s1", "s2", "s3"]
    assert [(v.alt, d.tolist()) for v, d in rows] == [("C", [1, 1, -1]), ("G", [0, 1, -1]), ("T", [1, 0, -1])]
    assert rows[0][1].dtype == np.int8


def test_malformed_vcf_names_the_file(tmp_path):
    header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    bad_pos = write(tmp_path / "badpos.vcf", header + "1\tabc\t.\tA\tC\t.\t.\t.\n")
    with pytest.raises(GenolmError, match=r"badpos.vcf: malformed VCF record"):
        read_variants_counted(bad_pos)
    with pytest.raises(GenolmError, match=r"notvcf.vcf: not a readable VCF"):
        list(read_variants(write(tmp_path / "notvcf.vcf", "hello\n")))
    with pytest.raises(GenolmError, match=r"missing.vcf: cannot open"):
        list(read_variants(tmp_path / "missing.vcf"))
    no_contig_header = write(tmp_path / "nocontig.vcf", header + "chr7\t5\t.\tA\tC\t.\t.\t.\n")
    assert [v.contig for v in read_variants(no_contig_header)] == ["chr7"]


def test_real_clinvar_vcf_plain_gzip():
    path = shared_data(CLINVAR)
    variants, skipped = read_variants_counted(path)
    assert len(variants) + skipped["alt_equals_ref"] == 2750
    assert skipped == {"missing_alt": 0, "symbolic_alt": 0, "alt_equals_ref": 1}
    assert {v.contig for v in variants} == {"MT"}
    assert all("CLNSIG" in v.info for v in variants)
    sig = Counter(v.info["CLNSIG"] for v in variants)
    assert sig["Pathogenic"] + sig["Likely_pathogenic"] + sig["Pathogenic/Likely_pathogenic"] == 255
    assert sig["Benign"] + sig["Likely_benign"] + sig["Benign/Likely_benign"] == 1430
    assert not any(v.pos == 1438 and v.ref == v.alt for v in variants)
    assert (variants[0].pos, variants[0].ref, variants[0].alt, variants[0].id) == (235, "A", "G", "1344497")


# ------------------------------------------------------------------ contigs


def test_reconcile_contig_spellings():
    ref = ["1", "2", "X", "MT"]
    got = reconcile_contigs(["chr1", "2", "chrX", "chrM", "NC_012920.1", "chrMT", "M"], ref, source="a.vcf")
    assert got == {
        "chr1": "1",
        "2": "2",
        "chrX": "X",
        "chrM": "MT",
        "NC_012920.1": "MT",
        "chrMT": "MT",
        "M": "MT",
    }
    assert reconcile_contigs(["1", "MT", "NC_000023.11"], ["chr1", "chrM", "chrX"], source="s") == {
        "1": "chr1",
        "MT": "chrM",
        "NC_000023.11": "chrX",
    }
    assert reconcile_contigs(["NC_000001.10"], ["NC_000001.11", "NC_000002.12"], source="s") == {
        "NC_000001.10": "NC_000001.11"
    }
    assert canonical_contig("chrM") == canonical_contig("NC_012920.1") == "MT"


def test_reconcile_prefers_exact_match():
    assert reconcile_contigs(["chr1", "1"], ["1", "chr1"], source="s") == {"chr1": "chr1", "1": "1"}


def test_reconcile_single_contig_fallback_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="genolm.io.contigs"):
        assert reconcile_contigs(["weird", "weird"], ["NC_000913.3"], source="b.vcf") == {
            "weird": "NC_000913.3"
        }
    assert "b.vcf" in caplog.text and "weird" in caplog.text


def test_reconcile_unmatched_lists_names():
    with pytest.raises(
        GenolmError, match=r"c.vcf: 2 contig\(s\) not found in the reference: 9, Z \(reference has: 1, 2"
    ):
        reconcile_contigs(["1", "9", "Z"], ["1", "2", "3", "4", "5", "6"], source="c.vcf")
    with pytest.raises(GenolmError, match="d.vcf"):
        reconcile_contigs(["a", "b"], ["c"], source="d.vcf")


def test_real_clinvar_contig_matches_rcrs_fasta():
    names = {v.contig for v in read_variants(shared_data(CLINVAR))}
    reference = contig_lengths(shared_data("clinvar_mtdna/NC_012920.1.fa.gz"))
    assert reconcile_contigs(names, reference, source=CLINVAR) == {"MT": "NC_012920.1"}


GO_DATA = Path(__file__).resolve().parent / "data" / "go"


def test_go_terms_from_flybase_gff3_gene_ontology_term():
    """FlyBase r5.54 lines (verbatim): GO on the gene's Ontology_term, SO terms beside them ignored."""
    (gene,) = read_genes(GO_DATA / "flybase_FBgn0031208.gff3")
    assert gene.id == "FBgn0031208"
    assert gene.go_terms == ("GO:0016929", "GO:0016926", "GO:0006508")
    # CDS of the first transcript (FBtr0300689), two rows, 1-based 7680-8116 and 8193-8610.
    assert gene.cds == ((7679, 8116), (8192, 8610))


def test_go_terms_from_refseq_pgap_cds_children():
    """PGAP style: Ontology_term and go_function/go_process ("name|id||evidence") on the CDS only."""
    genes = {g.id: g.go_terms for g in read_genes(GO_DATA / "refseq_pgap.gff3")}
    assert genes == {
        "ECOLIN_RS00005": ("GO:0009088",),
        "ECOLIN_RS00010": ("GO:0008652", "GO:0004072", "GO:0004412", "GO:0050661"),
        # No Ontology_term: the ids come from the pipe-separated go_* values alone.
        "ECOLIN_RS00015": ("GO:0004413", "GO:0005524", "GO:0009088"),
        "ECOLIN_RS00025": (),
    }


def test_go_terms_from_genbank_go_qualifiers():
    """/GO_* in each NCBI spelling ("GO:id - name [Evidence]", several per qualifier, "[GO ID id]",
    "name [GO:id]") and /db_xref="GO:..." on the CDS; wrapped qualifier lines are joined."""
    genes = {g.id: g.go_terms for g in read_genes(GO_DATA / "go_qualifiers.gbk")}
    assert genes == {
        "ECTEST_0001": ("GO:0045259", "GO:0046933", "GO:0005524", "GO:0015986"),
        "ECTEST_0002": ("GO:0003924", "GO:0005525", "GO:0005737"),
        "ECTEST_0003": (),
    }
