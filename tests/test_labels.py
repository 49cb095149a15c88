"""ClinVar review stars and annotation-derived consequences, checked on hand-built cases."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from genolm.consequence import ConsequenceIndex
from genolm.errors import GenolmError
from genolm.io.annotation import Gene
from genolm.io.fasta import contig_lengths
from genolm.io.user_terms import display_name
from genolm.labels import build_gene_table, build_variant_table, review_stars, sample_warnings
from genolm.splits import make_splits, write_splits
from tests.conftest import REPO, run_snakemake, shared_data

ECOLI = "GCF_000005845.2_ASM584v2_genomic"


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
    table, summary = _build(
        tmp_path, gff, genome, splits, label="table", label_table=labels, min_class_size=2
    )
    expected = {f"b{i}": "x" if i % 2 else "y" for i in range(12)}
    assert all(expected[i] == label for i, label in zip(table["id"], table["label"], strict=True))
    # b3 straddles a split-block boundary, so it is left out and counted.
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


GO_DATA = Path(__file__).resolve().parent / "data" / "go"


def _go_of(i: int) -> dict[str, set[str]]:
    """Where gene i of _go_annotation keeps which GO terms (gene row, mRNA row, CDS row)."""
    return {
        "gene": {"GO:0005524"} if i % 2 == 0 else set(),
        "mRNA": {"GO:0003677"} if i % 3 == 0 else set(),
        "CDS": {"GO:0016301"} if 6 <= i <= 10 else set(),
        "rare": {"GO:0009999"} if i == 0 else ({"GO:0009998"} if i == 1 else set()),
    }


def _go_annotation(tmp_path):
    """12 genes with GO terms spread over gene (Ontology_term, with SO terms), mRNA and CDS (Dbxref)."""
    genome, _, splits = _tiny_annotation(tmp_path)
    lines = ["##gff-version 3"]
    for i in range(12):
        start, end, go = 100 + i * 900, 100 + i * 900 + 299, _go_of(i)
        row = f"c1\tt\t{{}}\t{start}\t{end}\t.\t+\t{{}}\t"
        ont = ",".join(["SO:0001217", *sorted(go["gene"] | go["rare"])])
        lines.append(row.format("gene", ".") + f"ID=g{i};Name=gene{i};locus_tag=b{i};Ontology_term={ont}")
        mrna = f";Ontology_term={','.join(sorted(go['mRNA']))}" if go["mRNA"] else ""
        lines.append(row.format("mRNA", ".") + f"ID=t{i};Parent=g{i}{mrna}")
        cds = f";Dbxref=UniProtKB:P{i},{','.join(sorted(go['CDS']))}" if go["CDS"] else ""
        lines.append(row.format("CDS", "0") + f"ID=c{i};Parent=t{i}{cds}")
    gff = tmp_path / "go.gff3"
    gff.write_text("\n".join(lines) + "\n")
    return genome, gff, splits


def _build(tmp_path, gff, genome, splits, **task):
    table = build_gene_table(gff, genome, splits, tmp_path / "t.tsv", tmp_path / "t.json", **task)
    return table, json.loads((tmp_path / "t.json").read_text())


def test_go_multilabel_table_and_summary(tmp_path):
    genome, gff, splits = _go_annotation(tmp_path)
    table, summary = _build(tmp_path, gff, genome, splits, label="go", type="multilabel", min_class_size=2)
    written = pd.read_csv(tmp_path / "t.tsv", sep="\t")
    assert written["label"].tolist() == table["label"].tolist()
    kept = {int(i[1:]) for i in table["id"]}
    # b3 straddles a block edge; b5 and b11 have no GO term; b1 only a rare one.
    assert kept == set(range(12)) - {1, 3, 5, 11}
    for gene_id, label in zip(table["id"], table["label"], strict=True):
        go = _go_of(int(gene_id[1:]))
        assert label == ";".join(sorted(go["gene"] | go["mRNA"] | go["CDS"]))
    assert summary["rare_labels"] == {"GO:0009998": 1, "GO:0009999": 1}
    assert summary["dropped"] == {"no_label": 2, "only_rare_labels": 1, "outside_split_blocks": 1}
    expected = Counter(t for i in kept for t in set().union(*list(_go_of(i).values())[:3]))
    assert summary["classes"] == dict(sorted(expected.items()))
    assert summary["rows"] == len(table) == len(kept)
    assert summary["labels_per_gene"] == round(sum(expected.values()) / len(kept), 4)
    per_split = Counter(
        (s, t) for s, lab in zip(table["split"], table["label"], strict=True) for t in lab.split(";")
    )
    assert summary["per_split"] == {
        s: {t: n for (s2, t), n in sorted(per_split.items()) if s2 == s} for s in ("train", "val", "test")
    }
    missing = {
        s: sorted(set(expected) - {t for s2, t in per_split if s2 == s}) for s in ("train", "val", "test")
    }
    assert summary["labels_missing_in_split"] == {s: m for s, m in missing.items() if m}


def test_go_terms_and_slim(tmp_path):
    genome, gff, splits = _go_annotation(tmp_path)
    table, summary = _build(
        tmp_path,
        gff,
        genome,
        splits,
        label="go",
        type="multilabel",
        min_class_size=2,
        terms=["GO:0005524", "GO:0016301", "GO:0009999"],
    )
    assert set(";".join(table["label"]).split(";")) == {"GO:0005524", "GO:0016301"}
    assert (
        summary["dropped"]["no_label"] == 4
    )  # b1, b3, b5 and b11 hold none of the terms (GO:0009999, on b0 only, is rare)
    slim = {"obo": GO_DATA / "mini_go.obo", "slim": GO_DATA / "mini_goslim.obo"}
    table, summary = _build(
        tmp_path, gff, genome, splits, label="go", type="multilabel", min_class_size=2, go_slim=slim
    )
    # ATP binding -> nucleotide binding, kinase activity stays; GO:0003677 and the rare ids are not in the
    # ontology, so they map to nothing.
    to_slim = {"GO:0005524": "GO:0000166", "GO:0016301": "GO:0016301"}
    expected = {}
    for i in set(range(12)) - {3}:
        slim_terms = {to_slim[t] for t in set().union(*_go_of(i).values()) if t in to_slim}
        if slim_terms:
            expected[f"b{i}"] = ";".join(sorted(slim_terms))
    assert dict(zip(table["id"], table["label"], strict=True)) == expected
    assert expected["b8"] == "GO:0000166;GO:0016301" and expected["b9"] == "GO:0016301"
    assert summary["classes"] == dict(sorted(Counter(";".join(expected.values()).split(";")).items()))


def test_go_slim_mapper_follows_is_a_and_part_of():
    from genolm.go_slim import slim_mapper

    to_slim = slim_mapper(GO_DATA / "mini_go.obo", GO_DATA / "mini_goslim.obo")
    # thrA (PGAP snippet): kinase covers transferase and the root; dehydrogenase only reaches the root;
    # NADP binding (GO:0050661) is not in the ontology.
    assert to_slim(["GO:0008652", "GO:0004072", "GO:0004412", "GO:0050661"]) == (
        "GO:0003674",
        "GO:0006520",
        "GO:0016301",
    )
    assert to_slim(["GO:0005829"]) == ("GO:0005737",)  # cytosol part_of cytoplasm
    assert to_slim(["GO:0005737"]) == ("GO:0005737",)  # a slim term maps to itself
    assert to_slim([]) == ()


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({"label": "go", "type": "multiclass"}, "needs type multilabel"),
        (
            {"label": "biotype", "type": "multiclass", "terms": ["x"]},
            "terms and go_slim need type multilabel",
        ),
        (
            {"label": "biotype", "type": "multilabel", "go_slim": {"obo": "a", "slim": "b"}},
            "go_slim needs label go",
        ),
        (
            {"label": "go", "type": "multilabel", "go_slim": {"obo": "nope.obo", "slim": "b"}},
            "nope.obo: GO ontology",
        ),
        ({"label": "go", "type": "multilabel", "min_class_size": 50}, "0 label\\(s\\) held by >= 50 genes"),
    ],
)
def test_multilabel_task_errors_are_one_line(tmp_path, task, message):
    genome, gff, splits = _go_annotation(tmp_path)
    with pytest.raises(GenolmError, match=message):
        _build(tmp_path, gff, genome, splits, **task)
    assert not (tmp_path / "t.tsv").exists()


def test_multilabel_from_attribute_and_table(tmp_path):
    genome, gff, splits = _tiny_annotation(tmp_path)
    text = gff.read_text().splitlines()
    text = [
        line
        + (
            f";roles=r{i % 2},s{i % 3}"
            if "\tgene\t" in line and (i := int(line.split("ID=g")[1].split(";")[0])) < 11
            else ""
        )
        for line in text
    ]
    gff.write_text("\n".join(text) + "\n")
    table, _ = _build(
        tmp_path, gff, genome, splits, label="attribute:roles", type="multilabel", min_class_size=2
    )
    assert {gid: lab for gid, lab in zip(table["id"], table["label"], strict=True)} == {
        f"b{i}": ";".join(sorted({f"r{i % 2}", f"s{i % 3}"})) for i in range(11) if i != 3
    }
    labels = tmp_path / "labels.tsv"
    # One row per gene-label pair and ';'-joined rows, mixed; names or locus tags.
    labels.write_text(
        "id\tlabel\n" + "".join(f"b{i}\tx\nb{i}\ty;z\n" if i % 2 else f"gene{i}\tx;y\n" for i in range(12))
    )
    table, summary = _build(
        tmp_path, gff, genome, splits, label="table", type="multilabel", label_table=labels, min_class_size=2
    )
    assert {gid: lab for gid, lab in zip(table["id"], table["label"], strict=True)} == {
        f"b{i}": "x;y;z" if i % 2 else "x;y" for i in range(12) if i != 3
    }
    assert summary["classes"] == {"x": 11, "y": 11, "z": 5}


def test_real_ecoli_ec_classes_as_multilabel(tmp_path):
    """E. coli GenBank /EC_number: each gene's set of top-level EC classes, checked against Biopython."""
    from Bio import SeqIO

    data = shared_data("ecoli_k12")
    gbff, genome = data / f"{ECOLI}.gbff.gz", data / f"{ECOLI}.fna.gz"
    splits = tmp_path / "splits.tsv"
    write_splits(
        make_splits(contig_lengths(genome), method="blocks", block_size=100_000, gap=0, seed=1), splits
    )
    table, summary = _build(tmp_path, gbff, genome, splits, label="ec_class", type="multilabel")
    expected: dict[str, set[str]] = {}
    with gzip.open(gbff, "rt") as fh:
        for feature in next(SeqIO.parse(fh, "genbank")).features:
            if feature.type == "CDS" and "EC_number" in feature.qualifiers:
                tag = feature.qualifiers["locus_tag"][0]
                expected.setdefault(tag, set()).update(
                    f"EC{ec.split('.')[0]}" for ec in feature.qualifiers["EC_number"]
                )
    got = dict(zip(table["id"], table["label"], strict=True))
    assert len(got) + summary["dropped"]["outside_split_blocks"] == len(expected)
    assert all(got[tag] == ";".join(sorted(expected[tag])) for tag in got)
    assert sum(";" in label for label in got.values()) == sum(
        len(v) > 1 for tag, v in expected.items() if tag in got
    )
    assert summary["classes"] == dict(sorted(Counter(c for t in got for c in expected[t]).items()))
    assert set(summary["classes"]) == {f"EC{i}" for i in range(1, 8)}


