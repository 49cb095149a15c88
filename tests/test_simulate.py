"""The synthetic demo data must be byte-deterministic, parse with real tools, and mean what its labels say."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import numpy as np
import pysam
import pytest
from Bio import SeqIO
from Bio.Seq import Seq
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from genolm.errors import GenolmError
from genolm.io.tables import read_table
from genolm.prioritise.cohort import consequence_weights, read_cohort
from genolm.prioritise.genes import GeneIndex, read_gene_spans
from genolm.simulate import simulate, simulate_cohort

STOPS = {"TAA", "TAG", "TGA"}
PROMOTER_LEN = 54  # bases from the -35 box to the base before ATG
PATHOGENIC = {"Pathogenic", "Likely_pathogenic"}
BENIGN = {"Benign", "Likely_benign"}


def _run(directory: Path, **kwargs) -> tuple[dict, tuple[Path, Path, Path]]:
    paths = (directory / "genome.fa.gz", directory / "annotation.gff3.gz", directory / "clinvar.vcf.gz")
    return simulate(*paths, **kwargs), paths


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The default data set, parsed once: summary, paths, genome and genes."""
    summary, paths = _run(tmp_path_factory.mktemp("demo"))
    with gzip.open(paths[0], "rt") as handle:
        genome = {record.id: str(record.seq) for record in SeqIO.parse(handle, "fasta")}
    return {
        "summary": summary,
        "paths": paths,
        "genome": genome,
        "genes": _genes(paths[1]),
    }


def _genes(gff: Path) -> dict[str, dict]:
    """Gene ID -> its gene row fields plus the child rows, keyed by feature type."""
    genes: dict[str, dict] = {}
    rna_parent: dict[str, str] = {}
    with gzip.open(gff, "rt") as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            seqid, _, kind, start, end, _, strand, phase, attrs = line.rstrip("\n").split("\t")
            row = {"contig": seqid, "kind": kind, "start": int(start), "end": int(end), "strand": strand}
            row |= {"phase": phase, **dict(kv.split("=", 1) for kv in attrs.split(";"))}
            if kind == "gene":
                genes[row["ID"]] = row | {"children": {}}
            elif row["Parent"].startswith("gene-"):
                rna_parent[row["ID"]] = row["Parent"]
                genes[row["Parent"]]["children"][kind] = row
            else:
                genes[rna_parent[row["Parent"]]]["children"][kind] = row
    return genes


def _coding_strand(genome: dict[str, str], contig: str, start: int, end: int, strand: str) -> str:
    seq = genome[contig][start - 1 : end].upper()
    return str(Seq(seq).reverse_complement()) if strand == "-" else seq


def _records(vcf: Path) -> list[pysam.VariantRecord]:
    with pysam.VariantFile(str(vcf)) as handle:
        return list(handle)


def test_defaults_are_summarised(demo):
    summary = demo["summary"]
    assert summary["contigs"] == {f"chrSim{i}": 100_000 for i in range(1, 5)}
    assert set(summary["genes_per_class"]) == {"class_A", "class_B", "class_C"}
    assert set(summary["noncoding_genes"]) == {"tRNA", "rRNA"}
    n_genes = sum(summary["genes_per_class"].values()) + sum(summary["noncoding_genes"].values())
    assert n_genes == len(demo["genes"])
    assert sum(summary["variants_per_clnsig"].values()) == 400
    assert sum(summary["variants_per_consequence"].values()) == 400


def test_same_seed_same_bytes_other_seed_other_data(demo, tmp_path):
    _, again = _run(tmp_path / "again")
    _, other = _run(tmp_path / "other", seed=43)
    for first, second, third in zip(demo["paths"], again, other, strict=True):
        raw = first.read_bytes()
        assert raw == second.read_bytes()
        assert gzip.decompress(raw) != gzip.decompress(third.read_bytes())
        assert raw[4:8] == b"\0\0\0\0"  # gzip MTIME
        assert raw[3] & 0x08 == 0  # no FNAME field
        assert raw[12:14] == b"BC"  # BGZF, so htslib can open and index it


