"""What variant and classifier interpretation share: the device they compute on, the base alphabet, the
grid of single-base substitutions an ISM map scores, its rows in a long table, and the rounded TSV they are
written as. Torch is imported only where the device is resolved (motifs.py reads BASES without it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from genolm.atomic import write_tsv

if TYPE_CHECKING:
    import torch

#: The bases an ISM map substitutes, in the order of its columns.
BASES = "ACGT"


def interpret_device(threads: int, gpus: int) -> torch.device:
    """The device an interpretation job computes on, with torch's CPU threads set to the job's.

    Args:
        threads: the job's CPU threads.
        gpus: GPUs the job holds (`interpret.gpus`); 0 computes on the CPU.

    Returns:
        The torch device.

    Raises:
        GenolmError: `gpus` > 0 and no GPU is visible (the error names `interpret.gpus`).
    """
    import torch

    from genolm.device import resolve_device

    device = resolve_device(gpus, "interpret.gpus")
    torch.set_num_threads(threads)
    return device


def snv_grid(seq: str, positions: Sequence[int], rows: int) -> tuple[np.ndarray, list[tuple[int, int, str]]]:
    """An empty ISM map and the substitutions that fill it.

    Args:
        seq: the sequence mutated.
        positions: the position in `seq` each map row stands for.
        rows: the map's rows (at least len(positions)).

    Returns:
        (map, snvs): a (rows, 4) map, 0 at each position's reference base and NaN elsewhere (also at
        positions outside `seq` or at non-ACGT bases, which get no substitutions), and the substitutions
        as (row, position, alt base), by position, then base.
    """
    out = np.full((rows, len(BASES)), np.nan)
    snvs = []
    for i, pos in enumerate(positions):
        if 0 <= pos < len(seq) and seq[pos] in BASES:
            out[i, BASES.index(seq[pos])] = 0.0
            snvs += [(i, pos, b) for b in BASES if b != seq[pos]]
    return out, snvs


def grid_rows(
    grid: np.ndarray, seq: str, positions: Sequence[int], coordinates: Sequence[int], key: tuple
) -> list[tuple]:
    """Long-table rows of an ISM map, for the TSV the map is written as.

    Args:
        grid: the (rows, 4) map.
        seq: the sequence it mutates.
        positions: each row's position in `seq`.
        coordinates: each row's coordinate as the table reports it (e.g. relative to the variant).
        key: the values the rows start with (e.g. gene id and class).

    Returns:
        (*key, coordinate, reference base, alt base, value) for every base of every row whose position
        lies inside `seq` (NaN values included).
    """
    return [
        (*key, int(coordinate), seq[pos], base, grid[i, j])
        for i, (pos, coordinate) in enumerate(zip(positions, coordinates, strict=True))
        if 0 <= pos < len(seq)
        for j, base in enumerate(BASES)
    ]


def write_rows(path: str | Path, rows: list, columns: list[str]) -> None:
    """Rows as a TSV, numbers rounded to 6 decimals, written atomically.

    Args:
        path: the TSV to write.
        rows: tuples in `columns` order, or dicts keyed by them.
        columns: the header (also the empty table's, when there are no rows).
    """
    write_tsv(path, pd.DataFrame(rows, columns=columns).round(6))
