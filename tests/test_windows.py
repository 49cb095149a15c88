"""Windows: sharded output equals a plain reference, filters by reason, dedup, reverse complement, the
tokenizer stage's errors and stats, and the sharded rule graph under the real snakemake."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, run_snakemake

from genolm.errors import GenolmError
from genolm.io.fasta import encode, reverse_complement_codes
from genolm.tokenizers import encode_codes, save_tokenizer
from genolm.windows import preprocess_genome, window_shard, window_starts

SPLIT = {"method": "blocks", "block_size": 3000, "gap": 200}


def write_fasta(path, contigs):
    with gzip.open(path, "wt") as fh:
        for name, seq in contigs.items():
            fh.write(f">{name}\n")
            fh.writelines(seq[i : i + 70] + "\n" for i in range(0, len(seq), 70))
    return path


def random_seq(rng, n):
    return "".join(rng.choice(list("ACGT"), n))


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    """Four contigs with N runs and soft-masked (lowercase) runs."""
    rng = np.random.default_rng(11)
    contigs = {}
    for i, n in enumerate([9000, 4000, 12000, 2500]):
        seq = list(random_seq(rng, n))
        for start in rng.integers(0, n - 300, 3):
            length = int(rng.integers(20, 300))
            seq[start : start + length] = ["N"] * length
        for start in rng.integers(0, n - 400, 3):
            end = start + int(rng.integers(50, 400))
            seq[start:end] = [c.lower() for c in seq[start:end]]
        contigs[f"chr{i + 1}"] = "".join(seq)
    return write_fasta(tmp_path_factory.mktemp("genome") / "g.fa.gz", contigs), contigs


def reference_windows(contigs, splits, window, stride, max_n, soft_max=None):
    """Plain Python: every window of every split interval, in genome order, with the filters applied."""
    out = {s: [] for s in ("train", "val", "test")}
    for contig, start, end, split in splits.itertuples(index=False):
        seq = contigs[contig]
        for s in window_starts(start, end, window, stride):
            text = seq[s : s + window]
            if text.upper().count("N") / window > max_n:
                continue
            if soft_max is not None and sum(c.islower() for c in text) / window > soft_max:
                continue
            out[split].append(encode(text))
    return {s: np.array(v, dtype=np.uint8).reshape(-1, window) for s, v in out.items()}


def load(work):
    return {s: np.load(work / "preprocess" / "windows" / f"{s}.npy") for s in ("train", "val", "test")}


@pytest.mark.parametrize(
    ("window", "stride", "shard_size"), [(200, 200, 10**8), (200, 70, 3000), (128, 300, 1000)]
)
def test_sharded_windows_equal_the_plain_reference(tmp_path, genome, window, stride, shard_size):
    path, contigs = genome
    summary = preprocess_genome(
        path, tmp_path, window=window, stride=stride, shard_size=shard_size, split=SPLIT, max_n_fraction=0.1
    )
    splits = pd.read_csv(tmp_path / "preprocess" / "splits.tsv", sep="\t")
    expected = reference_windows(contigs, splits, window, stride, 0.1)
    got = load(tmp_path)
    for split in expected:
        np.testing.assert_array_equal(got[split], expected[split])
    assert (
        summary["shards"] == pd.read_csv(tmp_path / "preprocess" / "shards.tsv", sep="\t")["shard"].nunique()
    )
    assert (summary["shards"] > 5) == (shard_size <= 3000)
    assert summary["windows_kept"] == sum(len(v) for v in expected.values())
    assert (
        summary["windows_total"]
        == summary["windows_kept"] + summary["dropped"]["n"]
        > summary["windows_kept"]
    )
    assert summary["bases_read"] == sum(map(len, contigs.values()))
    assert summary["n_bases"] == sum(s.upper().count("N") for s in contigs.values())


def test_soft_mask_drop_counts_its_own_reason(tmp_path, genome):
    path, contigs = genome
    summary = preprocess_genome(
        path, tmp_path, window=100, stride=50, split=SPLIT, soft_mask="drop", max_soft_mask_fraction=0.3
    )
    splits = pd.read_csv(tmp_path / "preprocess" / "splits.tsv", sep="\t")
    expected = reference_windows(contigs, splits, 100, 50, 0.1, soft_max=0.3)
    got = load(tmp_path)
    for split in expected:
        np.testing.assert_array_equal(got[split], expected[split])
    assert summary["dropped"]["soft_mask"] > 0 and summary["dropped"]["n"] > 0
    assert summary["windows_total"] == summary["windows_kept"] + sum(summary["dropped"].values())


def test_dedup_keeps_one_copy_preferring_test_then_val(tmp_path):
    rng = np.random.default_rng(5)
    repeat = random_seq(rng, 1000)
    contigs = {"a": repeat * 4 + random_seq(rng, 3000), "b": random_seq(rng, 4000) + repeat * 2}
    path = write_fasta(tmp_path / "dup.fa.gz", contigs)
    plain = preprocess_genome(path, tmp_path / "plain", window=250, stride=250, split=SPLIT)
    summary = preprocess_genome(path, tmp_path / "dedup", window=250, stride=250, split=SPLIT, dedup=True)
    before, after = load(tmp_path / "plain"), load(tmp_path / "dedup")
    rows = {s: {r.tobytes() for r in after[s]} for s in after}
    assert sum(len(v) for v in rows.values()) == summary["windows_kept"]  # no duplicate left anywhere
    assert (
        len(rows["test"] & rows["train"])
        == len(rows["val"] & rows["train"])
        == len(rows["test"] & rows["val"])
        == 0
    )
    assert rows["test"] == {r.tobytes() for r in before["test"]}  # test keeps every distinct window
    assert summary["dropped"]["duplicate"] == plain["windows_kept"] - summary["windows_kept"] > 0
    everything = {r.tobytes() for v in before.values() for r in v}
    assert set().union(*rows.values()) == everything


def test_reverse_complement_doubles_train_only(tmp_path, genome):
    path, _ = genome
    plain = preprocess_genome(path, tmp_path / "plain", window=150, stride=150, split=SPLIT)
    summary = preprocess_genome(
        path, tmp_path / "rc", window=150, stride=150, shard_size=2000, split=SPLIT, reverse_complement=True
    )
    before, after = load(tmp_path / "plain"), load(tmp_path / "rc")
    n = len(before["train"])
    assert summary["reverse_complement_added"] == n and len(after["train"]) == 2 * n
    rc = np.stack([reverse_complement_codes(r) for r in before["train"]])
    expected = sorted(r.tobytes() for r in np.concatenate([before["train"], rc]))
    assert sorted(r.tobytes() for r in after["train"]) == expected
    for split in ("val", "test"):
        np.testing.assert_array_equal(after[split], before[split])
    assert summary["windows_kept"] == plain["windows_kept"] + n


def test_split_emptied_by_the_n_filter_is_one_error_and_writes_nothing(tmp_path):
    rng = np.random.default_rng(2)
    contigs = {"a": random_seq(rng, 8000), "b": "N" * 3000}
    path = write_fasta(tmp_path / "n.fa.gz", contigs)
    with pytest.raises(GenolmError, match="no test windows survive"):
        preprocess_genome(
            path,
            tmp_path,
            window=200,
            stride=200,
            split={"method": "blocks", "block_size": 2000, "test_contigs": ["b"]},
        )
    assert not (tmp_path / "preprocess" / "windows").exists() or not any(
        (tmp_path / "preprocess" / "windows").iterdir()
    )
    assert not (tmp_path / "preprocess" / "summary.json").exists()


def test_shard_of_a_plan_that_does_not_match_the_genome_is_refused(tmp_path, genome):
    path, _ = genome
    preprocess_genome(path, tmp_path, window=100, stride=100, split=SPLIT)
    work = tmp_path / "preprocess"
    with pytest.raises(GenolmError, match="shard 99 is not in the shard plan"):
        window_shard(
            work / "genome.u8",
            work / "contigs.tsv",
            work / "shards.tsv",
            99,
            tmp_path / "s",
            window=100,
            stride=100,
        )
    plan = pd.read_csv(work / "shards.tsv", sep="\t")
    plan.loc[0, "end"] = 10**9
    plan.to_csv(tmp_path / "bad.tsv", sep="\t", index=False)
    with pytest.raises(GenolmError, match="is not in"):
        window_shard(
            work / "genome.u8",
            work / "contigs.tsv",
            tmp_path / "bad.tsv",
            0,
            tmp_path / "s",
            window=100,
            stride=100,
        )
    assert not (tmp_path / "s").exists()


@pytest.fixture(scope="module")
def windows_npy(tmp_path_factory, genome):
    work = tmp_path_factory.mktemp("tok")
    preprocess_genome(genome[0], work, window=200, stride=200, split=SPLIT)
    return work / "preprocess" / "windows"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "kmer", "k": 9}, r"k=9 \(key 'k'\)"),
        ({"kind": "kmer_overlap", "k": 0}, r"k=0 \(key 'k'\)"),
        ({"kind": "bpe", "vocab_size": 8}, r"vocab_size=8 \(key 'vocab_size'\)"),
    ],
)
def test_tokenizer_stage_bad_settings_are_one_error_and_write_nothing(tmp_path, windows_npy, kwargs, message):
    with pytest.raises(GenolmError, match=message):
        save_tokenizer(
            windows_npy / "train.npy", tmp_path / "tok", val_windows=windows_npy / "val.npy", **kwargs
        )
    assert not (tmp_path / "tok").exists()


def test_bpe_tokenizer_stage_reports_tokens_per_base_on_val(tmp_path, windows_npy):
    tokenizer = save_tokenizer(
        windows_npy / "train.npy",
        tmp_path / "tok",
        val_windows=windows_npy / "val.npy",
        kind="bpe",
        vocab_size=64,
    )
    stats = json.loads((tmp_path / "tok" / "stats.json").read_text())
    val = np.load(windows_npy / "val.npy")
    _, lengths = encode_codes(tokenizer, val)
    assert stats["sample"] == "val" and stats["windows"] == len(val) and stats["vocab_size"] == 64
    assert stats["tokens"] == int(lengths.sum())
    assert stats["tokens_per_base"] == pytest.approx(lengths.sum() / val.size)
    assert 0.2 < stats["tokens_per_base"] < 1  # merges shorten the sequence


def test_bpe_encode_codes_matches_the_tokenizer_even_with_padding_set(windows_npy, tmp_path):
    tokenizer = save_tokenizer(windows_npy / "train.npy", tmp_path / "tok", kind="bpe", vocab_size=40)
    tokenizer.backend_tokenizer.enable_padding(length=300)
    codes = np.load(windows_npy / "val.npy")[:20]
    ids, lengths = encode_codes(tokenizer, codes)
    for row, n, window in zip(ids, lengths, codes, strict=True):
        text = "".join("ACGTN"[c] for c in window)
        expected = tokenizer.backend_tokenizer.encode(text, add_special_tokens=False).ids
        assert row[:n].tolist() == [i for i in expected if i != tokenizer.pad_token_id]
        assert (row[n:] == tokenizer.pad_token_id).all()


@pytest.fixture(scope="module")
def sharded_run(tmp_path_factory):
    """The mini demo through the windows stage, with shards small enough to make several jobs."""
    workdir = tmp_path_factory.mktemp("sharded")
    override = workdir / "shards.yaml"
    override.write_text("preprocess:\n  shard_size: 20000\n")
    config = REPO / ".test" / "config.yaml"
    run_snakemake(workdir, "results/mini/preprocess/summary.json", "--configfile", str(config), str(override))
    return workdir


def test_workflow_runs_shards_as_jobs_and_gathers_the_plain_result(sharded_run, tmp_path):
    results = sharded_run / "results" / "mini"
    summary = json.loads((results / "preprocess" / "summary.json").read_text())
    jobs = sorted((results / "benchmarks" / "windows_shard").glob("*.tsv"))
    assert summary["shards"] == len(jobs) >= 3
    assert not (results / "preprocess" / "shards").exists() or not any(
        (results / "preprocess" / "shards").iterdir()
    )
    # The same genome and settings in one process give the same arrays.
    plain = preprocess_genome(
        results / "data" / "genome",
        tmp_path,
        window=summary["window"],
        stride=summary["stride"],
        seed=7,
        split={
            "method": "blocks",
            "block_size": 5000,
            "gap": 200,
            "val_fraction": 0.2,
            "test_fraction": 0.25,
        },
    )
    assert plain["shards"] == 1
    for split, arr in load(tmp_path).items():
        np.testing.assert_array_equal(np.load(results / "preprocess" / "windows" / f"{split}.npy"), arr)
