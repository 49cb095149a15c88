"""Reverse complements, for DNA strings and for arrays of base codes (codes A0 C1 G2 T3 N4)."""

from __future__ import annotations

import numpy as np

_COMPLEMENT_TEXT = str.maketrans("ACGTNacgtn", "TGCANtgcan")
_COMPLEMENT_CODES = np.array([3, 2, 1, 0, 4], dtype=np.uint8)  # A<->T, C<->G, N stays N


def complement(seq: str) -> str:
    """The complementary strand of `seq`, base by base, not reversed (letters other than ACGTN stay)."""
    return seq.translate(_COMPLEMENT_TEXT)


def reverse_complement(seq: str) -> str:
    """The reverse complement of a DNA string."""
    return complement(seq)[::-1]


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """The reverse complement of base codes along the last axis: one sequence, or each row of a batch.

    Raises:
        IndexError: a code outside 0..4.
    """
    return _COMPLEMENT_CODES[np.asarray(codes)[..., ::-1]]