@pytest.mark.workflow
def test_gene_labels_rule_builds_a_multilabel_task_from_the_demo(tmp_path):
    """The mini demo's synthetic_functions attribute through the real rule, with `terms` passed along."""
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "gene_function:\n  tasks:\n    functions:\n      label: 'attribute:synthetic_functions'\n"
        "      type: multilabel\n      min_class_size: 3\n      terms: [class_A, gc_rich]\n"
    )
    target = "results/mini/labels/genes/functions.tsv"
    run_snakemake(tmp_path, target, configfiles=[REPO / ".test" / "config.yaml", extra])
    table = pd.read_csv(tmp_path / target, sep="\t")
    summary = json.loads((tmp_path / target.replace(".tsv", ".summary.json")).read_text())
    assert set(";".join(table["label"]).split(";")) == {"class_A", "gc_rich"}
    assert set(table["label"]) <= {"class_A", "gc_rich", "class_A;gc_rich"}
    counts = table["label"].str.split(";").explode().value_counts().sort_index()
    assert summary["classes"] == {k: int(v) for k, v in counts.items()}
    assert summary["task_type"] == "multilabel" and set(summary["per_split"]) == {"train", "val", "test"}


def test_small_test_split_is_warned_about_in_the_summary(tmp_path):
    """12 genes: the test split holds a handful, so the summary says its metrics cannot be trusted."""
    genome, gff, splits = _tiny_annotation(tmp_path)
    labels = tmp_path / "labels.tsv"
    labels.write_text("id\tlabel\n" + "".join(f"b{i}\t{'xy'[i % 2]}\n" for i in range(12)))
    _, summary = _build(tmp_path, gff, genome, splits, label="table", label_table=labels, min_class_size=2)
    test = summary["per_split"]["test"]
    assert summary["annotation_issues"] == {}
    assert summary["warnings"] == [
        f"the test split has only {sum(test.values())} rows (fewer than 30): "
        "its metrics are too uncertain to rank methods",
        f"2 of 2 classes have fewer than 5 test rows: x ({test.get('x', 0)}), y ({test.get('y', 0)}); "
        "their per-class metrics mean little",
    ]