def test_draws_only_from_its_own_generator(tmp_path):
    """The output is a function of the seed alone: numpy's global RNG neither feeds it nor is consumed."""
    small = {"seed": 5, "n_contigs": 1, "contig_length": 8_000, "n_variants": 20}
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    _, first = _run(tmp_path / "a", **small)
    assert (np.random.get_state()[1] == before).all()
    np.random.seed(1)
    _, second = _run(tmp_path / "b", **small)
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))


def test_fasta_parses_and_looks_like_a_genome(demo):
    genome = demo["genome"]
    with gzip.open(demo["paths"][0], "rt") as handle:
        text = handle.read()
    headers = [line for line in text.splitlines() if line.startswith(">")]
    assert headers == [f">chrSim{i} synthetic demo contig seed=42" for i in range(1, 5)]
    assert {len(line) for line in text.splitlines() if not line.startswith(">")} == {40, 60}  # 100000 % 60
    whole = "".join(genome.values())
    upper = whole.upper().replace("N", "")
    assert 0.40 < (upper.count("G") + upper.count("C")) / len(upper) < 0.50
    assert 20 < whole.count("N") < 2_000
    assert 500 < sum(c.islower() for c in whole) < 40_000
    assert set(whole) <= set("ACGTNacgt")


def test_gff_genes_are_well_formed(demo):
    genome, genes = demo["genome"], demo["genes"]
    with gzip.open(demo["paths"][1], "rt") as handle:
        head = [next(handle) for _ in range(3)]
    assert head[0] == "##gff-version 3\n"
    assert head[1] == "# SYNTHETIC demo data generated by genolm.simulate (seed=42)\n"
    assert head[2] == "##sequence-region chrSim1 1 100000\n"
    coding = [g for g in genes.values() if g["gene_biotype"] == "protein_coding"]
    assert {g["strand"] for g in coding} == {"+", "-"}
    for gene in coding:
        cds, mrna, exon = (gene["children"][k] for k in ("CDS", "mRNA", "exon"))
        assert (cds["start"], cds["end"], cds["strand"], cds["phase"]) == (
            gene["start"],
            gene["end"],
            gene["strand"],
            "0",
        )
        assert (mrna["start"], exon["end"]) == (gene["start"], gene["end"])
        seq = _coding_strand(genome, gene["contig"], gene["start"], gene["end"], gene["strand"])
        assert len(seq) % 3 == 0 and 300 <= len(seq) <= 1500
        assert seq.startswith("ATG") and seq[-3:] in STOPS
        assert not {seq[i : i + 3] for i in range(0, len(seq) - 3, 3)} & STOPS
        if gene["strand"] == "+":
            upstream = _coding_strand(
                genome, gene["contig"], gene["start"] - PROMOTER_LEN, gene["start"] - 1, "+"
            )
        else:
            upstream = _coding_strand(
                genome, gene["contig"], gene["end"] + 1, gene["end"] + PROMOTER_LEN, "-"
            )
        assert upstream[:6] == "TTGACA" and upstream[23:29] == "TATAAT"
    noncoding = [g for g in genes.values() if g["gene_biotype"] != "protein_coding"]
    assert {g["gene_biotype"] for g in noncoding} == {"tRNA", "rRNA"}
    assert all(set(g["children"]) == {g["gene_biotype"], "exon"} for g in noncoding)
    for contig in genome:
        spans = sorted((g["start"], g["end"]) for g in genes.values() if g["contig"] == contig)
        assert all(a[1] < b[0] for a, b in itertools.pairwise(spans))


def test_vcf_reads_cleanly_with_true_ref_bases(demo, capfd):
    records = _records(demo["paths"][2])
    assert "not defined" not in capfd.readouterr().err
    genome = demo["genome"]
    with pysam.VariantFile(str(demo["paths"][2])) as handle:
        header = str(handle.header)
    assert "##fileformat=VCFv4.2" in header and "##source=genolm.simulate synthetic" in header
    assert [(r.contig, r.pos) for r in records] == sorted(
        ((r.contig, r.pos) for r in records), key=lambda key: (list(genome).index(key[0]), key[1])
    )
    assert len({int(r.id) for r in records}) == len(records)
    for record in records:
        assert genome[record.contig][record.pos - 1 : record.pos - 1 + len(record.ref)].upper() == record.ref
        assert record.alts[0] != record.ref and set(record.ref + record.alts[0]) <= set("ACGT")
    clnsig = [r.info["CLNSIG"][0] for r in records]
    assert 0.30 < sum(c in PATHOGENIC for c in clnsig) / len(clnsig) < 0.40
    assert 0.03 < clnsig.count("Uncertain_significance") / len(clnsig) < 0.07
    assert 1 <= clnsig.count("Conflicting_interpretations_of_pathogenicity") <= 10
    assert {r.info["CLNREVSTAT"] for r in records} >= {
        ("criteria_provided", "_single_submitter"),
        ("reviewed_by_expert_panel",),
        ("no_assertion_criteria_provided",),
    }


