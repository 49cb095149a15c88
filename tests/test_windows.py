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
from genolm.io import fasta
from genolm.io.fasta import decode, encode, iter_fasta
from genolm.sequence import reverse_complement_codes
from genolm.tokenizers import build_tokenizer, encode_codes, overlapping_kmers, save_tokenizer
from genolm.windows import WindowFilter, preprocess_genome, window_shard, window_starts

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


def test_soft_mask_drop_with_back_to_back_windows_all_kept(tmp_path, genome):
    """stride == window and nothing dropped: the rows are views of the read-only genome file."""
    path, contigs = genome
    preprocess_genome(
        path,
        tmp_path,
        window=100,
        stride=100,
        split=SPLIT,
        soft_mask="drop",
        max_n_fraction=1.0,
        max_soft_mask_fraction=1.0,
    )
    splits = pd.read_csv(tmp_path / "preprocess" / "splits.tsv", sep="\t")
    expected = reference_windows(contigs, splits, 100, 100, 1.0, soft_max=1.0)
    for split, got in load(tmp_path).items():
        np.testing.assert_array_equal(got, expected[split])


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
    codes, contigs, filters = work / "genome.u8", work / "contigs.tsv", WindowFilter(window=100, stride=100)
    with pytest.raises(GenolmError, match="shard 99 is not in the shard plan"):
        window_shard(codes, contigs, work / "shards.tsv", 99, tmp_path / "s", filters=filters)
    plan = pd.read_csv(work / "shards.tsv", sep="\t")
    plan.loc[0, "end"] = 10**9
    plan.to_csv(tmp_path / "bad.tsv", sep="\t", index=False)
    with pytest.raises(GenolmError, match="is not in"):
        window_shard(codes, contigs, tmp_path / "bad.tsv", 0, tmp_path / "s", filters=filters)
    assert not (tmp_path / "s").exists()


def test_window_filter_refuses_impossible_settings(tmp_path):
    with pytest.raises(GenolmError, match=r"^preprocess: window \(64\) and stride \(0\) must be positive$"):
        WindowFilter(64, 0).check()
    with pytest.raises(
        GenolmError, match=r"^preprocess.soft_mask: got 'hide', expected one of uppercase, drop$"
    ):
        missing = [tmp_path / name for name in ("g.u8", "c.tsv", "p.tsv")]  # refused before any is read
        window_shard(*missing, 0, tmp_path / "s", filters=WindowFilter(64, 64, soft_mask="hide"))
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


@pytest.mark.workflow
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


MESSY_LETTERS = list("ACGTacgtNnRYKMSWBDHVryk")


def messy_fasta(rng, crlf: bool) -> tuple[bytes, dict[str, str]]:
    """Random FASTA text (BOM, long headers, ragged and blank lines, lowercase, N, IUPAC, one contig with
    only ACGT, LF or CRLF) and each contig as written, one character a base."""
    weights = np.array([8] * 8 + [1] * (len(MESSY_LETTERS) - 8), dtype=float)
    contigs = {}
    for i, n in enumerate([5000, 3000, 1, 2600, 900]):
        letters = MESSY_LETTERS[:4] if i == 1 else MESSY_LETTERS
        p = None if i == 1 else weights / weights.sum()
        contigs[f"ctg{i}"] = "".join(rng.choice(letters, n, p=p))
    end = "\r\n" if crlf else "\n"
    parts = ["\ufeff"]
    for name, seq in contigs.items():
        parts.append(f">{name} {'description ' * int(rng.integers(0, 12))}{end}")
        at = 0
        while at < len(seq):
            width = int(rng.choice([60, 80, 13, 1]))
            parts.append(seq[at : at + width] + end + (end if rng.random() < 0.02 else ""))
            at += width
    return "".join(parts).encode(), contigs


