"""Motif discovery: seqlets are the high-attribution stretches, clusters rebuild a planted motif, matching
finds it in a JASPAR file and calls an unrelated motif insignificant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genolm.errors import GenolmError
from genolm.interpret.motifs import (
    BASES,
    Motif,
    best_alignment,
    cluster_seqlets,
    find_seqlets,
    match_motifs,
    probabilities,
    read_jaspar,
    shift_similarity,
    write_jaspar,
)

PLANTED = "TGACTACA"  # not its own reverse complement, so the strand is testable
OTHER = "GGGCCCAA"


def _revcomp(seq: str) -> str:
    return seq.translate(str.maketrans("ACGT", "TGCA"))[::-1]


def _planted(n=30, length=120, seed=0):
    """Random sequences with the planted motif at 1-2 random places; attributions mark exactly those bases."""
    rng = np.random.default_rng(seed)
    seqs, attrs, sites = [], [], []
    for _ in range(n):
        seq = list(rng.choice(list(BASES), length))
        attr = rng.normal(0, 0.05, length)
        starts = sorted(rng.choice(np.arange(0, length - len(PLANTED), len(PLANTED) + 4), 2, replace=False))
        starts = starts[: 1 + int(rng.integers(2))]
        for s in starts:
            seq[s : s + len(PLANTED)] = PLANTED
            attr[s : s + len(PLANTED)] += 1.0
        seqs.append("".join(seq))
        attrs.append(attr)
        sites.append(starts)
    return seqs, attrs, sites


def test_seqlets_cover_the_planted_sites_and_do_not_overlap():
    seqs, attrs, sites = _planted()
    seqlets = find_seqlets(seqs, attrs, width=10, z=3.0)
    n_sites = sum(len(s) for s in sites)
    covering = 0
    for i, starts in enumerate(sites):
        mine = sorted(s.start for s in seqlets if s.seq_index == i)
        assert all(b - a >= 10 for a, b in zip(mine, mine[1:], strict=False))  # non-overlapping
        covering += sum(any(a - 2 <= s <= a for s in mine) for a in starts)  # 10-wide window holds the 8-mer
    assert covering == n_sites
    assert len(seqlets) == n_sites  # the noise (sd 0.05 per base) never passes the threshold
    assert all(s.sign == 1 and s.sequence == seqs[s.seq_index][s.start : s.start + 10] for s in seqlets)
    # Flat attributions give nothing, never a spurious seqlet.
    assert find_seqlets(seqs, [np.zeros(len(s)) for s in seqs], width=10) == []


def test_negative_attributions_give_negative_seqlets():
    seqs, attrs, _ = _planted(n=10)
    seqlets = find_seqlets(seqs, [-a for a in attrs], width=10)
    assert seqlets and all(s.sign == -1 and s.score < 0 for s in seqlets)


def test_shift_similarity_finds_the_shift():
    codes = np.array([[0, 1, 2, 3, 0, 1], [1, 2, 3, 0, 1, 3], [3, 3, 3, 3, 3, 3]])
    sim, shift = shift_similarity(codes, max_shift=2)
    # row 1 is row 0 moved left by one: row0[t + 1] == row1[t] for t = 0..4
    assert sim[0, 1] == pytest.approx(5 / 6) and shift[0, 1] == 1 and shift[1, 0] == -1
    np.testing.assert_allclose(sim, sim.T)
    assert sim[0, 0] == 1.0


def test_clusters_rebuild_the_planted_motif_and_match_it_in_jaspar(tmp_path):
    seqs, attrs, sites = _planted()
    motifs = cluster_seqlets(find_seqlets(seqs, attrs, width=10), min_seqlets=3)
    top = motifs[0]
    assert top.sign == 1 and top.consensus == PLANTED  # flanks are random: trimmed off by information
    assert len(top.seqlets) == sum(len(s) for s in sites)
    db = tmp_path / "db.jaspar"
    counts = {"MA_OTHER.1": OTHER, "MA_PLANT.1": _revcomp(PLANTED)}  # stored on the other strand
    db.write_text(
        "".join(
            f">{mid} {mid.lower()}\n"
            + "".join(f"{b} [ {' '.join('20' if c == b else '0' for c in seq)} ]\n" for b in BASES)
            for mid, seq in counts.items()
        )
    )
    database = read_jaspar(db)
    assert [name for name, _ in database] == ["MA_OTHER.1 ma_other.1", "MA_PLANT.1 ma_plant.1"]
    (row,) = match_motifs([top], database, n_shuffles=99)
    assert row["best_match"] == "MA_PLANT.1 ma_plant.1" and row["match_strand"] == "-"
    assert row["match_score"] > 0.95 and row["p_value"] <= 0.02
    # An unrelated random motif matches nothing better than its own shuffles do.
    rng = np.random.default_rng(1)
    noise = Motif("noise", 1, rng.dirichlet(np.ones(4), size=8) * 20, [])
    (bad,) = match_motifs([noise], database, n_shuffles=99)
    assert bad["p_value"] > 0.05


def test_best_alignment_offsets():
    q = probabilities(np.eye(4)[[0, 1, 2, 3, 0, 1]] * 10)
    t = probabilities(np.eye(4)[[3, 3, 0, 1, 2, 3, 0, 1, 3]] * 10)
    score, offset, strand = best_alignment(q, t)
    assert score == pytest.approx(1.0) and offset == 2 and strand == "+"


def test_jaspar_round_trip_and_errors(tmp_path):
    counts = np.array([[5, 0, 0, 1], [0, 6, 0, 0], [1, 1, 3, 1]], dtype=float)
    write_jaspar(tmp_path / "m.jaspar", [Motif("m1", 1, counts, [])])
    ((name, back),) = read_jaspar(tmp_path / "m.jaspar")
    assert name == "m1"
    np.testing.assert_allclose(back, counts)
    (tmp_path / "bad.jaspar").write_text(">X y\nA [ 1 2 ]\nC [ a b ]\n")
    with pytest.raises(GenolmError, match="bad.jaspar"):
        read_jaspar(tmp_path / "bad.jaspar")


def test_demo_motif_file_holds_the_simulated_class_motifs():
    """resources/demo_class_motifs.jaspar (SYNTHETIC) is exactly the demo simulator's planted class motifs."""
    import yaml

    from genolm.simulate import _sequence_model

    root = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((root / "config" / "config.yaml").read_text())
    model = _sequence_model(np.random.default_rng(config["seed"]), config["simulate"]["n_classes"])
    motifs = read_jaspar(root / "resources" / "demo_class_motifs.jaspar")
    assert ["".join(BASES[i] for i in counts.argmax(1)) for _, counts in motifs] == model.motifs
    assert all("synthetic" in name for name, _ in motifs)