def test_sample_warnings_thresholds():
    assert sample_warnings({"a": 100, "b": 100}, {"a": 20, "b": 10}) == []
    assert sample_warnings({"a": 100, "b": 100}, {"a": 30, "b": 4}) == [
        "1 of 2 classes have fewer than 5 test rows: b (4); their per-class metrics mean little"
    ]
    (only,) = sample_warnings({"a": 9, "b": 9}, {"a": 14, "b": 15}, test_rows=20)
    assert only.startswith("the test split has only 20 rows")


def test_gene_past_its_contig_end_is_dropped_and_warned_or_refused_when_strict(tmp_path):
    genome, gff, splits = _tiny_annotation(tmp_path)
    genome.write_text(">c1\n" + "ACGT" * 2000 + "\n")  # 8 kb: b9..b11 (8200-8499, ...) run past the end
    labels = tmp_path / "labels.tsv"
    labels.write_text("id\tlabel\n" + "".join(f"b{i}\t{'xy'[i % 2]}\n" for i in range(12)))
    kwargs = {
        "label": "table",
        "label_table": labels,
        "min_class_size": 1,
        "sources": {"annotation": "a.gff3"},
    }
    build_gene_table(gff, genome, splits, tmp_path / "t.tsv", tmp_path / "t.json", **kwargs)
    summary = json.loads((tmp_path / "t.json").read_text())
    assert summary["dropped"]["beyond_contig_end"] == 3
    assert "a.gff3: 3 genes run past their contig's end" in summary["warnings"][0]
    with pytest.raises(
        GenolmError, match=r"^a.gff3: gene b9 ends at 8499, beyond the end of contig 'c1' \(8000 bp\)"
    ):
        build_gene_table(gff, genome, splits, tmp_path / "u.tsv", tmp_path / "u.json", strict=True, **kwargs)
    assert not (tmp_path / "u.tsv").exists()


