"""The zero-shot calibration background: composition and context LLRs by value, strand averaging."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from genolm.errors import GenolmError
from genolm.io.fasta import encode
from genolm.sequence import reverse_complement
from genolm.zeroshot_calibration import (
    SUBSTITUTIONS,
    background_llr,
    calibrated_llr,
    centred_llr,
    fit_background,
    fit_strand_weights,
    strand_background_llr,
    substitution_offsets,
)

pytestmark = pytest.mark.unit


def _variants(rows: list[tuple[str, int, str]]) -> pd.DataFrame:
    """A variant table from (ref window, offset, alt) rows; ref is the window's base at the offset."""
    return pd.DataFrame(
        {
            "ref_window": [w for w, _, _ in rows],
            "offset": [o for _, o, _ in rows],
            "ref": [w[o] for w, o, _ in rows],
            "alt": [a for _, _, a in rows],
        }
    )


def _skewed_genome(n: int = 20_000, seed: int = 0) -> str:
    """A genome with A 50%, C 30%, G 15%, T 5% on the given strand."""
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list("ACGT"), size=n, p=[0.5, 0.3, 0.15, 0.05]))


def test_composition_llr_is_the_strand_mean_of_log_frequency_ratios():
    genome = _skewed_genome()
    background = fit_background([genome], pseudocount=1.0)
    freq = {b: (genome.count(b) + 1.0) / (len(genome) + 4.0) for b in "ACGT"}
    flanks = "ACGTA" * 4
    # Forward A>G and, on the reverse-complement window, T>C:
    a_to_g = background_llr(background, _variants([(flanks + "A" + flanks, 20, "G")]))[0]
    expected = (math.log(freq["G"] / freq["A"]) + math.log(freq["C"] / freq["T"])) / 2
    assert a_to_g == pytest.approx(expected, abs=1e-9)
    # C>G is G>C on the other strand: the two strands cancel exactly.
    c_to_g = background_llr(background, _variants([(flanks + "C" + flanks, 20, "G")]))[0]
    assert c_to_g == pytest.approx(0, abs=1e-12)


def test_strand_symmetric_fit_gives_log_frequency_ratio_toward_the_rarer_base():
    genome = _skewed_genome(seed=6)
    both = genome + reverse_complement(genome)
    background = fit_background([genome, reverse_complement(genome)], pseudocount=1.0)
    freq = {b: (both.count(b) + 1.0) / (len(both) + 4.0) for b in "ACGT"}
    window = "ACGTA" * 4 + "A" + "ACGTA" * 4
    llr = background_llr(background, _variants([(window, 20, "C")]))[0]  # A (and T) 55% -> C (and G) 45%
    assert llr == pytest.approx(math.log(freq["C"] / freq["A"]), abs=1e-9)
    assert llr < 0


def test_strand_averaging_is_symmetric():
    background = fit_background([_skewed_genome(seed=1)], flank=1)
    rng = np.random.default_rng(2)
    rows = []
    for _ in range(50):
        window = "".join(rng.choice(list("ACGT"), size=31))
        offset = int(rng.integers(0, 31))
        alt = rng.choice([b for b in "ACGT" if b != window[offset]])
        rows.append((window, offset, alt))
    flipped = [(reverse_complement(w), len(w) - 1 - o, reverse_complement(a)) for w, o, a in rows]
    forward = background_llr(background, _variants(rows))
    np.testing.assert_allclose(background_llr(background, _variants(flipped)), forward, atol=1e-12)


def test_context_model_reads_both_flanks():
    # After "A" the next base is always "C" and before "T" the previous is always "G": ACGT repeats.
    genome = "ACGT" * 5000
    background = fit_background([genome], flank=1, pseudocount=0.01)
    # In "ACG" the centre C is certain; C>T makes an unseen "ATG": a large negative LLR on both strands.
    llr = background_llr(background, _variants([("AACGTT", 2, "T")]))[0]
    # "ACG" occurs 5000 times and is every "A?G"; the other strand (G>A in "CGT") is the same by symmetry.
    p_c = (5000 + 0.01) / (5000 + 0.04)
    p_t = 0.01 / (5000 + 0.04)
    assert llr == pytest.approx(math.log(p_t / p_c), abs=1e-9)


def test_context_off_the_window_backs_off_to_composition():
    genome = _skewed_genome(seed=3)
    with_context = fit_background([genome], flank=2)
    composition = fit_background([genome], flank=0)
    edge = _variants([("CAGTT", 0, "A"), ("ACNGT", 3, "A")])  # a flank off the window, a flank with N
    np.testing.assert_allclose(
        background_llr(with_context, edge), background_llr(composition, edge), atol=1e-12
    )


def test_fit_on_code_matrix_matches_fit_on_strings_and_skips_n():
    rows = ["ACGTNACGGA", "TTGCANNCGA", "GGGCCCAATT"]
    codes = np.stack([encode(r) for r in rows])
    codes[1, 2] |= 8  # a soft-mask flag above the base bits is ignored
    for flank in (0, 1):
        a, b = fit_background(rows, flank=flank), fit_background(codes, flank=flank)
        np.testing.assert_allclose(a.log_prob, b.log_prob)
        np.testing.assert_allclose(a.log_composition, b.log_composition)
    composition = np.exp(fit_background(rows, pseudocount=1e-9).log_composition)
    counted = "".join(rows).replace("N", "")
    np.testing.assert_allclose(composition, [counted.count(x) / len(counted) for x in "ACGT"], atol=1e-9)


