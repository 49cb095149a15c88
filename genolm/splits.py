"""Leakage-free train/validation/test splits of a genome, by contig or by large blocks.

A split is a list of intervals (contig, start, end, split). Bases outside every interval (the
gaps between blocks) belong to no split, so a window, gene or variant assigned to one split can
never overlap or neighbour one in another: every later stage asks `assign()` and drops what
does not fall entirely inside one interval.
"""

from __future__ import annotations

import bisect
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from genolm.atomic import atomic_path
from genolm.errors import GenolmError
from genolm.io.contigs import reconcile_contigs
from genolm.io.fasta import N as N_CODE
from genolm.io.fasta import iter_fasta
from genolm.io.user_terms import in_user_terms
from genolm.names import SPLITS

SOFT_MASK_MODES = ("uppercase", "drop")
SOFT_MASKED = 8  # bit set on a base code in the genome code file when the FASTA had it in lowercase
CONTIG_COLUMNS = ["contig", "length", "offset", "n_bases"]
#: `auto` uses whole contigs only with at least this many (free) contigs.
AUTO_MIN_CONTIGS = 10
#: `auto` keeps each split within this fraction of its target share when the units allow.
AUTO_TOLERANCE = 0.25
#: `auto` calls a split fair when it holds between these multiples of its target share.
AUTO_FAIR_SHARE = (0.5, 1.5)
LOG = logging.getLogger(__name__)


def make_splits(
    contig_lengths: Mapping[str, int],
    *,
    method: str = "auto",
    block_size: int = 100_000,
    gap: int = 1000,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    val_contigs: Sequence[str] = (),
    test_contigs: Sequence[str] = (),
    seed: int = 42,
) -> pd.DataFrame:
    """Assign whole contigs (`contigs`) or blocks with gaps between them (`blocks`) to splits.

    Contigs named in `val_contigs`/`test_contigs` (any spelling `reconcile_contigs` matches) go whole to
    that split, whose fraction is then ignored. The rest is cut into units and assigned seeded by length:
    `contigs` and `blocks` give shuffled units to the splits without a contig list until each reaches its
    fraction of the genome. `auto` balances instead: it takes only units that keep each split within a
    quarter of its share, using whole contigs when at least 10 remain and they can give every split a fair
    share (half to 1.5 times its fraction), else blocks. Rows come out in genome order.
    """
    if not contig_lengths:
        raise GenolmError("splits: the genome has no contigs")
    if val_fraction + test_fraction >= 1:
        raise GenolmError(
            f"preprocess.split: val_fraction + test_fraction = {val_fraction + test_fraction:g}, expected < 1"
        )
    if method not in ("auto", "contigs", "blocks"):
        raise GenolmError(f"preprocess.split.method: got {method!r}, expected auto, contigs or blocks")
    fixed = _fixed_contigs(contig_lengths, {"val": val_contigs, "test": test_contigs})
    free = {c: n for c, n in contig_lengths.items() if c not in fixed}
    total = sum(contig_lengths.values())
    fractions = {"test": test_fraction, "val": val_fraction}
    targets = {s: fractions[s] * total for s in ("test", "val") if s not in fixed.values()}
    if method == "auto":
        units, assigned = _auto_assign(free, targets, total, block_size, gap, seed)
    else:
        units = _enough_units(free, method, block_size, gap, len(targets))
        assigned = _greedy(units, targets, seed)
    rows = [(c, 0, contig_lengths[c], s) for c, s in fixed.items()]
    rows += [(c, s, e, assigned[i]) for i, (c, s, e) in enumerate(units)]
    order = {c: i for i, c in enumerate(contig_lengths)}
    rows.sort(key=lambda row: (order[row[0]], row[1]))
    table = pd.DataFrame(rows, columns=["contig", "start", "end", "split"])
    missing = [s for s in SPLITS if not (table["split"] == s).any()]
    if missing:
        raise GenolmError(f"preprocess.split: split(s) {', '.join(missing)} would be empty; adjust fractions")
    return table


def _enough_units(
    free: Mapping[str, int], method: str, block_size: int, gap: int, n_targets: int
) -> list[tuple[str, int, int]]:
    """The units of `method`, refusing too few to give every split one."""
    units = [u for c, n in free.items() for u in _units(c, n, method, block_size, gap)]
    if len(units) < n_targets + 1:
        raise GenolmError(
            f"preprocess.split: only {len(units)} {method} to split; need at least "
            f"{n_targets + 1} (use method: blocks or a smaller block_size)"
        )
    return units