def _footprint(gene: dict) -> tuple[int, int]:
    """Gene body plus, for protein-coding genes, the promoter on its upstream side."""
    start, end = gene["start"], gene["end"]
    if gene["gene_biotype"] != "protein_coding":
        return start, end
    return (start - PROMOTER_LEN, end) if gene["strand"] == "+" else (start, end + PROMOTER_LEN)


def _apply(genome: dict[str, str], gene: dict, record: pysam.VariantRecord) -> tuple[str, str]:
    """The gene's coding-strand sequence (promoter included) before and after applying the variant."""
    start, end = _footprint(gene)
    contig = genome[record.contig]
    mutated = contig[: record.pos - 1] + record.alts[0] + contig[record.pos - 1 + len(record.ref) :]
    shift = len(record.alts[0]) - len(record.ref)
    before = _coding_strand(genome, record.contig, start, end, gene["strand"])
    after = _coding_strand({record.contig: mutated}, record.contig, start, end + shift, gene["strand"])
    return before, after


def test_labels_follow_what_variants_do(demo):
    genome, genes = demo["genome"], demo["genes"]
    seen: set[str] = set()
    for record in _records(demo["paths"][2]):
        clnsig, consequence = record.info["CLNSIG"][0], record.info["MC"][0].split("|")[1]
        seen.add(consequence)
        if clnsig in PATHOGENIC:
            assert consequence in {"stop_gained", "start_lost", "upstream_gene_variant", "frameshift_variant"}
        if clnsig in BENIGN:
            assert consequence in {"synonymous_variant", "intergenic_variant", "missense_variant"}
        if consequence == "intergenic_variant":
            assert "GENEINFO" not in record.info
            footprints = [_footprint(g) for g in genes.values() if g["contig"] == record.contig]
            assert min(max(lo - record.pos, record.pos - hi) for lo, hi in footprints) > 100
            continue
        gene = genes["gene-" + record.info["GENEINFO"].split(":")[1]]
        before, after = _apply(genome, gene, record)
        protein_before = str(Seq(before[PROMOTER_LEN:]).translate())
        protein_after = str(Seq(after[PROMOTER_LEN:]).translate()) if len(after) == len(before) else None
        if consequence == "stop_gained":
            assert protein_before.index("*") == len(protein_before) - 1
            assert protein_after.index("*") < len(protein_after) - 1
        elif consequence == "start_lost":
            assert before[PROMOTER_LEN:][:3] == "ATG" and after[PROMOTER_LEN:][:3] not in {
                "ATG",
                "GTG",
                "TTG",
            }
        elif consequence == "upstream_gene_variant":
            assert before[PROMOTER_LEN:] == after[PROMOTER_LEN:]
            assert after[:6] != "TTGACA" or after[23:29] != "TATAAT"
        elif consequence == "frameshift_variant":
            assert len(after) == len(before) - 1 and after[PROMOTER_LEN:][:3] == "ATG"
        elif consequence == "synonymous_variant":
            assert before != after and protein_after == protein_before
        elif consequence == "missense_variant":
            diffs = [(a, b) for a, b in zip(protein_before, protein_after, strict=True) if a != b]
            assert len(diffs) == 1 and "*" not in diffs[0]
    assert seen == {
        "stop_gained",
        "start_lost",
        "upstream_gene_variant",
        "frameshift_variant",
        "synonymous_variant",
        "intergenic_variant",
        "missense_variant",
    }


def _kmer_frequencies(seq: str, kmers: list[str]) -> np.ndarray:
    counts = dict.fromkeys(kmers, 0)
    for i in range(len(seq) - 2):
        counts[seq[i : i + 3]] += 1
    vector = np.array([counts[k] for k in kmers], dtype=float)
    return vector / vector.sum()


