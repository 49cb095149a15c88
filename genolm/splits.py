"""Leakage-free train/validation/test splits of a genome, by contig or by large blocks.

A split is a list of intervals (contig, start, end, split). Bases outside every interval (the
gaps between blocks) belong to no split, so a window, gene or variant assigned to one split can
never overlap or neighbour one in another: every later stage asks `assign()` and drops what
does not fall entirely inside one interval.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from genolm.atomic import atomic_path
from genolm.errors import GenolmError

SPLITS = ("train", "val", "test")


def make_splits(
    contig_lengths: Mapping[str, int],
    *,
    method: str = "auto",
    block_size: int = 100_000,
    gap: int = 1000,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 42,
) -> pd.DataFrame:
    """Assign whole contigs (`contigs`) or blocks with gaps between them (`blocks`) to splits.

    `auto` uses contigs when there are at least 10 of them, else blocks. Assignment is seeded
    and balanced by length: shuffled units are given to val and test until each reaches its
    fraction of the genome.
    """
    if not contig_lengths:
        raise GenolmError("splits: the genome has no contigs")
    if val_fraction + test_fraction >= 1:
        raise GenolmError(
            f"preprocess.split: val_fraction + test_fraction = {val_fraction + test_fraction:g}, expected < 1"
        )
    if method == "auto":
        method = "contigs" if len(contig_lengths) >= 10 else "blocks"
    if method == "contigs":
        units = [(c, 0, n) for c, n in contig_lengths.items()]
    elif method == "blocks":
        units = []
        for contig, length in contig_lengths.items():
            for start in range(0, length, block_size):
                end = min(start + block_size, length)
                inner_start, inner_end = (
                    start + (gap // 2 if start > 0 else 0),
                    end - (gap - gap // 2 if end < length else 0),
                )
                if inner_end > inner_start:
                    units.append((contig, inner_start, inner_end))
    else:
        raise GenolmError(f"preprocess.split.method: got {method!r}, expected auto, contigs or blocks")
    if len(units) < 3:
        raise GenolmError(
            f"preprocess.split: only {len(units)} {method} to split; need at least 3 "
            "(use method: blocks or a smaller block_size)"
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(units))
    total = sum(e - s for _, s, e in units)
    targets = {"test": test_fraction * total, "val": val_fraction * total}
    assigned: dict[int, str] = {}
    filled = {"test": 0, "val": 0}
    for i in order:
        assigned[i] = "train"
        for split in ("test", "val"):
            if filled[split] < targets[split]:
                assigned[i] = split
                filled[split] += units[i][2] - units[i][1]
                break
    rows = [(c, s, e, assigned[i]) for i, (c, s, e) in enumerate(units)]
    table = pd.DataFrame(rows, columns=["contig", "start", "end", "split"])
    missing = [s for s in SPLITS if not (table["split"] == s).any()]
    if missing:
        raise GenolmError(f"preprocess.split: split(s) {', '.join(missing)} would be empty; adjust fractions")
    return table


def write_splits(table: pd.DataFrame, path: str | Path) -> None:
    """Write the split intervals as TSV (0-based, half-open)."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False)


def read_splits(path: str | Path) -> pd.DataFrame:
    """Read a split table written by `write_splits`."""
    table = pd.read_csv(path, sep="\t", dtype={"contig": str})
    if list(table.columns) != ["contig", "start", "end", "split"]:
        raise GenolmError(f"{path}: expected columns contig, start, end, split")
    return table


class SplitIndex:
    """Interval lookup: which split holds [start, end) of a contig entirely, if any."""

    def __init__(self, table: pd.DataFrame) -> None:
        self._by_contig: dict[str, tuple[list[int], list[int], list[str]]] = {}
        for contig, rows in table.sort_values(["contig", "start"]).groupby("contig", sort=False):
            self._by_contig[str(contig)] = (list(rows["start"]), list(rows["end"]), list(rows["split"]))

    @property
    def contigs(self) -> list[str]:
        return list(self._by_contig)

    def assign(self, contig: str, start: int, end: int) -> str | None:
        """The split whose interval contains [start, end) entirely, or None (gap, boundary, unknown)."""
        if contig not in self._by_contig:
            return None
        starts, ends, splits = self._by_contig[contig]
        i = bisect.bisect_right(starts, start) - 1
        if i >= 0 and start >= starts[i] and end <= ends[i]:
            return splits[i]
        return None

    def intervals(self, contig: str) -> list[tuple[int, int, str]]:
        starts, ends, splits = self._by_contig.get(contig, ([], [], []))
        return list(zip(starts, ends, splits, strict=True))
