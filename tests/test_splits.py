"""Splits: no leakage between splits (property test), contig lists, the shard plan, and bad input."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genolm.errors import GenolmError
from genolm.splits import SPLITS, SplitIndex, make_splits, split_genome, window_counts
from genolm.windows import plan_shards, window_starts


def windows_of(table: pd.DataFrame, window: int, stride: int) -> pd.DataFrame:
    """Every full window of every interval: contig, start, end, split."""
    rows = [
        (contig, s, s + window, split)
        for contig, start, end, split in table.itertuples(index=False)
        for s in window_starts(start, end, window, stride)
    ]
    return pd.DataFrame(rows, columns=["contig", "start", "end", "split"])


split_params = st.fixed_dictionaries(
    {
        "lengths": st.lists(st.integers(1_000, 30_000), min_size=1, max_size=5),
        "method": st.sampled_from(["blocks", "contigs", "auto"]),
        "block_size": st.integers(500, 8_000),
        "gap": st.integers(0, 700),
        "window": st.integers(16, 600),
        "stride": st.integers(40, 600),
        "val_fraction": st.floats(0.05, 0.4),
        "test_fraction": st.floats(0.05, 0.4),
        "seed": st.integers(0, 2**31),
    }
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(split_params)
def test_windows_of_different_splits_never_overlap_or_come_within_gap(p):
    lengths = {f"c{i}": n for i, n in enumerate(p["lengths"])}
    try:
        table = make_splits(
            lengths,
            method=p["method"],
            block_size=p["block_size"],
            gap=p["gap"],
            val_fraction=p["val_fraction"],
            test_fraction=p["test_fraction"],
            seed=p["seed"],
        )
    except GenolmError:
        return  # too few units for three splits: refused, which is the contract
    assert set(table["split"]) == set(SPLITS)
    windows = windows_of(table, p["window"], p["stride"])
    index = SplitIndex(table)
    for contig, start, end, split in windows.itertuples(index=False):
        assert index.assign(contig, start, end) == split
        assert 0 <= start < end <= lengths[contig]
    # Sorted by start, a window of another split must start at least `gap` after every earlier window ends.
    for _, group in windows.sort_values(["contig", "start"]).groupby("contig"):
        last_end = {s: -(10**9) for s in SPLITS}
        for start, end, split in group[["start", "end", "split"]].itertuples(index=False):
            others = max(v for s, v in last_end.items() if s != split)
            assert start - others >= p["gap"]
            last_end[split] = max(last_end[split], end)


@settings(max_examples=60, deadline=None)
@given(split_params, st.integers(600, 50_000))
def test_shard_plan_covers_every_window_exactly_once(p, shard_size):
    lengths = {f"c{i}": n for i, n in enumerate(p["lengths"])}
    table = pd.DataFrame(
        [
            (c, s, min(s + p["block_size"], n), SPLITS[i % 3])
            for i, (c, n) in enumerate(lengths.items())
            for s in range(0, n, p["block_size"])
        ],
        columns=["contig", "start", "end", "split"],
    )
    window, stride = p["window"], p["stride"]
    plan = plan_shards(table, list(lengths), window=window, stride=stride, shard_size=max(shard_size, window))
    expected = windows_of(table, window, stride)
    got = windows_of(plan.drop(columns="shard"), window, stride)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))
    if plan.empty:
        return  # no interval holds a full window
    assert (plan["shard"].diff().fillna(0) >= 0).all()  # shards follow genome order
    assert plan["shard"].drop_duplicates().tolist() == list(range(int(plan["shard"].max()) + 1))
    span = [
        len(window_starts(s, e, window, stride)) * stride
        for s, e in zip(plan["start"], plan["end"], strict=True)
    ]
    per_shard = pd.Series(span).groupby(plan["shard"].to_numpy()).sum()
    assert (per_shard <= max(shard_size, window, stride)).all()


def test_contig_lists_fix_whole_contigs_and_accept_other_spellings():
    lengths = {"chr1": 50_000, "chr2": 40_000, "chr3": 30_000, "chrX": 20_000}
    table = make_splits(
        lengths, method="blocks", block_size=5_000, val_contigs=["2"], test_contigs=["X"], seed=1
    )
    whole = table[table["contig"].isin(["chr2", "chrX"])]
    assert whole.values.tolist() == [["chr2", 0, 40_000, "val"], ["chrX", 0, 20_000, "test"]]
    rest = table[~table["contig"].isin(["chr2", "chrX"])]
    assert set(rest["split"]) == {"train"}  # both held-out splits come from the lists
    assert rest["end"].max() <= 50_000 and len(rest) > 2


def test_one_contig_list_leaves_the_other_split_to_its_fraction():
    lengths = {f"c{i}": 10_000 for i in range(12)}
    table = make_splits(lengths, method="contigs", test_contigs=["c3"], val_fraction=0.2, seed=3)
    assert table.loc[table["split"] == "test", "contig"].tolist() == ["c3"]
    val = table[table["split"] == "val"]
    assert len(val) == 3 and "c3" not in set(val["contig"])  # 20 % of 120 kb in whole 10 kb contigs


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"val_contigs": ["nope"]}, "preprocess.split.val_contigs"),
        ({"val_contigs": ["a"], "test_contigs": ["a"]}, "in both"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, r"val_fraction \+ test_fraction = 1.1"),
        ({"method": "contigs"}, "need at least 3"),
    ],
)
def test_bad_split_settings_raise_one_clear_error(kwargs, message):
    with pytest.raises(GenolmError, match=message):
        make_splits({"a": 10_000, "b": 10_000}, **kwargs)


def write_fasta(path, contigs):
    with gzip.open(path, "wt") as fh:
        for name, seq in contigs.items():
            fh.write(f">{name} test\n")
            fh.writelines(seq[i : i + 60] + "\n" for i in range(0, len(seq), 60))


def random_seq(rng, n):
    return "".join(rng.choice(list("ACGT"), n))


def run_split_genome(tmp_path, genome, **kwargs):
    outs = [tmp_path / "out" / name for name in ("splits.tsv", "contigs.tsv", "genome.u8")]
    split_genome(genome, *outs, seed=1, **kwargs)
    return outs


def test_split_genome_writes_codes_contigs_and_splits(tmp_path):
    rng = np.random.default_rng(0)
    seqs = {"a": random_seq(rng, 3000) + "N" * 50 + "acgt" * 25, "b": random_seq(rng, 2000)}
    write_fasta(tmp_path / "g.fa.gz", seqs)
    splits, contigs, codes = run_split_genome(
        tmp_path,
        tmp_path / "g.fa.gz",
        window=100,
        stride=50,
        soft_mask="drop",
        split={"block_size": 1000, "gap": 100},
    )
    table = pd.read_csv(contigs, sep="\t")
    assert table.values.tolist() == [["a", 3150, 0, 50], ["b", 2000, 3150, 0]]
    raw = np.fromfile(codes, dtype=np.uint8)
    assert len(raw) == 5150
    assert raw[3050:3150].tolist() == [8, 9, 10, 11] * 25  # soft-masked acgt carry bit 8
    assert (raw[3000:3050] == 4).all()
    assert min(window_counts(pd.read_csv(splits, sep="\t"), 100, 50).values()) > 0


def test_window_longer_than_every_contig_is_one_error_and_writes_nothing(tmp_path):
    write_fasta(tmp_path / "g.fa.gz", {"a": "ACGT" * 100, "b": "ACGT" * 50})
    with pytest.raises(GenolmError, match="preprocess.window 1000 is longer than every contig"):
        run_split_genome(tmp_path, tmp_path / "g.fa.gz", window=1000, stride=1000)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_split_without_a_full_window_is_one_error_and_writes_nothing(tmp_path):
    rng = np.random.default_rng(1)
    write_fasta(
        tmp_path / "g.fa.gz", {"big": random_seq(rng, 20_000), "tiny1": "ACGT" * 30, "tiny2": "ACGT" * 30}
    )
    with pytest.raises(GenolmError, match="the val, test interval"):
        run_split_genome(
            tmp_path,
            tmp_path / "g.fa.gz",
            window=500,
            stride=500,
            split={"val_contigs": ["tiny1"], "test_contigs": ["tiny2"]},
        )
    assert not any((tmp_path / "out").iterdir())


def test_empty_fasta_is_one_error_and_writes_nothing(tmp_path):
    (tmp_path / "empty.fa").write_text("")
    with pytest.raises(GenolmError, match="empty file"):
        run_split_genome(tmp_path, tmp_path / "empty.fa", window=100, stride=100)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def _shares(table: pd.DataFrame) -> dict[str, float]:
    length = table["end"] - table["start"]
    return {s: float(length[table["split"] == s].sum() / length.sum()) for s in SPLITS}


@pytest.mark.parametrize("seed", range(5))
def test_auto_balances_bases_across_splits_of_unequal_contigs(seed):
    """Five 1 % slices of different size: each split gets close to its share, not a tail block."""
    lengths = {"2L": 235_000, "2R": 252_000, "3L": 281_000, "4": 13_000, "X": 235_000}
    shares = _shares(make_splits(lengths, seed=seed))
    assert 0.075 <= shares["test"] <= 0.125 and 0.075 <= shares["val"] <= 0.125


def test_auto_uses_whole_contigs_when_they_are_fair_and_blocks_when_not():
    fair = {f"c{i}": 100_000 for i in range(20)}
    table = make_splits(fair, seed=2)
    assert len(table) == 20 and (table["start"] == 0).all()  # whole contigs
    assert _shares(table)["test"] == _shares(table)["val"] == 0.1
    # One contig holds 91 %: no set of whole contigs gives train, val and test a fair share.
    skewed = {"big": 10_000_000} | {f"s{i}": 100_000 for i in range(10)}
    table = make_splits(skewed, seed=2)
    assert (table["contig"] == "big").sum() > 1  # cut into blocks
    assert 0.075 <= _shares(table)["test"] <= 0.125
