"""Calibrated zero-shot variant scores: the LM's log-likelihood ratio minus what composition explains.

A masked LM's LLR, log p(alt | context) - log p(ref | context), mixes what the model learned about
function with what it learned about plain base composition. On a genome with skewed composition
(the human mtDNA reference strand is ~32% A, ~31% C, ~13% G, ~23% T) the second part alone rewards
every substitution toward a common base, whatever it does; on ClinVar mtDNA, where pathogenic SNVs
are enriched for a lost G, that alone drives the AUROC below chance (README, "Disease-risk scores").

Two calibrations, both label-free:

- a background model of the train text (`fit_background`): the frequency of each base given its
  `flank` neighbours on each side (`flank=0`: base composition, log f(alt) - log f(ref)), scored on
  the forward and reverse-complement windows like `genolm.variants.zero_shot_llr`, with the strands
  weighted equally or by least squares (`fit_strand_weights`); it explains why, and is what to fit
  on the LM's own pretraining text (`preprocess/windows/train.npy`);
- the LM's own mean LLR per substitution type over the train split's variants
  (`substitution_offsets`, `centred_llr`): the most any context-free model can say about a
  substitution, whatever the LM learned it from; robust where the global composition is not (an LM
  pretrained with reverse-complement augmentation), and what `zeroshot_calibrated` reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genolm.errors import GenolmError
from genolm.io.fasta import encode
from genolm.sequence import reverse_complement

BASE_BITS = 7  # low bits of a window code byte (a soft-mask flag may sit above them); 0..3 = ACGT
CHUNK_ROWS = 1 << 14  # window rows counted at once: bounds the working memory on a large train set


@dataclass(frozen=True)
class Background:
    """log P(centre base | `flank` bases each side), and the composition alone for back-off.

    Attributes:
        flank: context bases on each side (0 = base composition only).
        log_prob: shape (4 ** (2 * flank), 4); row = context (left bases then right bases, base 4
            digits, first base most significant), column = centre base code (A0 C1 G2 T3).
        log_composition: shape (4,), log frequency of each base.
    """

    flank: int
    log_prob: np.ndarray
    log_composition: np.ndarray


def _kmer_counts(rows: np.ndarray, size: int) -> np.ndarray:
    """Counts of every `size`-mer of ACGT (none holding another code) along the rows of a code array."""
    base = np.asarray(rows, dtype=np.uint8) & np.uint8(BASE_BITS)
    n = base.shape[1] - size + 1
    if n <= 0:
        return np.zeros(4**size, dtype=np.int64)
    index = np.zeros((base.shape[0], n), dtype=np.int64)
    valid = np.ones((base.shape[0], n), dtype=bool)
    for t in range(size):
        part = base[:, t : t + n]
        index = index * 4 + np.minimum(part, 3)
        valid &= part < 4
    return np.bincount(index[valid], minlength=4**size)


def _code_rows(windows: np.ndarray | Iterable[str]) -> Iterable[np.ndarray]:
    """Chunks of 2-D code rows: slices of a code matrix, or each string encoded as a one-row array."""
    if isinstance(windows, np.ndarray):
        if windows.ndim != 2:
            raise GenolmError(f"background windows: expected a 2-D code array, got shape {windows.shape}")
        for i in range(0, len(windows), CHUNK_ROWS):
            yield windows[i : i + CHUNK_ROWS]
        return
    for seq in windows:
        yield encode(seq)[None, :]


def fit_background(
    windows: np.ndarray | Iterable[str], *, flank: int = 0, pseudocount: float = 1.0
) -> Background:
    """Count (2 * flank + 1)-mers of the train text into P(centre base | flanks).

    Args:
        windows: a (rows, length) array of base codes (A0 C1 G2 T3, N4; a `preprocess/windows/*.npy`
            file, memory-mapped is fine) or DNA strings. k-mers holding N are not counted.
        flank: bases of context on each side of the centre base.
        pseudocount: added to every k-mer count, so unseen contexts give uniform probabilities.

    Returns:
        The fitted background.

    Raises:
        GenolmError: a negative flank, a non-positive pseudocount, or no ACGT k-mer in the windows.
    """
    if flank < 0 or pseudocount <= 0:
        raise GenolmError(f"background: flank must be >= 0 and pseudocount > 0, got {flank}, {pseudocount}")
    size = 2 * flank + 1
    counts, bases = np.zeros(4**size, dtype=np.int64), np.zeros(4, dtype=np.int64)
    for rows in _code_rows(windows):
        counts += _kmer_counts(rows, size)
        if flank:  # the back-off composition counts every base, edges included
            bases += _kmer_counts(rows, 1)
    if not flank:
        bases = counts
    if counts.sum() == 0:
        raise GenolmError(f"background: no {size}-mer of A/C/G/T in the train windows")
    # index = left * 4^(flank+1) + centre * 4^flank + right  ->  (context = left * 4^flank + right, centre)
    by_context = counts.reshape(4**flank, 4, 4**flank).transpose(0, 2, 1).reshape(4 ** (2 * flank), 4)
    smoothed = by_context + pseudocount
    composition = bases + pseudocount
    return Background(
        flank=flank,
        log_prob=np.log(smoothed / smoothed.sum(1, keepdims=True)),
        log_composition=np.log(composition / composition.sum()),
    )


_CODE = {b: i for i, b in enumerate("ACGT")}


def _strand_llr(background: Background, window: str, offset: int, ref: str, alt: str) -> float:
    """log P(alt | flanks) - log P(ref | flanks) on one strand; composition alone off the flanks."""
    k = background.flank
    left, right = window[offset - k : offset], window[offset + 1 : offset + 1 + k]
    context = left + right
    if offset - k < 0 or len(context) != 2 * k or any(b not in _CODE for b in context):
        row = background.log_composition
    else:
        row = background.log_prob[sum(_CODE[b] * 4 ** (2 * k - 1 - i) for i, b in enumerate(context))]
    return float(row[_CODE[alt]] - row[_CODE[ref]])


def strand_background_llr(background: Background, table: pd.DataFrame) -> np.ndarray:
    """The background's LLR per variant on the forward and on the reverse-complement window.

    Args:
        background: from `fit_background`.
        table: variant rows with `ref_window`, `offset` (0-based variant base in the window), `ref`
            and `alt` (single bases, upper case).

    Returns:
        Shape (rows, 2): forward, reverse complement; in table order.

    Raises:
        GenolmError: a ref or alt that is not one of A/C/G/T, or a ref that disagrees with its window.
    """
    out = np.empty((len(table), 2))
    rows = zip(table["ref_window"], table["offset"], table["ref"], table["alt"], strict=True)
    for i, (window, offset, ref, alt) in enumerate(rows):
        offset = int(offset)
        if ref not in _CODE or alt not in _CODE or window[offset] != ref:
            raise GenolmError(
                f"background LLR: variant {i} has ref {ref!r}, alt {alt!r} and window base "
                f"{window[offset]!r}; expected A/C/G/T with ref equal to the window base"
            )
        rc_window, rc_offset = reverse_complement(window), len(window) - 1 - offset
        out[i, 0] = _strand_llr(background, window, offset, ref, alt)
        out[i, 1] = _strand_llr(
            background, rc_window, rc_offset, rc_window[rc_offset], reverse_complement(alt)
        )
    return out


def background_llr(background: Background, table: pd.DataFrame) -> np.ndarray:
    """The background's LLR per variant averaged over both strands, as `zero_shot_llr` averages the LM's.

    Args:
        background: from `fit_background`.
        table: variant rows (see `strand_background_llr`).

    Returns:
        One LLR per row, in table order (0 for a substitution the background cannot tell apart).

    Raises:
        GenolmError: a row `strand_background_llr` refuses.
    """
    return strand_background_llr(background, table).mean(1)


def fit_strand_weights(llr: np.ndarray, table: pd.DataFrame, background: Background) -> np.ndarray:
    """Least-squares weights of the forward and reverse background LLRs in the LM's LLR; labels unused.

    An LM pretrained on one strand only (`preprocess.reverse_complement: false`) follows the background
    closely on that strand and weakly on the other, so the plain strand mean (weights 0.5, 0.5)
    under-subtracts on one strand and over-subtracts on the other. Fit on unlabelled train-split
    variants; the minimum-norm solution keeps equal weights where the two strands coincide.

    Args:
        llr: the LM's strand-averaged LLR of `table`'s rows.
        table: the variants to fit on (see `strand_background_llr`).
        background: from `fit_background`.

    Returns:
        Shape (2,): forward, reverse weights.

    Raises:
        GenolmError: no rows, or `llr` and `table` differ in length.
    """
    llr = _checked(llr, table)
    if not len(llr):
        raise GenolmError("calibration: no variants to fit the strand weights on (the train split is empty)")
    weights, *_ = np.linalg.lstsq(strand_background_llr(background, table), llr, rcond=None)
    return weights


def calibrated_llr(
    llr: np.ndarray, table: pd.DataFrame, background: Background, weights: Sequence[float] = (0.5, 0.5)
) -> np.ndarray:
    """The LM's LLR minus the background's, per variant (the pathogenicity score is minus this).

    Args:
        llr: `genolm.variants.zero_shot_llr` of `table`'s rows, in the same order.
        table: the scored variant rows (see `strand_background_llr`).
        background: from `fit_background` on the train text.
        weights: of the forward and reverse background LLRs; (0.5, 0.5) subtracts the strand mean,
            `fit_strand_weights` fits them.

    Returns:
        llr - strand_background_llr(background, table) @ weights.

    Raises:
        GenolmError: `llr` and `table` differ in length, or a row `strand_background_llr` refuses.
    """
    return _checked(llr, table) - strand_background_llr(background, table) @ np.asarray(weights, dtype=float)


def _checked(llr: np.ndarray, table: pd.DataFrame) -> np.ndarray:
    llr = np.asarray(llr, dtype=float)
    if llr.shape != (len(table),):
        raise GenolmError(f"calibration: {llr.shape[0]} LLRs for {len(table)} variants")
    return llr


SUBSTITUTIONS = tuple(f"{r}>{a}" for r in "ACGT" for a in "ACGT" if r != a)


def _substitution(table: pd.DataFrame) -> pd.Series:
    return table["ref"].astype(str) + ">" + table["alt"].astype(str)


def substitution_offsets(llr: np.ndarray, table: pd.DataFrame) -> dict[str, float]:
    """The LM's mean LLR per substitution type (ref>alt), over unlabelled variants; labels unused.

    This is the most a context-free model can say about a substitution, read off the LM itself: it
    holds the composition bias whatever its source (one-strand pretraining, local composition the LM
    uses to tell the strands apart), where `fit_background` only holds the global composition. A
    flank-0 background LLR is constant within a type, so subtracting these offsets removes it exactly.

    Args:
        llr: the LM's strand-averaged LLR of `table`'s rows (fit on the train split's variants).
        table: the variants, with `ref` and `alt`.

    Returns:
        Every type of SUBSTITUTIONS -> its mean LLR; a type absent from `table` gets the overall mean.

    Raises:
        GenolmError: no rows, or `llr` and `table` differ in length.
    """
    llr = _checked(llr, table)
    if not len(llr):
        raise GenolmError(
            "calibration: no variants to fit the substitution offsets on (the train split is empty)"
        )
    means = pd.Series(llr, index=table.index).groupby(_substitution(table)).mean()
    return {s: float(means.get(s, llr.mean())) for s in SUBSTITUTIONS}


def centred_llr(llr: np.ndarray, table: pd.DataFrame, offsets: dict[str, float]) -> np.ndarray:
    """The LM's LLR minus its mean LLR for the same substitution type (the score is minus this).

    Args:
        llr: `genolm.variants.zero_shot_llr` of `table`'s rows, in the same order.
        table: the scored variants, with `ref` and `alt` (single bases A/C/G/T).
        offsets: from `substitution_offsets` on the train split's variants.

    Returns:
        llr - offsets[ref>alt] per row.

    Raises:
        GenolmError: `llr` and `table` differ in length, or a substitution outside SUBSTITUTIONS.
    """
    llr = _checked(llr, table)
    types = _substitution(table)
    unknown = sorted(set(types) - set(offsets))
    if unknown:
        raise GenolmError(
            f"calibration: substitution {unknown[0]!r} is not one of {', '.join(SUBSTITUTIONS)}"
        )
    return llr - types.map(offsets).to_numpy(dtype=float)