def _greedy(units: list[tuple[str, int, int]], targets: dict[str, float], seed: int) -> dict[int, str]:
    """Shuffled units to each split in turn until it reaches its target (the `contigs`/`blocks` rule)."""
    assigned: dict[int, str] = {}
    filled = dict.fromkeys(targets, 0)
    for i in np.random.default_rng(seed).permutation(len(units)):
        assigned[i] = "train"
        for split in targets:
            if filled[split] < targets[split]:
                assigned[i] = split
                filled[split] += units[i][2] - units[i][1]
                break
    return assigned


def _auto_assign(
    free: Mapping[str, int],
    targets: dict[str, float],
    total: int,
    block_size: int,
    gap: int,
    seed: int,
) -> tuple[list[tuple[str, int, int]], dict[int, str]]:
    """Balanced whole contigs when there are enough and they are fair to every split, else balanced blocks."""
    if len(free) >= AUTO_MIN_CONTIGS:
        units = [(c, 0, n) for c, n in free.items()]
        assigned = _balanced(units, targets, seed)
        unfair = _unfair(units, assigned, targets, total)
        if not unfair:
            return units, assigned
        LOG.info("preprocess.split auto: whole contigs give %s; using blocks instead", unfair)
    units = _enough_units(free, "blocks", block_size, gap, len(targets))
    assigned = _balanced(units, targets, seed)
    unfair = _unfair(units, assigned, targets, total)
    if unfair:
        LOG.warning(
            "preprocess.split auto: blocks of %d bp give %s; a smaller block_size balances better",
            block_size,
            unfair,
        )
    return units, assigned


def _balanced(units: list[tuple[str, int, int]], targets: dict[str, float], seed: int) -> dict[int, str]:
    """Seeded assignment keeping each split within AUTO_TOLERANCE of its target where the units allow.

    Shuffled units join a split only while they keep it under (1 + tolerance) x target; a split still
    short of (1 - tolerance) x target then takes the one unit that brings it closest. Train keeps at
    least one unit.
    """
    sizes = [end - start for _, start, end in units]
    order = [int(i) for i in np.random.default_rng(seed).permutation(len(units))]
    assigned = dict.fromkeys(range(len(units)), "train")
    in_train = len(units)
    for split, target in targets.items():
        filled = 0
        for i in order:
            if filled >= target * (1 - AUTO_TOLERANCE) or in_train == 1:
                break
            if assigned[i] == "train" and filled + sizes[i] <= target * (1 + AUTO_TOLERANCE):
                assigned[i], filled, in_train = split, filled + sizes[i], in_train - 1
        left = [i for i in order if assigned[i] == "train"]
        if filled < target * (1 - AUTO_TOLERANCE) and len(left) > 1:
            best = min(left, key=lambda i: abs(filled + sizes[i] - target))
            if not filled or abs(filled + sizes[best] - target) < target - filled:
                assigned[best], in_train = split, in_train - 1
    return assigned


def _unfair(
    units: list[tuple[str, int, int]], assigned: dict[int, str], targets: dict[str, float], total: int
) -> str:
    """'' when every split holds AUTO_FAIR_SHARE of its target share of the genome, else what is off."""
    held = dict.fromkeys(SPLITS, 0)
    for i, (_, start, end) in enumerate(units):
        held[assigned[i]] += end - start
    wanted = {**targets, "train": sum(e - s for _, s, e in units) - sum(targets.values())}
    low, high = AUTO_FAIR_SHARE
    off = [
        f"{split} {held[split] / total:.1%} of the genome for a target of {want / total:.1%}"
        for split, want in wanted.items()
        if want > 0 and not low * want <= held[split] <= high * want
    ]
    return "; ".join(off)


