"""Motif discovery from per-base attributions: seqlets -> clusters -> count matrices -> known-motif matches.

Why hand-rolled (small numpy + scikit-learn + Biopython steps) rather than modisco-lite: modisco-lite 3.0
(numba, igraph, leidenalg, ~240 MB of wheels) took 47 s on 2 cores for 40 sequences of 200 bp, mostly
numba compilation, and found no pattern there with its size limits scaled down; it is built for
thousands of seqlets. memelite's Tomtom needs the same numba compile. Here a run over a few dozen genes
takes well under a second.

1. Seqlets: slide a `width`-base window over each sequence's attributions; a window whose summed
   attribution lies more than `z` robust standard deviations (1.4826 x MAD, pooled over all windows of
   all sequences) from the median is a candidate. Candidates are taken greedily by that distance, never
   overlapping, at most `max_per_sequence` per sequence; the sign of the deviation is the seqlet's sign
   (positive = evidence for the explained class).
2. Clusters: per sign, seqlets are compared at every shift up to `max_shift` bases; the similarity of two
   seqlets is the largest fraction of their `width` columns with the same base, so shifted copies of one
   motif stay similar. Average-linkage agglomerative clustering (scikit-learn) cuts at `min_similarity`.
   Sequences are taken as given (gene sequences are on the coding strand): no reverse complements.
3. Count matrices: members are aligned to the cluster medoid at their best shift and their bases counted;
   columns covered by fewer than half of the members or below `min_ic` bits are trimmed off the ends.
   Clusters with fewer than `min_seqlets` members are dropped.
4. Matches (optional, a JASPAR-format file read with Biopython): a motif's probability matrix is compared
   with each database motif on both strands at every offset overlapping at least `min_overlap` columns
   (or the shorter motif); the score is the Pearson correlation of the overlapping probabilities times
   overlap / (shorter width), so a partial overlap cannot outscore a full one by luck. The
   p-value is database-wide: the fraction of `n_shuffles` column-shuffled copies of the motif whose best
   score over the whole database reaches the observed best ((1 + hits) / (1 + n_shuffles)).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from Bio import motifs as bio_motifs
from Bio.motifs import jaspar
from sklearn.cluster import AgglomerativeClustering

from genolm.atomic import atomic_path
from genolm.errors import GenolmError
from genolm.interpret.common import BASES

_CODE = {b: i for i, b in enumerate(BASES)}
_PSEUDOCOUNT = 0.1  # per base, when counts become probabilities for matching


@dataclass(frozen=True)
class Seqlet:
    """A fixed-width high-attribution stretch: `seq_index`'s bases [start, start + width)."""

    seq_index: int
    start: int
    sign: int
    score: float
    sequence: str


@dataclass(frozen=True)
class Motif:
    """A clustered motif: its base counts (width x 4, columns A C G T) and the seqlets behind it."""

    name: str
    sign: int
    counts: np.ndarray
    seqlets: list[Seqlet]

    @property
    def consensus(self) -> str:
        return "".join(BASES[i] for i in self.counts.argmax(1))


def find_seqlets(
    sequences: list[str],
    attributions: list[np.ndarray],
    *,
    width: int = 10,
    z: float = 3.0,
    max_per_sequence: int = 5,
) -> list[Seqlet]:
    """Non-overlapping high-|attribution| windows (module doc, step 1); NaN attributions count as 0."""
    if width < 1:
        raise GenolmError(f"find_seqlets: width must be >= 1, got {width}")
    sums = []
    for seq, attr in zip(sequences, attributions, strict=True):
        if len(attr) != len(seq):
            raise GenolmError(f"find_seqlets: {len(attr)} attributions for a sequence of {len(seq)} bases")
        a = np.nan_to_num(np.asarray(attr, dtype=float))
        sums.append(np.convolve(a, np.ones(width), mode="valid") if len(a) >= width else np.empty(0))
    pooled = np.concatenate(sums) if sums else np.empty(0)
    if pooled.size == 0:
        return []
    median = float(np.median(pooled))
    scale = 1.4826 * float(np.median(np.abs(pooled - median)))
    if scale == 0:
        return []
    out = []
    for i, s in enumerate(sums):
        dev = (s - median) / scale
        taken: list[int] = []
        for start in np.argsort(-np.abs(dev), kind="stable"):
            if abs(dev[start]) < z or len(taken) >= max_per_sequence:
                break
            if all(abs(int(start) - t) >= width for t in taken):
                taken.append(int(start))
                out.append(
                    Seqlet(
                        i,
                        int(start),
                        int(np.sign(dev[start])),
                        float(s[start]),
                        sequences[i][start : start + width],
                    )
                )
    return out