def test_a_contig_forced_onto_the_only_one_is_a_summary_warning(tmp_path):
    genome = tmp_path / "g.fa"
    genome.write_text(">chrZ\n" + "ACGT" * 3000 + "\n")
    splits = tmp_path / "splits.tsv"
    write_splits(make_splits(contig_lengths(genome), method="blocks", block_size=3000, gap=0, seed=1), splits)
    vcf = tmp_path / "v.vcf"
    positions = range(200, 12000, 150)
    rows = "".join(
        f"other\t{p}\tv{p}\t{'ACGT'[(p - 1) % 4]}\t{'CGTA'[(p - 1) % 4]}\t.\t.\t"
        f"CLNSIG={'Benign' if i % 2 else 'Pathogenic'}\n"
        for i, p in enumerate(positions)
    )
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + rows)
    build_variant_table(
        vcf,
        genome,
        splits,
        tmp_path / "v.tsv",
        tmp_path / "v.json",
        window=32,
        sources={"variants": "my.vcf"},
    )
    summary = json.loads((tmp_path / "v.json").read_text())
    assert (
        summary["warnings"][0]
        == "my.vcf: contig 'other' is not in the genome; read as its only contig 'chrZ'"
    )


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ({"path": "data/my.gff3", "md5": "0" * 32}, "data/my.gff3"),
        ({"url": "https://example.org/x.vcf.gz"}, "https://example.org/x.vcf.gz"),
        ({"ncbi": "GCF_000005845.2", "file": "gff3"}, "NCBI GCF_000005845.2 gff3"),
        (
            {"ensembl": {"species": "homo_sapiens", "release": 112, "assembly": "GRCh38"}, "file": "gtf"},
            "Ensembl homo_sapiens release 112 GRCh38 gtf",
        ),
        ({"clinvar": {"release": "20240101"}}, "ClinVar GRCh38 20240101"),
        ({"simulated": "annotation"}, "simulated annotation"),
    ],
)
def test_sources_are_named_as_configured(spec, name):
    assert display_name(spec) == name