def _fixed_contigs(contig_lengths: Mapping[str, int], lists: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Contig -> split for the contigs named in the config lists; a contig in two lists is an error."""
    fixed: dict[str, str] = {}
    for split, names in lists.items():
        if not names:
            continue
        mapping = reconcile_contigs(names, contig_lengths, source=f"preprocess.split.{split}_contigs")
        for name in names:
            contig = mapping[name]
            if fixed.get(contig, split) != split:
                raise GenolmError(
                    f"preprocess.split: contig {contig!r} is in both {fixed[contig]}_contigs "
                    f"and {split}_contigs"
                )
            fixed[contig] = split
    return fixed


def _units(contig: str, length: int, method: str, block_size: int, gap: int) -> list[tuple[str, int, int]]:
    """A whole contig, or its blocks shrunk by half a gap on each inner side (so blocks are `gap` apart)."""
    if method == "contigs":
        return [(contig, 0, length)]
    units = []
    for start in range(0, length, block_size):
        end = min(start + block_size, length)
        inner_start = start + (gap // 2 if start > 0 else 0)
        inner_end = end - (gap - gap // 2 if end < length else 0)
        if inner_end > inner_start:
            units.append((contig, inner_start, inner_end))
    return units


def window_counts(table: pd.DataFrame, window: int, stride: int) -> dict[str, int]:
    """Full windows each split's intervals hold, before any filter."""
    length = table["end"] - table["start"]
    count = np.where(length >= window, (length - window) // stride + 1, 0)
    return {s: int(count[(table["split"] == s).to_numpy()].sum()) for s in SPLITS}


def split_genome(
    genome: str | Path,
    splits_out: str | Path,
    contigs_out: str | Path,
    codes_out: str | Path,
    *,
    window: int,
    stride: int,
    soft_mask: str = "uppercase",
    seed: int = 42,
    split: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """The splits stage: one FASTA pass writes the split table, the contig table and the genome codes.

    `codes_out` holds every contig's base codes back to back (one byte a base, soft-masked bases + 8 when
    `soft_mask` is "drop"), so the window shards read their regions by offset instead of decompressing the
    FASTA again. `contigs_out` lists contig, length, offset (into `codes_out`) and n_bases. Errors name
    the genome as `source` (what the user configured) when given.
    """
    with in_user_terms({genome: source or os.fspath(genome)}):
        check_soft_mask(soft_mask)
        with atomic_path(codes_out) as tmp, open(tmp, "wb") as fh:
            contigs = write_codes(genome, fh, soft_mask=soft_mask)
            table = _genome_splits(genome, contigs, window, stride, seed, split)
            write_splits(table, splits_out)
            with atomic_path(contigs_out) as tmp_contigs:
                contigs.to_csv(tmp_contigs, sep="\t", index=False)
    return table


def _genome_splits(
    genome: str | Path,
    contigs: pd.DataFrame,
    window: int,
    stride: int,
    seed: int,
    split: Mapping[str, Any] | None,
) -> pd.DataFrame:
    """The split table of the contigs, refused when a split holds no full window."""
    longest = int(contigs["length"].max())
    if longest < window:
        raise GenolmError(
            f"{genome}: preprocess.window {window} is longer than every contig (longest {longest} bp); "
            "lower preprocess.window"
        )
    table = make_splits(
        dict(zip(contigs["contig"], contigs["length"], strict=True)), seed=seed, **(split or {})
    )
    empty = [s for s, n in window_counts(table, window, stride).items() if n == 0]
    if empty:
        raise GenolmError(
            f"preprocess.split: the {', '.join(empty)} interval(s) hold no full {window} bp window; "
            "lower preprocess.window or raise block_size / the split fractions"
        )
    return table


def check_soft_mask(soft_mask: str) -> None:
    """Refuse a soft-mask mode the stages do not know, before any file is read.

    Raises:
        GenolmError: `soft_mask` is not one of SOFT_MASK_MODES (named as the config key).
    """
    if soft_mask not in SOFT_MASK_MODES:
        raise GenolmError(
            f"preprocess.soft_mask: got {soft_mask!r}, expected one of {', '.join(SOFT_MASK_MODES)}"
        )


def write_codes(genome: str | Path, out: BinaryIO, *, soft_mask: str) -> pd.DataFrame:
    """Write every contig's base codes to `out`, back to back, in one FASTA pass.

    Args:
        genome: the FASTA (plain or gzipped).
        out: the open genome code file (one byte a base).
        soft_mask: with "drop", a soft-masked (lowercase) base's code gets SOFT_MASKED added.

    Returns:
        The contig table (CONTIG_COLUMNS: contig, length, offset into `out`, n_bases), in file order.
    """
    rows, offset = [], 0
    for record in iter_fasta(genome, soft_mask=soft_mask == "drop"):
        name, codes = record[0], record[1]
        n_bases = int(np.count_nonzero(codes == N_CODE))
        if soft_mask == "drop":
            codes = codes | record[2].view(np.uint8) * np.uint8(SOFT_MASKED)
        out.write(memoryview(codes))
        rows.append((name, len(codes), offset, n_bases))
        offset += len(codes)
    return pd.DataFrame(rows, columns=CONTIG_COLUMNS)


def read_contigs(path: str | Path) -> pd.DataFrame:
    """Read the contig table written by `split_genome`."""
    table = pd.read_csv(path, sep="\t", dtype={"contig": str})
    if list(table.columns) != CONTIG_COLUMNS:
        raise GenolmError(f"{path}: expected columns {', '.join(CONTIG_COLUMNS)}")
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