def _codes(seqlets: list[Seqlet]) -> np.ndarray:
    """(n, width) base codes, N and other letters as -1 (never equal to anything, -1 included)."""
    return np.array([[_CODE.get(b, -1) for b in s.sequence.upper()] for s in seqlets], dtype=int)


def shift_similarity(codes: np.ndarray, max_shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise (sim, shift): sim[i, j] = max over d of matches(i[d + t], j[t]) / width; shift = best d."""
    n, width = codes.shape
    sim = np.zeros((n, n))
    best = np.zeros((n, n), dtype=int)
    for d in range(-min(max_shift, width - 1), min(max_shift, width - 1) + 1):
        a = codes[:, max(d, 0) : width + min(d, 0)]
        b = codes[:, max(-d, 0) : width - max(d, 0)]
        matches = ((a[:, None, :] == b[None, :, :]) & (a[:, None, :] >= 0)).sum(-1) / width
        better = matches > sim
        sim[better], best[better] = matches[better], d
    return sim, best


def cluster_seqlets(
    seqlets: list[Seqlet],
    *,
    max_shift: int = 3,
    min_similarity: float = 0.6,
    min_seqlets: int = 3,
    min_ic: float = 0.5,
    prefix: str = "motif",
) -> list[Motif]:
    """Motifs from seqlets of one width (module doc, steps 2-3), largest cluster first."""
    motifs = []
    for sign in (1, -1):
        group = [s for s in seqlets if s.sign == sign]
        if len(group) < max(min_seqlets, 2):
            continue
        codes = _codes(group)
        sim, shift = shift_similarity(codes, max_shift)  # symmetric: sim[i, j] at d is sim[j, i] at -d
        labels = AgglomerativeClustering(
            n_clusters=None,
            metric="precomputed",
            linkage="average",
            distance_threshold=1 - min_similarity,
        ).fit_predict(1 - sim)
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            if len(members) < min_seqlets:
                continue
            medoid = members[sim[np.ix_(members, members)].sum(1).argmax()]
            counts = _aligned_counts(codes[members], shift[medoid, members], max_shift, min_ic)
            if counts is not None:
                motifs.append((sign, counts, [group[m] for m in members]))
    motifs.sort(key=lambda m: (-len(m[2]), -m[0]))
    return [
        Motif(f"{prefix}_{k}{'' if sign > 0 else '_neg'}", sign, counts, members)
        for k, (sign, counts, members) in enumerate(motifs, start=1)
    ]


def _aligned_counts(
    codes: np.ndarray, shifts: np.ndarray, max_shift: int, min_ic: float
) -> np.ndarray | None:
    """Counts of the members placed at their best shift against the medoid, trimmed (module doc, step 3).

    Shift d (from shift_similarity(medoid, member)) means medoid[t + d] lines up with member[t].
    """
    n, width = codes.shape
    counts = np.zeros((width + 2 * max_shift, 4))
    for row, d in zip(codes, shifts, strict=True):
        cols = max_shift + d + np.arange(width)
        counts[cols[row >= 0], row[row >= 0]] += 1
    strong = np.flatnonzero((counts.sum(1) >= n / 2) & (_information(counts) >= min_ic))
    return counts[strong[0] : strong[-1] + 1] if strong.size else None


def _information(counts: np.ndarray) -> np.ndarray:
    """Information content (bits) per column of a count matrix, 0 for empty columns."""
    total = counts.sum(1, keepdims=True)
    p = np.divide(counts, total, out=np.zeros_like(counts, dtype=float), where=total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(p > 0, p * np.log2(p), 0.0), axis=1)
    return np.where(total[:, 0] > 0, 2.0 - entropy, 0.0)


def write_jaspar(path: str | Path, motifs: list[Motif]) -> None:
    """Count matrices in JASPAR format (Biopython's writer), one record per motif."""
    records = [
        jaspar.Motif(m.name, m.name, counts={b: m.counts[:, i].tolist() for i, b in enumerate(BASES)})
        for m in motifs
    ]
    with atomic_path(path) as tmp:
        Path(tmp).write_text(bio_motifs.write(records, "jaspar") if records else "")


def read_jaspar(path: str | Path) -> list[tuple[str, np.ndarray]]:
    """(ID and name, width x 4 counts) of every motif in a JASPAR-format file (Biopython's reader)."""
    try:
        with open(path) as fh:
            records = list(bio_motifs.parse(fh, "jaspar"))
        out = [
            (
                f"{r.matrix_id} {r.name}" if r.name != r.matrix_id else str(r.matrix_id),
                np.array([r.counts[b] for b in BASES], dtype=float).T,
            )
            for r in records
        ]
    except (OSError, ValueError, KeyError, IndexError) as err:
        raise GenolmError(
            f"{path}: expected a JASPAR-format motif file (>ID name, then A/C/G/T rows): {err}"
        ) from None
    if not out or any(c.shape[0] == 0 or (c < 0).any() for _, c in out):
        raise GenolmError(f"{path}: expected at least one JASPAR motif with non-negative counts")
    return out


def probabilities(counts: np.ndarray) -> np.ndarray:
    """Per-column base probabilities with a small pseudocount (so empty columns are uniform)."""
    c = counts + _PSEUDOCOUNT
    return c / c.sum(1, keepdims=True)


def best_alignment(query: np.ndarray, target: np.ndarray, min_overlap: int = 5) -> tuple[float, int, str]:
    """Best overlap-weighted Pearson correlation of two probability matrices over offsets and strands.

    Returns (score, offset, strand): query column t faces target column t + offset; strand "-" means the
    target's reverse complement. Offsets overlap at least min(min_overlap, both widths) columns.
    """
    need = min(min_overlap, len(query), len(target))
    best = (-np.inf, 0, "+")
    for strand, t in (("+", target), ("-", target[::-1, ::-1])):
        for offset in range(need - len(query), len(t) - need + 1):
            lo, hi = max(0, -offset), min(len(query), len(t) - offset)
            x, y = query[lo:hi].ravel(), t[lo + offset : hi + offset].ravel()
            x, y = x - x.mean(), y - y.mean()
            norm = np.sqrt((x @ x) * (y @ y))
            if norm == 0:
                continue
            r = float(x @ y / norm) * (hi - lo) / min(len(query), len(t))
            if r > best[0]:
                best = (r, offset, strand)
    return best


def match_motifs(
    motifs: list[Motif],
    database: list[tuple[str, np.ndarray]],
    *,
    n_shuffles: int = 100,
    min_overlap: int = 5,
    seed: int = 0,
) -> list[dict]:
    """Best database match per motif with a column-shuffle p-value (module doc, step 4)."""
    rng = np.random.default_rng(seed)
    db = [(name, probabilities(counts)) for name, counts in database]

    def best_over_db(query: np.ndarray) -> tuple[float, str, int, str]:
        scored = [(*best_alignment(query, t, min_overlap), name) for name, t in db]
        score, offset, strand, name = max(scored, key=lambda s: s[0])
        return score, name, offset, strand

    rows = []
    for m in motifs:
        query = probabilities(m.counts)
        score, name, offset, strand = best_over_db(query)
        null = np.array([best_over_db(query[rng.permutation(len(query))])[0] for _ in range(n_shuffles)])
        rows.append(
            {
                "best_match": name,
                "match_score": score,
                "match_offset": offset,
                "match_strand": strand,
                "p_value": (1 + int((null >= score - 1e-12).sum())) / (1 + n_shuffles),
            }
        )
    return rows
