"""Cut fixed-length windows from a genome inside split intervals and drop those with too many N."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from genolm.atomic import atomic_path, write_json
from genolm.errors import GenolmError
from genolm.io.fasta import N as N_CODE
from genolm.io.fasta import iter_fasta
from genolm.splits import SPLITS, SplitIndex, read_splits


def window_starts(start: int, end: int, window: int, stride: int) -> np.ndarray:
    """Starts of every full window inside [start, end)."""
    if end - start < window:
        return np.empty(0, dtype=np.int64)
    return np.arange(start, end - window + 1, stride, dtype=np.int64)


def cut_windows(codes: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """Gather windows as a (n, window) uint8 array without a Python loop."""
    if len(starts) == 0:
        return np.empty((0, window), dtype=np.uint8)
    return np.lib.stride_tricks.sliding_window_view(codes, window)[starts]


def preprocess_genome(
    genome: str | Path,
    splits: str | Path,
    out_dir: str | Path,
    summary_path: str | Path,
    *,
    window: int = 512,
    stride: int = 512,
    max_n_fraction: float = 0.1,
) -> dict:
    """Write `{split}.npy` (n, window) base-code arrays and a JSON summary of what was kept and why."""
    if stride < 1 or window < 1:
        raise GenolmError(f"preprocess: window ({window}) and stride ({stride}) must be positive")
    index = SplitIndex(read_splits(splits))
    kept: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    counts = {"bases_read": 0, "contigs": 0, "windows_total": 0, "dropped_n": 0, "n_bases": 0}
    longest = 0
    for name, codes in iter_fasta(genome):
        counts["contigs"] += 1
        counts["bases_read"] += len(codes)
        counts["n_bases"] += int(np.count_nonzero(codes == N_CODE))
        longest = max(longest, len(codes))
        for start, end, split in index.intervals(name):
            batch = cut_windows(codes, window_starts(start, end, window, stride), window)
            n_frac = (batch == N_CODE).mean(axis=1) if len(batch) else np.empty(0)
            good = n_frac <= max_n_fraction
            counts["windows_total"] += len(batch)
            counts["dropped_n"] += int((~good).sum())
            kept[split].append(batch[good])
    if longest < window:
        raise GenolmError(
            f"{genome}: window length {window} is larger than every contig (longest {longest} bp); "
            "lower preprocess.window"
        )
    out_dir = Path(out_dir)
    sizes = {}
    for split in SPLITS:
        arr = np.concatenate(kept[split]) if kept[split] else np.empty((0, window), dtype=np.uint8)
        if len(arr) == 0:
            raise GenolmError(f"{genome}: no {split} windows survive (N filter or split too small)")
        with atomic_path(out_dir / f"{split}.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, arr)
        sizes[split] = {"windows": int(len(arr)), "bases": int(arr.size)}
    summary = {
        **counts,
        "windows_kept": sum(v["windows"] for v in sizes.values()),
        "window": window,
        "stride": stride,
        "max_n_fraction": max_n_fraction,
        "splits": sizes,
    }
    write_json(summary_path, summary)
    return summary


def iter_window_strings(path: str | Path, limit: int | None = None) -> Iterable[str]:
    """Windows of a split as strings (for training subword tokenizers)."""
    from genolm.io.fasta import decode

    arr = np.load(path, mmap_mode="r")
    for row in arr[:limit]:
        yield decode(row)