def _contig4_accuracy(demo, label) -> float:
    """Test accuracy of a 3-mer logistic regression predicting `label(gene)` of coding genes, trained on
    contigs 1-3 and tested on contig 4."""
    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=3)]
    coding = [g for g in demo["genes"].values() if g["gene_biotype"] == "protein_coding"]
    features = np.array(
        [
            _kmer_frequencies(
                _coding_strand(demo["genome"], g["contig"], g["start"], g["end"], g["strand"]), kmers
            )
            for g in coding
        ]
    )
    labels = np.array([label(g) for g in coding])
    train = np.array([g["contig"] != "chrSim4" for g in coding])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return model.fit(features[train], labels[train]).score(features[~train], labels[~train])


def test_function_class_is_learnable_but_not_trivial(demo):
    """3-mer LR trained on contigs 1-3 and tested on contig 4: measured 0.71 at seed 42 (chance 0.33)."""
    accuracy = _contig4_accuracy(demo, lambda g: g["function_class"])
    assert 1 / 3 + 0.15 < accuracy < 1.0


@pytest.mark.parametrize(
    ("key", "value"),
    [("n_contigs", 0), ("contig_length", 1000), ("n_classes", 1), ("gene_density", 0.99), ("n_variants", -1)],
)
def test_bad_parameters_name_the_key_and_write_nothing(tmp_path, key, value):
    with pytest.raises(GenolmError, match=key):
        _run(tmp_path, **{key: value})
    assert list(tmp_path.iterdir()) == []


def test_small_settings_still_work(tmp_path):
    summary, paths = _run(tmp_path, seed=7, n_contigs=1, contig_length=8_000, n_classes=5, n_variants=20)
    assert summary["contigs"] == {"chrSim1": 8_000}
    assert sum(summary["variants_per_clnsig"].values()) == len(_records(paths[2])) == 20


def test_synthetic_functions_are_class_plus_gc_rich(demo):
    """The multi-label attribute: each coding gene's class, plus gc_rich when its CDS (read back from the
    FASTA) is GC-richer than the median coding gene; about half hold it, in every class."""
    coding = [g for g in demo["genes"].values() if g["gene_biotype"] == "protein_coding"]
    gc = []
    for g in coding:
        cds = _coding_strand(demo["genome"], g["contig"], g["start"], g["end"], g["strand"])
        gc.append((cds.count("G") + cds.count("C")) / len(cds))
    median = np.median(gc)
    for g, fraction in zip(coding, gc, strict=True):
        expected = [g["function_class"], *(["gc_rich"] if fraction > median else [])]
        assert g["synthetic_functions"].split(",") == expected
    rich = [g["function_class"] for g in coding if "gc_rich" in g["synthetic_functions"]]
    assert len(rich) == sum(f > median for f in gc) and abs(len(rich) - len(coding) / 2) <= 1
    assert set(rich) == {g["function_class"] for g in coding}  # co-occurs with every class
    noncoding = [g for g in demo["genes"].values() if g["gene_biotype"] != "protein_coding"]
    assert noncoding and not any("synthetic_functions" in g for g in noncoding)


def test_gc_rich_is_learnable_from_kmers(demo):
    """3-mer LR trained on contigs 1-3, tested on contig 4: 0.97 on 62 genes at seed 42 (chance ~0.56)."""
    assert _contig4_accuracy(demo, lambda g: "gc_rich" in g["synthetic_functions"]) > 0.8


@pytest.fixture(scope="module")
def cohorts(demo, tmp_path_factory):
    """Cohorts on the default genome: planted (seed 42, 4 causal genes) and null; parsed once."""
    d = tmp_path_factory.mktemp("cohort")
    out = {}
    for name, causal in (("planted", 4), ("null", 0)):
        paths = (d / f"{name}.vcf.gz", d / f"{name}.tsv", d / f"{name}_causal.tsv")
        summary = simulate_cohort(*demo["paths"][:2], *paths, samples=1500, causal_genes=causal)
        out[name] = {"summary": summary, "paths": paths, "cohort": read_cohort(paths[0], paths[1], ["pc1"])}
    return out


