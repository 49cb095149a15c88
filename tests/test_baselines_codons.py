"""The codon-usage baseline: codons read in the CDS's frame (counted back from the stop, past the flank),
a task whose classes differ only in the frame, the flank left out, and csv rows refused."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from genolm.baselines.genes import run_baseline
from genolm.baselines.linear import codon_profile
from genolm.errors import GenolmError

pytestmark = pytest.mark.unit

CODONS = ["".join(c) for c in itertools.product("ACGT", repeat=3)]


def _usage(profile: np.ndarray) -> dict[str, float]:
    return {CODONS[i]: round(float(v), 6) for i, v in enumerate(profile) if v}


def test_codon_profile_reads_the_frame_of_the_cds_that_ends_the_sequence():
    assert CODONS[:2] == ["AAA", "AAC"] and CODONS[-1] == "TTT"
    cds = "ATGAAAGCCAAATAA"
    assert _usage(codon_profile(cds)) == {"ATG": 0.2, "AAA": 0.4, "GCC": 0.2, "TAA": 0.2}
    # The flank is left out, whatever its length modulo 3.
    assert _usage(codon_profile("CC" + cds, flank=2)) == _usage(codon_profile(cds))
    # A flank cut short at a contig's end costs the first codon, not the frame.
    assert _usage(codon_profile("C" + cds, flank=2)) == {"AAA": 0.5, "GCC": 0.25, "TAA": 0.25}
    # A CDS whose length is not a multiple of 3 keeps the frame of its stop codon.
    assert _usage(codon_profile("GG" + cds)) == _usage(codon_profile(cds))
    # Codons with N are skipped; nothing countable gives zeros.
    assert _usage(codon_profile("ATGNAATAA")) == {"ATG": 0.5, "TAA": 0.5}
    assert not codon_profile("AC").any() and not codon_profile("NNN").any()


def _frame_table(path, n_per_split=(60, 20, 30), n_codons=40, seed=5, flank=0):
    """Stretches of a random ACG/TGC codon string (each gene its own mix of the two) cut on its codon grid
    (`in_frame`) or one base after it (`shifted`), after `flank` random bases: the codons read are
    ACG/TGC or CGT/GCA."""
    rng, flanks = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    rows = []
    for split, n in zip(("train", "val", "test"), n_per_split, strict=True):
        for i in range(n):
            long = "".join(rng.choice(["ACG", "TGC"], n_codons + 2, p=[(p := rng.uniform(0.2, 0.8)), 1 - p]))
            label = "shifted" if i % 2 else "in_frame"
            start = 4 if label == "shifted" else 3
            seq = "".join(flanks.choice(list("ACGT"), flank)) + long[start : start + 3 * n_codons]
            rows.append((f"{split}{i}", "c1", 3 * i, 3 * i + len(seq), "+", label, split, seq))
    columns = ["id", "contig", "start", "end", "strand", "label", "split", "sequence"]
    pd.DataFrame(rows, columns=columns).to_csv(path, sep="\t", index=False)
    return path


def test_codon_lr_tells_the_frame_and_leaves_the_flank_out(tmp_path):
    table = _frame_table(tmp_path / "genes.tsv")
    codon = run_baseline(table, "codon_lr", tmp_path / "c.tsv", tmp_path / "c.json")
    assert codon["metrics"]["macro_f1"]["value"] == 1.0
    assert json.loads((tmp_path / "c.json").read_text())["method"] == "codon_lr"
    predictions = pd.read_csv(tmp_path / "c.tsv", sep="\t")
    assert (predictions["label"] == predictions["prediction"]).all() and len(predictions) == 30
    # Five random upstream bases: read as codons they shift nothing (the frame counts back from the
    # end) but add noise; left out (`flank`), the same genes give the same probabilities.
    flanked = _frame_table(tmp_path / "flanked.tsv", flank=5)
    run_baseline(flanked, "codon_lr", tmp_path / "f.tsv", tmp_path / "f.json", flank=5)
    assert pd.read_csv(tmp_path / "f.tsv", sep="\t").equals(predictions)


def test_codon_lr_refuses_rows_without_a_reading_frame(tmp_path):
    csv_rows = tmp_path / "tf0.tsv"
    pd.read_csv(_frame_table(tmp_path / "genes.tsv"), sep="\t")[["id", "label", "split", "sequence"]].to_csv(
        csv_rows, sep="\t", index=False
    )
    with pytest.raises(GenolmError, match=r"tf0.tsv: codon_lr needs genes from an annotation"):
        run_baseline(csv_rows, "codon_lr", tmp_path / "c.tsv", tmp_path / "c.json")
    assert not (tmp_path / "c.tsv").exists() and not (tmp_path / "c.json").exists()