def reference_record(seq: str) -> tuple[str, str]:
    """Per character: the ACGTN letter (IUPAC -> N) and the soft-mask flag ('1' for lowercase)."""
    letters = "".join(c.upper() if c.upper() in "ACGT" else "N" for c in seq)
    return letters, "".join("1" if c.islower() else "0" for c in seq)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1 << 18])
@pytest.mark.parametrize("crlf", [False, True])
def test_fast_fasta_reader_equals_a_per_character_reference(tmp_path, monkeypatch, chunk_size, crlf):
    """Chunks cut lines and headers anywhere (size 1 and 7 cut every header); codes and mask must not care."""
    text, contigs = messy_fasta(np.random.default_rng(3 + crlf), crlf)
    path = tmp_path / "g.fa.gz"
    path.write_bytes(gzip.compress(text))
    monkeypatch.setattr(fasta, "_CHUNK_SIZE", chunk_size)
    got = {}
    for name, codes, mask in iter_fasta(path, soft_mask=True):
        got[name] = (decode(codes), (mask.astype(np.uint8) + ord("0")).tobytes().decode())
    assert got == {name: reference_record(seq) for name, seq in contigs.items()}
    assert {name: decode(codes) for name, codes in iter_fasta(path)} == {n: v[0] for n, v in got.items()}


@pytest.mark.parametrize("chunk_size", [1, 5, 1 << 18])
def test_fast_fasta_reader_names_the_line_of_a_bad_character_at_any_chunk_size(
    tmp_path, monkeypatch, chunk_size
):
    path = tmp_path / "bad.fa"
    path.write_bytes(b">a\r\nACGT\r\nAC\r\n>b x\r\nACGTTG\r\nGG\tA\r\nAC-GT\r\nAC\r\n")
    monkeypatch.setattr(fasta, "_CHUNK_SIZE", chunk_size)
    with pytest.raises(GenolmError, match=r"bad.fa:7: invalid sequence character '-'"):
        list(iter_fasta(path))


@pytest.fixture(scope="module")
def messy_windows(tmp_path_factory):
    """The messy genome through the whole preprocess path, next to its contigs as text."""
    work = tmp_path_factory.mktemp("messy")
    text, contigs = messy_fasta(np.random.default_rng(8), crlf=True)
    path = work / "g.fa.gz"
    path.write_bytes(gzip.compress(text))
    kwargs = {"window": 120, "stride": 50, "max_n_fraction": 0.2, "soft_mask": "drop"}
    preprocess_genome(path, work, split=SPLIT, max_soft_mask_fraction=0.6, **kwargs)
    splits = pd.read_csv(work / "preprocess" / "splits.tsv", sep="\t")
    as_n = {
        n: "".join(c if c.upper() in "ACGT" else ("n" if c.islower() else "N") for c in seq)
        for n, seq in contigs.items()
    }
    expected = reference_windows(as_n, splits, 120, 50, 0.2, soft_max=0.6)
    return load(work), expected


def test_messy_genome_windows_equal_the_plain_reference(messy_windows):
    got, expected = messy_windows
    assert sum(len(v) for v in expected.values()) > 40
    for split in expected:
        np.testing.assert_array_equal(got[split], expected[split])


@pytest.mark.parametrize(("kind", "k"), [("char", 1), ("kmer", 5), ("kmer_overlap", 5), ("bpe", 0)])
def test_messy_genome_tokens_equal_the_tokenizer_on_text(messy_windows, kind, k):
    windows = np.concatenate(list(messy_windows[0].values()))
    texts = [decode(row) for row in windows]
    tok = build_tokenizer(kind, k=k or 6, vocab_size=60, training_sequences=texts[::3])
    ids, lengths = encode_codes(tok, windows)
    for row, text in enumerate(texts):
        text = overlapping_kmers(text, k) if kind == "kmer_overlap" else text
        expected = tok(text, add_special_tokens=False)["input_ids"]
        assert ids[row, : lengths[row]].tolist() == expected
        assert (ids[row, lengths[row] :] == tok.pad_token_id).all()