def test_cohort_is_deterministic_and_on_its_own_stream(demo, cohorts, tmp_path):
    paths = (tmp_path / "c.vcf.gz", tmp_path / "c.tsv", tmp_path / "k.tsv")
    simulate_cohort(*demo["paths"][:2], *paths, samples=1500, causal_genes=4)
    for made, again in zip(cohorts["planted"]["paths"], paths, strict=True):
        assert made.read_bytes() == again.read_bytes()
    other = (tmp_path / "o.vcf.gz", tmp_path / "o.tsv", tmp_path / "ok.tsv")
    simulate_cohort(*demo["paths"][:2], *other, seed=43, samples=1500, causal_genes=4)
    assert gzip.decompress(paths[0].read_bytes()) != gzip.decompress(other[0].read_bytes())
    raw = paths[0].read_bytes()
    assert raw[4:8] == b"\0\0\0\0" and raw[12:14] == b"BC"  # BGZF without mtime


def test_cohort_sites_are_rare_cds_snvs_of_the_claimed_consequences(demo, cohorts):
    """Every site's annotated consequence (genolm.consequence) is stop-gained, missense or synonymous,
    in about the simulator's 25/45/30 mix; REF is the genome's base; AFs are rare."""
    cohort = cohorts["planted"]["cohort"]
    summary = cohorts["planted"]["summary"]
    weights = consequence_weights(cohort.variants, demo["paths"][1], demo["paths"][0])
    kinds = {1.0: "stop_gained", 0.5: "missense", 0.1: "synonymous"}
    counted = {kind: int(np.sum(weights == w)) for w, kind in kinds.items()}
    assert counted == summary["sites"] and sum(counted.values()) == len(weights)
    assert 0.18 < counted["stop_gained"] / len(weights) < 0.32
    genome = demo["genome"]
    for contig, pos, ref in cohort.variants[["contig", "pos", "ref"]].itertuples(index=False):
        assert genome[contig][pos - 1].upper() == ref
    assert cohort.variants["af"].max() <= 0.03 and cohort.variants["af"].median() < 0.015


def _stop_carriers(cohort, weights, index, genes) -> np.ndarray:
    """Samples carrying a stop-gained allele in any of `genes`."""
    rows = [
        i
        for i, (c, p) in enumerate(zip(cohort.variants["contig"], cohort.variants["pos"], strict=True))
        if weights[i] == 1.0 and set(index.genes_at(c, int(p))) & genes
    ]
    return cohort.dosage[rows].sum(0) > 0


def test_planted_genes_raise_risk_and_the_null_cohort_has_none(demo, cohorts):
    """Case fraction among the 282 stop-gained carriers in planted genes: measured 0.77 (seed 42), against
    0.53 among stop-gained carriers elsewhere; about one half in the null cohort."""
    index = GeneIndex(read_gene_spans(demo["paths"][1]))
    planted = cohorts["planted"]
    causal = set(read_table(planted["paths"][2], {"gene": str})["gene"])
    assert causal == set(planted["summary"]["causal_genes"]) and len(causal) == 4
    cohort = planted["cohort"]
    weights = consequence_weights(cohort.variants, demo["paths"][1], demo["paths"][0])
    carriers = _stop_carriers(cohort, weights, index, causal)
    others = set(read_gene_spans(demo["paths"][1])["gene"]) - causal
    assert cohort.y[carriers].mean() > 0.7 and carriers.sum() > 100
    assert 0.4 < cohort.y[_stop_carriers(cohort, weights, index, others)].mean() < 0.6
    null = cohorts["null"]
    assert (
        null["summary"]["causal_genes"] == [] and null["paths"][2].read_text() == "gene\tcontig\tstart\tend\n"
    )
    assert 0.45 < null["cohort"].y.mean() < 0.55


@pytest.mark.parametrize(
    ("key", "value"), [("samples", 5), ("causal_genes", -1), ("sites_per_gene", 0), ("max_af", 0.9)]
)
def test_bad_cohort_parameters_name_the_key(demo, tmp_path, key, value):
    with pytest.raises(GenolmError, match=key):
        simulate_cohort(
            *demo["paths"][:2], tmp_path / "c.vcf.gz", tmp_path / "c.tsv", tmp_path / "k.tsv", **{key: value}
        )
    assert list(tmp_path.iterdir()) == []
