"""Corpus preprocessing without Snakemake: entries, per-genome splits, the join across genomes (held-out
genomes, the task genome's split table, balanced sampling, cross-genome dedup, namespaced contigs)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from genolm.corpus import check_corpus, list_shards, plan_genome, shard_jobs, sheet_entries
from genolm.corpus_windows import balanced_rows, gather_corpus
from genolm.errors import GenolmError
from genolm.io.fasta import encode
from genolm.splits import read_splits, split_genome
from genolm.window_rows import write_rows
from genolm.windows import WindowFilter, preprocess_genome, shard_ids, window_shard

pytestmark = pytest.mark.unit

WINDOW = 100
SPLIT = {"method": "blocks", "block_size": 1000, "gap": 0}


def random_seq(rng, n):
    return "".join(rng.choice(list("ACGT"), n))


def write_fasta(path, contigs):
    path.write_text("".join(f">{name}\n{seq}\n" for name, seq in contigs.items()))
    return path


def provenance(path):
    out = path.with_name(path.name + ".provenance.json")
    out.write_text(json.dumps({"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}))
    return out


@pytest.fixture
def task(tmp_path):
    """The task genome (one 3 kb contig) and its split table, as the splits stage writes them."""
    fasta = write_fasta(tmp_path / "task.fa", {"chr1": random_seq(np.random.default_rng(1), 3000)})
    work = tmp_path / "task"
    split_genome(
        fasta,
        work / "splits.tsv",
        work / "contigs.tsv",
        work / "genome.u8",
        window=WINDOW,
        stride=WINDOW,
        split={**SPLIT, "val_fraction": 0.2, "test_fraction": 0.2},
    )
    return fasta, work / "splits.tsv"


def run_corpus(
    tmp_path,
    task,
    genomes,
    *,
    held_out=None,
    sequences=(),
    sampling="proportional",
    dedup=False,
    task_entry=None,
):
    """Every corpus stage in one process, laid out as the workflow lays them out; returns the summary.

    `task_entry` names the entry planned as the task genome (the workflow: the one with its source spec).
    """
    held_out = held_out or {}
    listed = sorted(set(held_out.values()))
    plans = {}
    for name, fasta in genomes.items():
        out = tmp_path / "corpus" / name
        out.mkdir(parents=True)
        plan_genome(
            fasta,
            provenance(fasta),
            out,
            name=name,
            held_out=held_out.get(name),
            sequences=name in sequences,
            listed=listed,
            window=WINDOW,
            stride=WINDOW,
            shard_size=1000,
            task_splits=task[1] if name == task_entry else None,
            split=SPLIT,
        )
        plans[name] = out / "shards.tsv"
    list_shards(plans, tmp_path / "corpus" / "shards.tsv")
    shards, filters = [], WindowFilter(WINDOW, WINDOW, dedup=dedup)
    for name, shard in shard_jobs(tmp_path / "corpus" / "shards.tsv"):
        out = tmp_path / "corpus" / name / "shards" / f"{shard:04d}"
        plan = out.parents[1]
        window_shard(
            plan / "genome.u8",
            plan / "contigs.tsv",
            plan / "shards.tsv",
            shard,
            out,
            filters=filters,
        )
        shards.append(out)
    return gather_corpus(
        [tmp_path / "corpus" / n for n in genomes],
        shards,
        tmp_path / "windows",
        tmp_path / "summary.json",
        tmp_path / "splits.tsv",
        provenance(task[0]),
        filters=filters,
        sampling=sampling,
        seed=3,
    )


def windows_of(seq):
    return {seq[i : i + WINDOW] for i in range(0, len(seq) - WINDOW + 1, WINDOW)}


def rows(tmp_path, split):
    return {"".join("ACGTN"[c] for c in row) for row in np.load(tmp_path / "windows" / f"{split}.npy")}


@pytest.fixture
def genomes(tmp_path):
    """Three genomes whose contigs are all called chr1 (so only namespacing keeps them apart)."""
    rng = np.random.default_rng(2)
    seqs = {"a": random_seq(rng, 2500), "b": random_seq(rng, 5000), "c": random_seq(rng, 1200)}
    return seqs, {n: write_fasta(tmp_path / f"{n}.fa", {"chr1": s}) for n, s in seqs.items()}


def test_held_out_genomes_are_whole_splits_and_counts_are_per_genome(tmp_path, task, genomes):
    seqs, files = genomes
    summary = run_corpus(tmp_path, task, files, held_out={"a": "val", "c": "test"})
    per = summary["genomes"]
    assert {n: {s: v["windows"] for s, v in per[n]["splits"].items()} for n in per} == {
        "a": {"train": 0, "val": 25, "test": 0},
        "b": {"train": 50, "val": 0, "test": 0},
        "c": {"train": 0, "val": 0, "test": 12},
    }
    assert rows(tmp_path, "train") == windows_of(seqs["b"])
    assert rows(tmp_path, "val") == windows_of(seqs["a"])
    assert rows(tmp_path, "test") == windows_of(seqs["c"])
    table = read_splits(tmp_path / "splits.tsv")
    assert list(table["contig"]) == ["a:chr1", "b:chr1", "c:chr1"]
    assert summary["bases_read"] == 8700 and summary["contigs"] == 3 and summary["shards"] == 10


def test_within_genome_splits_give_a_listed_split_only_to_listed_genomes(tmp_path, task, genomes):
    _, files = genomes
    summary = run_corpus(tmp_path, task, files, held_out={"c": "test"})
    for name in ("a", "b"):
        splits = summary["genomes"][name]["splits"]
        assert (
            splits["test"]["windows"] == 0 and splits["val"]["windows"] > 0 and splits["train"]["windows"] > 0
        )
    assert set(read_splits(tmp_path / "splits.tsv").query("split == 'test'")["contig"]) == {"c:chr1"}


def test_the_task_genome_in_the_corpus_keeps_the_task_split_table(tmp_path, task, genomes):
    _, files = genomes
    copy = write_fasta(tmp_path / "copy.fa", {"chr1": task[0].read_text().split("\n")[1]})
    summary = run_corpus(
        tmp_path, task, {"task": copy, "b": files["b"]}, held_out={"b": "test"}, task_entry="task"
    )
    assert summary["genomes"]["task"]["task_genome"] is True
    corpus = read_splits(tmp_path / "splits.tsv")
    mine = corpus[corpus["contig"].str.startswith("task:")].assign(contig="chr1").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, read_splits(task[1]))
    seq = copy.read_text().split("\n")[1]
    test_regions = {
        seq[i : i + WINDOW]
        for _, r in read_splits(task[1]).query("split == 'test'").iterrows()
        for i in range(r["start"], r["end"] - WINDOW + 1, WINDOW)
    }
    assert test_regions and not test_regions & rows(tmp_path, "train")


def test_the_task_genome_under_another_source_is_refused(tmp_path, task, genomes):
    _, files = genomes
    copy = tmp_path / "copy.fa"
    copy.write_bytes(task[0].read_bytes())  # the same file, not planned as the task genome
    with pytest.raises(GenolmError, match="genome 'copy' is the task genome .same SHA-256"):
        run_corpus(tmp_path, task, {"copy": copy, "b": files["b"]}, held_out={"b": "test"})


def test_balanced_sampling_gives_every_genome_the_mean_of_real_windows(tmp_path, task, genomes):
    seqs, files = genomes
    summary = run_corpus(tmp_path, task, files, held_out={"c": "test", "a": "val"}, sequences=())
    assert summary["genomes"]["b"]["splits"]["train"]["windows"] == 50
    files = {**files, "d": write_fasta(tmp_path / "d.fa", {"x": random_seq(np.random.default_rng(5), 1000)})}
    summary = run_corpus(
        tmp_path / "bal", task, files, held_out={"c": "test", "a": "val"}, sampling="balanced"
    )
    # b has 50 train windows, d has 10: each gets round(60 / 2) = 30; d's repeat, b's are a subset.
    assert [summary["genomes"][n]["splits"]["train"]["windows"] for n in "bd"] == [30, 30]
    assert [summary["genomes"][n]["train_distinct"] for n in "bd"] == [50, 10]
    train = np.load(tmp_path / "bal" / "windows" / "train.npy")
    texts = ["".join("ACGTN"[c] for c in row) for row in train]
    assert set(texts[:30]) < windows_of(seqs["b"]) and len(set(texts[:30])) == 30
    assert set(texts[30:]) == windows_of(files["d"].read_text().split("\n")[1])


def test_a_fasta_of_sequences_goes_whole_to_train(tmp_path, task, genomes):
    _, files = genomes
    rng = np.random.default_rng(9)
    records = {f"seq{i}": random_seq(rng, 250) for i in range(6)}  # 2 windows each, the rest left out
    files = {**files, "bench": write_fasta(tmp_path / "bench.fa", records)}
    summary = run_corpus(tmp_path, task, files, held_out={"a": "val", "c": "test"}, sequences={"bench"})
    assert summary["genomes"]["bench"]["splits"]["train"]["windows"] == 12
    assert summary["genomes"]["bench"]["sequences"] is True


def test_dedup_across_genomes_keeps_test_first(tmp_path, task, genomes):
    seqs, files = genomes
    twin = write_fasta(tmp_path / "twin.fa", {"chr1": seqs["c"]})  # the test genome again, as train
    summary = run_corpus(
        tmp_path, task, {**files, "twin": twin}, held_out={"a": "val", "c": "test"}, dedup=True
    )
    assert summary["genomes"]["twin"]["splits"]["train"]["windows"] == 0
    assert summary["genomes"]["twin"]["dropped"]["duplicate"] == 12
    assert summary["genomes"]["c"]["splits"]["test"]["windows"] == 12


def test_one_genome_corpus_writes_the_arrays_of_the_one_genome_path(tmp_path, task):
    fasta = write_fasta(tmp_path / "g.fa", {"chr1": random_seq(np.random.default_rng(4), 6000)})
    run_corpus(tmp_path, task, {"g": fasta})
    preprocess_genome(fasta, tmp_path / "plain", window=WINDOW, stride=WINDOW, shard_size=1000, split=SPLIT)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(
            np.load(tmp_path / "windows" / f"{split}.npy"),
            np.load(tmp_path / "plain" / "preprocess" / "windows" / f"{split}.npy"),
        )
    assert len(shard_ids(tmp_path / "corpus" / "g" / "shards.tsv")) == 6


def test_write_rows_takes_repeated_rows_in_order(tmp_path):
    raw = tmp_path / "rows.u8"
    data = np.arange(12, dtype=np.uint8).reshape(4, 3) % 4
    raw.write_bytes(data.tobytes())
    n = write_rows(tmp_path / "out.npy", [(raw, 4, np.array([0, 0, 3]))], 3)
    assert n == 3
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), data[[0, 0, 3]])


def test_balanced_rows_are_seeded_and_cover_small_genomes_fully():
    picks = balanced_rows({"big": 10, "small": 3, "none": 0}, seed=1)
    assert len(picks["big"]) == len(picks["small"]) == 6 and len(picks["none"]) == 0
    assert np.bincount(picks["small"]).tolist() == [2, 2, 2]
    assert len(set(picks["big"].tolist())) == 6
    np.testing.assert_array_equal(
        picks["big"], balanced_rows({"big": 10, "small": 3, "none": 0}, seed=1)["big"]
    )


def test_check_corpus_refuses_bad_names():
    task = {"path": "t.fa"}
    ok = [{"name": "a", "source": {"path": "a.fa"}}, {"name": "t", "source": {"path": "t.fa"}}]
    corpus = check_corpus(ok, task_source=task, test_genomes=["t"])
    assert corpus["t"]["task_alias"] and corpus["t"]["held_out"] == "test" and corpus["a"]["held_out"] is None
    with pytest.raises(GenolmError, match="'a' appears twice"):
        check_corpus(ok + ok[:1], task_source=task)
    with pytest.raises(GenolmError, match="val_genomes: 'z' is not a genome"):
        check_corpus(ok, task_source=task, val_genomes=["z"])
    with pytest.raises(GenolmError, match="'a' is in both"):
        check_corpus(ok, task_source=task, val_genomes=["a"], test_genomes=["a"])
    with pytest.raises(GenolmError, match="val_genomes: 't' is the task genome"):
        check_corpus(ok, task_source=task, val_genomes=["t"])


def test_sheet_rows_become_source_specs():
    table = pd.DataFrame(
        {
            "name": ["hs", "ec", "gue"],
            "ensembl_species": ["homo_sapiens", None, None],
            "ensembl_release": ["110", None, None],
            "ensembl_assembly": ["GRCh38", None, None],
            "ncbi": [None, "GCF_000005845.2", None],
            "path": [None, None, "train.fa"],
            "sequences": [None, "false", "true"],
        }
    )
    assert sheet_entries(table) == [
        {
            "name": "hs",
            "source": {"ensembl": {"species": "homo_sapiens", "release": 110, "assembly": "GRCh38"}},
            "sequences": False,
        },
        {"name": "ec", "source": {"ncbi": "GCF_000005845.2"}, "sequences": False},
        {"name": "gue", "source": {"path": "train.fa"}, "sequences": True},
    ]


def test_a_window_longer_than_every_contig_names_the_genome(tmp_path, task):
    short = write_fasta(tmp_path / "short.fa", {"x": "ACGT" * 10})
    with pytest.raises(GenolmError, match="corpus genome 'short': preprocess.window 100 is longer"):
        run_corpus(tmp_path, task, {"short": short})


def test_encode_matches_the_fasta_codes(tmp_path):
    fasta = write_fasta(tmp_path / "g.fa", {"chr1": "ACGTN" * 40})
    out = tmp_path / "plan"
    out.mkdir()
    record = plan_genome(
        fasta,
        provenance(fasta),
        out,
        name="g",
        held_out="test",
        sequences=False,
        listed=["test"],
        window=WINDOW,
        stride=WINDOW,
        shard_size=1000,
    )
    np.testing.assert_array_equal(np.fromfile(out / "genome.u8", dtype=np.uint8), encode("ACGTN" * 40))
    assert record["n_bases"] == 40 and record["bases"] == {"train": 0, "val": 0, "test": 200}
