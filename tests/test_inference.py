"""Chunking whole sequences into the model's windows: coverage, and one k-mer grid for every chunk."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_models import random_dna, tiny_model_dir

from genolm.inference import chunk_batch, chunk_starts, load_pretrained


@pytest.mark.parametrize("grid", [1, 3, 6])
@pytest.mark.parametrize("length", [64, 65, 200, 1001])
def test_chunk_starts_keep_to_the_grid_and_reach_the_end(length, grid):
    window, max_chunks = 64, 8
    starts = chunk_starts(length, window, max_chunks, grid)
    assert starts[0] == 0
    assert all(s % grid == 0 for s in starts)
    assert starts == sorted(starts)
    assert all(s + window <= max(length, window) for s in starts)
    assert length - (starts[-1] + window) < grid  # the last chunk is flush, or as near as the grid allows
    if -(-length // window) <= max_chunks:  # not subsampled: every base but the grid's remainder is read
        covered = np.zeros(length, bool)
        for s in starts:
            covered[s : s + window] = True
        assert covered[: length - grid + 1].all()
    else:
        assert len(starts) == max_chunks


@pytest.mark.parametrize(
    ("kind", "k", "grid"), [("kmer", 3, 3), ("kmer", 4, 4), ("char", 1, 1), ("kmer_overlap", 3, 1)]
)
def test_only_a_non_overlapping_kmer_tokenizer_has_a_grid(tmp_path, kind, k, grid):
    assert load_pretrained(tiny_model_dir(tmp_path, kind=kind, k=k, window=64)).grid == grid


def test_every_chunk_reads_the_sequence_in_its_own_frame(tmp_path):
    """A codon tokenizer's chunks of a gene are in the gene's frame: each chunk's tokens are the whole
    gene's tokens from the chunk's start on, never a shifted frame of out-of-frame triplets."""
    pre = load_pretrained(tiny_model_dir(tmp_path, kind="kmer", k=3, window=64))
    (seq,) = random_dna(np.random.default_rng(1), 1, 250)
    chunks, owner, _ = chunk_batch([seq], pre.window, max_chunks=8, grid=pre.grid)
    whole = pre.tokenizer(seq, add_special_tokens=False)["input_ids"]
    starts = chunk_starts(len(seq), pre.window, 8, pre.grid)
    assert owner.tolist() == [0] * len(starts) and len(starts) == 4
    for start, chunk in zip(starts, chunks, strict=True):
        assert chunk == seq[start : start + pre.window]
        ids = pre.tokenizer(chunk, add_special_tokens=False)["input_ids"]
        assert ids[: pre.window // 3] == whole[start // 3 : start // 3 + pre.window // 3]