def test_model_that_is_the_composition_calibrates_to_zero():
    genome = _skewed_genome(seed=4)
    background = fit_background([genome])
    freq = np.exp(background.log_composition)
    code = {b: i for i, b in enumerate("ACGT")}
    comp = {"A": "T", "C": "G", "G": "C", "T": "A"}
    rng = np.random.default_rng(5)
    rows = []
    for _ in range(40):
        window = "".join(rng.choice(list("ACGT"), size=21))
        rows.append((window, 10, rng.choice([b for b in "ACGT" if b != window[10]])))
    table = _variants(rows)
    # A "language model" that predicts the composition, scored like zero_shot_llr on both strands.
    llr = np.array(
        [
            (math.log(freq[code[a]] / freq[code[r]]) + math.log(freq[code[comp[a]]] / freq[code[comp[r]]]))
            / 2
            for r, a in zip(table["ref"], table["alt"], strict=True)
        ]
    )
    assert np.abs(llr).max() > 0.1
    np.testing.assert_allclose(calibrated_llr(llr, table, background), 0, atol=1e-12)


def _random_variants(n: int, seed: int, length: int = 21) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        window = "".join(rng.choice(list("ACGT"), size=length))
        offset = int(rng.integers(0, length))
        rows.append((window, offset, rng.choice([b for b in "ACGT" if b != window[offset]])))
    return _variants(rows)


def test_strand_weights_of_a_one_strand_model_are_recovered_and_calibrate_it_to_zero():
    background = fit_background([_skewed_genome(seed=7)], flank=1)
    table = _random_variants(60, seed=8)
    strands = strand_background_llr(background, table)
    np.testing.assert_allclose(strands.mean(1), background_llr(background, table), atol=1e-12)
    llr = 0.9 * strands[:, 0] + 0.1 * strands[:, 1]  # follows the background mostly on the forward strand
    weights = fit_strand_weights(llr, table, background)
    np.testing.assert_allclose(weights, [0.9, 0.1], atol=1e-9)
    np.testing.assert_allclose(calibrated_llr(llr, table, background, weights), 0, atol=1e-9)
    plain = calibrated_llr(llr, table, background)  # the strand mean leaves 0.4 * (forward - reverse)
    np.testing.assert_allclose(plain, 0.4 * (strands[:, 0] - strands[:, 1]), atol=1e-12)


def test_strand_weights_stay_equal_where_the_strands_coincide():
    genome = _skewed_genome(seed=9)
    symmetric = fit_background([genome, reverse_complement(genome)])  # A = T, C = G: both strands alike
    table = _random_variants(30, seed=10)
    llr = 2.0 * background_llr(symmetric, table)
    np.testing.assert_allclose(fit_strand_weights(llr, table, symmetric), [1.0, 1.0], atol=1e-9)


def test_bad_input_is_one_error_naming_the_problem():
    background = fit_background(["ACGTACGT"])
    with pytest.raises(GenolmError, match="window base"):
        background_llr(
            background, pd.DataFrame({"ref_window": ["ACG"], "offset": [1], "ref": ["A"], "alt": ["T"]})
        )
    with pytest.raises(GenolmError, match="2 LLRs for 1 variants"):
        calibrated_llr(np.zeros(2), _variants([("ACG", 1, "T")]), background)
    with pytest.raises(GenolmError, match="train split is empty"):
        fit_strand_weights(np.zeros(0), _variants([]), background)
    with pytest.raises(GenolmError, match="no 1-mer"):
        fit_background(["NNNN"])


def test_substitution_offsets_remove_a_per_type_shift_exactly():
    table = _random_variants(200, seed=11)
    types = table["ref"] + ">" + table["alt"]
    shift = {s: i / 3 - 2 for i, s in enumerate(SUBSTITUTIONS)}
    noise = np.random.default_rng(12).normal(size=len(table))
    noise -= pd.Series(noise).groupby(types.to_numpy()).transform("mean").to_numpy()  # zero mean per type
    llr = types.map(shift).to_numpy() + noise
    offsets = substitution_offsets(llr, table)
    for s in set(types):
        assert offsets[s] == pytest.approx(shift[s], abs=1e-9)
    np.testing.assert_allclose(centred_llr(llr, table, offsets), noise, atol=1e-9)


def test_centring_removes_a_composition_only_llr_and_fills_absent_types_with_the_mean():
    background = fit_background([_skewed_genome(seed=13)])
    table = _random_variants(80, seed=14)
    llr = 1.7 * background_llr(background, table)  # any multiple: constant within each substitution type
    offsets = substitution_offsets(llr, table)
    np.testing.assert_allclose(centred_llr(llr, table, offsets), 0, atol=1e-12)
    two_types = _variants([("AAGAA", 0, "G"), ("CAGTA", 1, "G"), ("CAGTA", 0, "A")])
    sparse = substitution_offsets(np.array([-1.0, -2.0, 4.0]), two_types)
    assert sparse["A>G"] == pytest.approx(-1.5) and sparse["C>A"] == pytest.approx(4.0)
    assert sparse["C>T"] == pytest.approx(1 / 3)  # absent: the mean of every fit row
    with pytest.raises(GenolmError, match="'A>N' is not one of"):
        centred_llr(np.zeros(1), pd.DataFrame({"ref": ["A"], "alt": ["N"]}), sparse)
