"""A pretraining corpus end to end under the real snakemake (pretraining, then the report): 20 generated
genomes and a FASTA of sequences from a sheet, one genome held out for val and one for test, the task
genome inside the corpus, balanced sampling; per-genome counts checked by value, held-out windows and the
task genome's test regions found only in their split, and a bad sheet refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, run_snakemake

pytestmark = pytest.mark.workflow

CONFIG = REPO / ".test" / "config_corpus.yaml"
WINDOW = 128
GENOMES = 20


def write_corpus(workdir):
    """genomes/g00..g21.fa (2-3 contigs of 1-3 kb, seeded), a FASTA of sequences and the sheet."""
    rng = np.random.default_rng(15)
    (workdir / "genomes").mkdir()
    seqs, rows = {}, ["name\tpath\tsequences"]
    for i in range(GENOMES):
        name = f"g{i:02d}"
        contigs = {
            f"chr{k}": "".join(rng.choice(list("ACGT"), int(rng.integers(1000, 3000)))) for k in range(1, 3)
        }
        (workdir / "genomes" / f"{name}.fa").write_text("".join(f">{c}\n{s}\n" for c, s in contigs.items()))
        seqs[name] = contigs
        rows.append(f"{name}\tgenomes/{name}.fa\t")
    records = {f"s{k}": "".join(rng.choice(list("ACGT"), 300)) for k in range(10)}
    (workdir / "genomes" / "bench.fa").write_text("".join(f">{c}\n{s}\n" for c, s in records.items()))
    seqs["bench"] = records
    rows.append("bench\tgenomes/bench.fa\ttrue")
    (workdir / "corpus.tsv").write_text("\n".join(rows) + "\n")
    return seqs


def windows(contigs, intervals=None):
    """Every full window (stride = window) of `contigs`, or of the (contig, start, end) `intervals`."""
    spans = intervals or [(c, 0, len(s)) for c, s in contigs.items()]
    return [
        contigs[c][i : i + WINDOW] for c, start, end in spans for i in range(start, end - WINDOW + 1, WINDOW)
    ]


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("corpus")
    seqs = write_corpus(workdir)
    results = workdir / "results" / "corpus"
    run_snakemake(workdir, configfiles=[CONFIG])
    return seqs, results


def test_corpus_pretrains_with_per_genome_counts_by_value(corpus_run):
    seqs, results = corpus_run
    summary = json.loads((results / "preprocess" / "summary.json").read_text())
    per = summary["genomes"]
    assert set(per) == {f"g{i:02d}" for i in range(GENOMES)} | {"bench"}
    task_splits = pd.read_csv(results / "preprocess" / "splits.tsv", sep="\t")
    expected = {}
    for name, contigs in seqs.items():
        if name == "g00":  # the task genome: its windows come from the task's split table
            expected[name] = {
                s: len(
                    windows(
                        contigs,
                        list(
                            task_splits.query("split == @s")[["contig", "start", "end"]].itertuples(
                                index=False
                            )
                        ),
                    )
                )
                for s in ("train", "val", "test")
            }
        else:
            split = {"g01": "val", "g02": "test"}.get(name, "train")
            expected[name] = {s: len(windows(contigs)) if s == split else 0 for s in ("train", "val", "test")}
    distinct = {n: per[n]["train_distinct"] for n in per}
    assert distinct == {n: e["train"] for n, e in expected.items()}
    assert {n: (per[n]["splits"]["val"]["windows"], per[n]["splits"]["test"]["windows"]) for n in per} == {
        n: (e["val"], e["test"]) for n, e in expected.items()
    }
    # balanced: every genome with train windows gets the mean of them
    target = round(sum(distinct.values()) / sum(1 for v in distinct.values() if v))
    assert {n: per[n]["splits"]["train"]["windows"] for n in per if distinct[n]} == {
        n: target for n in per if distinct[n]
    }
    assert per["g00"]["task_genome"] is True and per["bench"]["sequences"] is True
    assert summary["splits"]["train"]["windows"] == target * sum(1 for v in distinct.values() if v)
    metrics = json.loads((results / "pretrain" / "metrics.json").read_text())
    assert metrics["train_windows"] == summary["splits"]["train"]["windows"]
    assert metrics["val_windows"] == summary["splits"]["val"]["windows"]


def test_held_out_genomes_and_task_test_regions_stay_out_of_training(corpus_run):
    seqs, results = corpus_run
    texts = {
        s: {
            "".join("ACGTN"[c] for c in row)
            for row in np.load(results / "preprocess" / "windows" / f"{s}.npy")
        }
        for s in ("train", "val", "test")
    }
    assert set(windows(seqs["g01"])) <= texts["val"] and not set(windows(seqs["g01"])) & (
        texts["train"] | texts["test"]
    )
    assert set(windows(seqs["g02"])) <= texts["test"] and not set(windows(seqs["g02"])) & (
        texts["train"] | texts["val"]
    )
    task_test = pd.read_csv(results / "preprocess" / "splits.tsv", sep="\t").query("split == 'test'")
    task_windows = set(
        windows(seqs["g00"], list(task_test[["contig", "start", "end"]].itertuples(index=False)))
    )
    assert task_windows and task_windows <= texts["test"] and not task_windows & texts["train"]
    corpus = pd.read_csv(results / "preprocess" / "corpus" / "splits.tsv", sep="\t")
    assert set(corpus.query("split == 'test'")["contig"].str.split(":").str[0]) == {"g00", "g02"}
    # every genome has a chr1; namespacing keeps them apart (the task genome has several blocks each)
    assert corpus["contig"].drop_duplicates().str.endswith(":chr1").sum() == GENOMES


def test_each_genome_is_downloaded_and_planned_by_its_own_job(corpus_run):
    seqs, results = corpus_run
    names = {
        p.name.removesuffix(".tsv") for p in (results / "benchmarks" / "download" / "corpus").glob("*.tsv")
    }
    assert names == set(seqs)
    assert {
        p.name.removesuffix(".tsv") for p in (results / "benchmarks" / "corpus_plan").glob("*.tsv")
    } == set(seqs)
    provenance = json.loads((results / "data" / "corpus.provenance.json").read_text())
    assert set(provenance["genomes"]) == set(seqs) and all(
        r["sha256"] for r in provenance["genomes"].values()
    )
    assert (results / "report.html").stat().st_size > 0


def test_a_bad_sheet_is_one_line_naming_it(tmp_path):
    (tmp_path / "genomes").mkdir()
    (tmp_path / "genomes" / "g00.fa").write_text(">chr1\n" + "ACGT" * 300 + "\n")
    (tmp_path / "corpus.tsv").write_text("name\tpath\tcolour\ng00\tgenomes/g00.fa\tred\n")
    proc = run_snakemake(tmp_path, "-n", configfiles=[CONFIG], check=False)
    assert proc.returncode != 0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "genolm config error" in line]
    assert len(lines) == 1 and "corpus.tsv" in lines[0] and "colour" in lines[0]
