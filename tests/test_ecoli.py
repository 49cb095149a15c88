"""The E. coli config end to end over a loopback NCBI mirror: real download code, real files."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, run_snakemake, shared_data

pytestmark = pytest.mark.workflow

ASSEMBLY = "GCF_000005845.2_ASM584v2"
NCBI_DIR = "genomes/all/GCF/000/005/845"


@pytest.fixture(scope="module")
def ncbi_mirror(tmp_path_factory):
    """Serve ../shared/data/ecoli_k12 laid out like NCBI's genomes tree on 127.0.0.1."""
    data = shared_data("ecoli_k12")
    root = tmp_path_factory.mktemp("ncbi")
    folder = root / NCBI_DIR / ASSEMBLY
    folder.mkdir(parents=True)
    for name in ("md5checksums.txt", *(f"{ASSEMBLY}_genomic.{ext}.gz" for ext in ("fna", "gff", "gbff"))):
        (folder / name).symlink_to(data / name)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/genomes/all"
    server.shutdown()


@pytest.fixture(scope="module")
def ecoli_run(ncbi_mirror, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ecoli")
    override = workdir / "mirror.yaml"
    override.write_text(json.dumps({"download": {"base_urls": {"ncbi": ncbi_mirror}}}))
    run_snakemake(workdir, configfiles=[REPO / ".test" / "config_ecoli.yaml", override])
    return workdir / "results" / "ecoli_ci"


def test_downloads_are_the_ncbi_files_verified(ecoli_run, ncbi_mirror):
    data = shared_data("ecoli_k12")
    expected = dict(
        line.split()[::-1] for line in (data / "MD5SUMS").read_text().splitlines() if line.strip()
    )
    for source, name in (("genome", "fna"), ("annotation", "gbff")):
        prov = json.loads((ecoli_run / "data" / f"{source}.provenance.json").read_text())
        filename = f"{ASSEMBLY}_genomic.{name}.gz"
        assert prov["source"] == f"{ncbi_mirror}/GCF/000/005/845/{ASSEMBLY}/{filename}"
        digest = hashlib.md5((ecoli_run / "data" / source).read_bytes()).hexdigest()
        assert digest == prov["md5"] == expected[filename.lstrip("./")]


def test_ec_class_table_from_genbank(ecoli_run):
    table = pd.read_csv(ecoli_run / "labels" / "genes" / "ec_class.tsv", sep="\t")
    summary = json.loads((ecoli_run / "labels" / "genes" / "ec_class.summary.json").read_text())
    # 1,373 genes have one top-level EC class; genes in the gaps between split blocks are left out.
    assert 1200 < len(table) <= 1373
    assert set(table["label"]) <= {f"EC{i}" for i in range(1, 8)}
    assert summary["rows"] == len(table)
    assert summary["dropped"]["outside_split_blocks"] > 0
    assert set(table["split"]) == {"train", "val", "test"}
    # Coding-strand sequences: start codons, length a multiple of three.
    assert (table["sequence"].str.len() % 3 == 0).mean() > 0.99
    assert table["sequence"].str[:3].isin(["ATG", "GTG", "TTG"]).mean() > 0.98


def test_model_and_baselines_on_the_same_test_genes(ecoli_run):
    task_dir = ecoli_run / "gene_function" / "ec_class"
    methods = {p.name for p in task_dir.iterdir()}
    expected = {"probe", "finetune_full", "finetune_prompt", "kmer_lr", "codon_lr", "majority"}
    assert expected <= methods, methods
    ids, f1 = set(), {}
    for method in methods:
        pred = pd.read_csv(task_dir / method / "predictions.tsv", sep="\t")
        ids.add(tuple(pred["id"]))
        metrics = json.loads((task_dir / method / "metrics.json").read_text())
        assert metrics["n"] == len(pred) > 100
        f1[method] = metrics["metrics"]["macro_f1"]["value"]
        assert 0 <= f1[method] <= 1
    assert len(ids) == 1
    # Real genes read in their frame: codon usage tells EC classes apart well above the floor.
    assert f1["codon_lr"] > f1["majority"] + 0.1, f1


def test_distilled_student_is_smaller_and_scored_on_the_teachers_test_genes(ecoli_run):
    teacher = pd.read_csv(
        ecoli_run / "gene_function" / "ec_class" / "finetune_full" / "predictions.tsv", sep="\t"
    )
    student = pd.read_csv(ecoli_run / "compress" / "ec_class" / "distill" / "predictions.tsv", sep="\t")
    assert student["id"].tolist() == teacher["id"].tolist()
    comparison = json.loads((ecoli_run / "compress" / "ec_class" / "comparison.json").read_text())
    models = comparison["models"]
    assert comparison["n_test"] == len(teacher)
    assert models["student"]["parameters"] < models["teacher"]["parameters"]
    assert models["int8_teacher"]["size_bytes"] < 0.6 * models["teacher"]["size_bytes"]
    assert models["teacher"]["agreement_with_teacher"] == 1.0


def test_classifier_attributions_cover_explained_test_genes(ecoli_run):
    folder = ecoli_run / "interpret" / "genes" / "ec_class" / "finetune_full"
    attributions = pd.read_csv(folder / "attributions.tsv", sep="\t")
    table = pd.read_csv(ecoli_run / "labels" / "genes" / "ec_class.tsv", sep="\t").set_index("id")
    assert len(attributions) > 0
    assert set(table.loc[attributions["id"].unique(), "split"]) == {"test"}
    for (gene, cls), rows in attributions.groupby(["id", "class"]):
        assert table.loc[gene, "label"] == cls  # a correctly predicted gene, explained for its class
        sequence = table.loc[gene, "sequence"]
        pos = rows["pos"].to_numpy()
        # Bases the pooled windows cover (max_chunks 2 x 256 here), each once, and their true bases.
        assert len(pos) == min(len(sequence), 512) and (np.diff(pos) > 0).all()
        assert "".join(rows["base"]) == "".join(sequence[p] for p in pos)


def test_report_has_no_disease_section_results(ecoli_run):
    html = (ecoli_run / "report.html").read_text()
    assert "ec_class" in html and "not configured" in html
    assert "SYNTHETIC DEMO DATA" not in html
