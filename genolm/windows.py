"""Cut fixed-length windows inside the split intervals, in shards that run as parallel jobs.

Three steps, each a workflow rule: `plan_shards` groups the split intervals into shards of about
`shard_size` bases (whole contigs packed together, huge intervals cut at window-start boundaries so no
window is lost or doubled); `window_shard` cuts and filters one shard's windows from the genome code file
that the splits stage wrote (random access, so no shard decompresses the FASTA); `gather_windows`
deduplicates across shards and streams them into the final `{split}.npy` files. Memory stays bounded:
a shard holds one chunk of windows at a time and the gather streams shard files into the `.npy` files
(genolm/window_rows.py).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genolm.atomic import atomic_path, write_json
from genolm.errors import GenolmError
from genolm.io.fasta import N as N_CODE
from genolm.splits import SOFT_MASKED, SPLITS, check_soft_mask, read_contigs, read_splits, split_genome
from genolm.window_rows import CHUNK_WINDOWS, kept_rows, window_hashes, write_split_arrays

LOG = logging.getLogger(__name__)
PLAN_COLUMNS = ["shard", "contig", "start", "end", "split"]
BASE_BITS = SOFT_MASKED - 1  # low bits of a genome code byte: the base code


@dataclass(frozen=True)
class WindowFilter:
    """How windows are cut and filtered: the preprocess keys of the same names, listed once for every
    stage that cuts, joins or records windows (`window_shard`, `gather_windows`, `gather_corpus`).
    """

    #: Bases per window.
    window: int
    #: Bases from one window's start to the next (equal to `window`: back to back).
    stride: int
    #: A window with a larger share of N bases is dropped.
    max_n_fraction: float = 0.1
    #: Lowercase bases: `uppercase` reads them as any base, `drop` drops windows with too many of them.
    soft_mask: str = "uppercase"
    #: With `soft_mask: drop`, the share of lowercase bases above which a window is dropped.
    max_soft_mask_fraction: float = 0.5
    #: Keep an exact duplicate window (same 64-bit hash) once, in test, else val, else train.
    dedup: bool = False

    def check(self) -> None:
        """Refuse settings no window can be cut with; called by the stage, so the error is its log line.

        Raises:
            GenolmError: a window or stride below 1, or an unknown soft_mask mode.
        """
        if self.stride < 1 or self.window < 1:
            raise GenolmError(
                f"preprocess: window ({self.window}) and stride ({self.stride}) must be positive"
            )
        check_soft_mask(self.soft_mask)


def window_starts(start: int, end: int, window: int, stride: int) -> np.ndarray:
    """Starts of every full window inside [start, end).

    Args:
        start, end: the interval, half-open.
        window, stride: window length and the step between starts.

    Returns:
        The int64 starts, none when the interval is shorter than a window.
    """
    if end - start < window:
        return np.empty(0, dtype=np.int64)
    return np.arange(start, end - window + 1, stride, dtype=np.int64)


def plan_shards(
    splits: pd.DataFrame, contig_order: Sequence[str], *, window: int, stride: int, shard_size: int
) -> pd.DataFrame:
    """Group the split intervals, in genome order, into shards of about `shard_size` bases of windows.

    An interval too big for the room left is cut between window starts: a piece covering starts
    j0..j1-1 spans [start + j0*stride, start + (j1-1)*stride + window), so the pieces' windows are
    exactly the interval's. Intervals without a full window are left out.

    Args:
        splits: the split table (contig, start, end, split).
        contig_order: the genome's contigs in file order, which the shards follow.
        window, stride: how windows are cut.
        shard_size: about how many bases of windows (windows x stride) a shard holds; at least one window.

    Returns:
        The plan, `PLAN_COLUMNS`: one row per interval piece, numbered shards from 0.

    Raises:
        GenolmError: `shard_size` below `window`, or a split contig missing from `contig_order`.
    """
    if shard_size < window:
        raise GenolmError(
            f"preprocess.shard_size ({shard_size}) must be at least preprocess.window ({window})"
        )
    order = {c: i for i, c in enumerate(contig_order)}
    unknown = sorted(set(splits["contig"]) - set(order))
    if unknown:
        raise GenolmError(f"splits: contig(s) {', '.join(unknown[:5])} are not in the genome's contig table")
    intervals = sorted(  # plain tuples: a few dozen rows, where pandas' per-call cost would dominate
        zip(splits["contig"], splits["start"].tolist(), splits["end"].tolist(), splits["split"], strict=True),
        key=lambda row: (order[row[0]], row[1]),
    )
    rows, shard, used = [], 0, 0
    for contig, start, end, split in intervals:
        count = (end - start - window) // stride + 1 if end - start >= window else 0
        done = 0
        while done < count:
            take = min(count - done, (shard_size - used) // stride)
            if take <= 0 and used:
                shard, used = shard + 1, 0
                continue
            take = max(take, 1)
            first = start + done * stride
            rows.append((shard, contig, first, first + (take - 1) * stride + window, split))
            used += take * stride
            done += take
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def write_shard_plan(
    splits: str | Path, contigs: str | Path, out: str | Path, *, window: int, stride: int, shard_size: int
) -> pd.DataFrame:
    """The shard_plan stage: plan from the split and contig tables, written as TSV.

    Args:
        splits: splits.tsv of the genome.
        contigs: its contigs.tsv, giving the contig order.
        out: the plan TSV to write (shards.tsv).
        window, stride, shard_size: `preprocess` settings (see `plan_shards`).

    Returns:
        The plan as written.

    Raises:
        GenolmError: as `plan_shards`.
    """
    plan = plan_shards(
        read_splits(splits),
        list(read_contigs(contigs)["contig"]),
        window=window,
        stride=stride,
        shard_size=shard_size,
    )
    with atomic_path(out) as tmp:
        plan.to_csv(tmp, sep="\t", index=False)
    LOG.info("%d windows regions in %d shards", len(plan), plan["shard"].nunique())
    return plan


def plan_folder_shards(folder: str | Path, *, window: int, stride: int, shard_size: int) -> pd.DataFrame:
    """The shard_plan stage inside one folder laid out as the workflow's preprocess/ folder.

    Args:
        folder: holds splits.tsv and contigs.tsv (a corpus genome's folder, or `preprocess_genome`'s) and
            gets shards.tsv.
        window, stride, shard_size: `preprocess` settings, as `write_shard_plan` takes them.

    Returns:
        The plan, as written to shards.tsv.
    """
    folder = Path(folder)
    return write_shard_plan(
        folder / "splits.tsv",
        folder / "contigs.tsv",
        folder / "shards.tsv",
        window=window,
        stride=stride,
        shard_size=shard_size,
    )


def shard_ids(plan: str | Path) -> list[int]:
    """The shard numbers of a written plan, in order.

    Args:
        plan: a shards.tsv written by `write_shard_plan`.

    Returns:
        Its distinct shard numbers, ascending: the windows_shard jobs to run.
    """
    return sorted(set(pd.read_csv(plan, sep="\t", usecols=["shard"])["shard"]))


def window_shard(
    codes: str | Path,
    contigs: str | Path,
    plan: str | Path,
    shard: int,
    out_dir: str | Path,
    *,
    filters: WindowFilter,
) -> dict:
    """The windows_shard stage: cut and filter one shard's windows into `out_dir`.

    Writes raw `{split}.u8` rows (n x window bytes, in plan order), `{split}.hash.npy` (64-bit BLAKE2b
    of each row, only with `filters.dedup`) and `stats.json` (windows cut, kept per split, dropped by
    reason).

    Args:
        codes: the genome's genome.u8 (base codes, soft-mask bit set on lowercase bases).
        contigs: its contigs.tsv (each contig's length and offset in `codes`).
        plan: shards.tsv.
        shard: the shard to cut.
        out_dir: the shard's directory, written atomically.
        filters: how windows are cut and which are dropped.

    Returns:
        The shard's stats, as written to stats.json.

    Raises:
        GenolmError: bad filter settings, a shard not in the plan, or a region past its contig's end.
    """
    filters.check()
    table = pd.read_csv(plan, sep="\t", dtype={"contig": str})
    rows = table[table["shard"] == shard]
    if rows.empty:
        raise GenolmError(f"{plan}: shard {shard} is not in the shard plan")
    table_contigs = read_contigs(contigs)
    lengths = dict(zip(table_contigs["contig"], table_contigs["length"], strict=True))
    offsets = dict(zip(table_contigs["contig"], table_contigs["offset"], strict=True))
    genome = np.memmap(codes, dtype=np.uint8, mode="r").view(np.ndarray)  # plain slicing, still mapped
    stats = {"windows_total": 0, "dropped": {"n": 0, "soft_mask": 0}, "kept": dict.fromkeys(SPLITS, 0)}
    hashes: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    drop = filters.soft_mask == "drop"
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        files = {s: open(tmp / f"{s}.u8", "wb") for s in SPLITS}  # noqa: SIM115 - closed below
        try:
            for contig, start, end, split in rows[["contig", "start", "end", "split"]].itertuples(
                index=False
            ):
                if end > lengths.get(contig, -1):
                    raise GenolmError(
                        f"{plan}: shard {shard} region {contig}:{start}-{end} is not in {contigs}"
                    )
                offset = int(offsets[contig])
                region = genome[offset + start : offset + end]
                for span, batch in _window_chunks(region, filters.window, filters.stride):
                    keep = _filter(span, len(batch), filters, stats)
                    kept = batch if keep.all() else batch[keep]
                    # a new array clears the soft-mask bit: `batch` views the read-only genome file
                    kept = kept & np.uint8(BASE_BITS) if drop else np.ascontiguousarray(kept)
                    files[split].write(memoryview(kept))
                    stats["kept"][split] += len(kept)
                    if filters.dedup:
                        hashes[split].append(window_hashes(kept))
        finally:
            for fh in files.values():
                fh.close()
        if filters.dedup:
            for split in SPLITS:
                np.save(tmp / f"{split}.hash.npy", np.concatenate([np.empty(0, np.uint64), *hashes[split]]))
        (tmp / "stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n")
    return stats


def _window_chunks(region: np.ndarray, window: int, stride: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(span, windows) per chunk of at most CHUNK_WINDOWS windows: the region bases they cover and an
    (n, window) zero-copy view of them."""
    count = len(window_starts(0, len(region), window, stride))
    for first in range(0, count, CHUNK_WINDOWS):
        n = min(CHUNK_WINDOWS, count - first)
        span = region[first * stride : (first + n - 1) * stride + window]
        if stride == window:  # back to back: a plain reshape, cheaper than as_strided
            yield span, span.reshape(n, window)
        else:
            yield span, np.lib.stride_tricks.as_strided(span, (n, window), (stride, 1), writeable=False)


def _filter(span: np.ndarray, n: int, filters: WindowFilter, stats: dict) -> np.ndarray:
    """Which of the `n` windows of `span` to keep; a dropped row counts once, under its first reason (N,
    then soft mask). A check is skipped when the span's largest code shows nothing to find (a max costs far
    less than a comparison array)."""
    window, stride, drop = filters.window, filters.stride, filters.soft_mask == "drop"
    stats["windows_total"] += n
    bad_n = np.zeros(n, dtype=bool)
    top = int(span.max()) if len(span) else 0
    if top == N_CODE or drop:
        codes = span & np.uint8(BASE_BITS) if drop else span
        bad_n = _window_counts(codes == N_CODE, n, window, stride) / window > filters.max_n_fraction
    bad = bad_n
    if drop and top >= SOFT_MASKED:
        soft = _window_counts(span >= SOFT_MASKED, n, window, stride)
        bad_soft = ~bad_n & (soft / window > filters.max_soft_mask_fraction)
        stats["dropped"]["soft_mask"] += int(bad_soft.sum())
        bad = bad_n | bad_soft
    stats["dropped"]["n"] += int(bad_n.sum())
    return ~bad


def _window_counts(flags: np.ndarray, n: int, window: int, stride: int) -> np.ndarray:
    """Flagged bases in each of the `n` windows starting every `stride` bases of `flags`.

    Differences of one running sum: one pass over the span however much windows overlap, and skipped
    when nothing is flagged (the usual case for N and soft mask).
    """
    if not flags.any():
        return np.zeros(n, dtype=np.int64)
    running = np.zeros(len(flags) + 1, dtype=np.int64)
    np.cumsum(flags, out=running[1:])
    starts = np.arange(n, dtype=np.int64) * stride
    return running[starts + window] - running[starts]


def gather_windows(
    shards: Sequence[str | Path],
    contigs: str | Path,
    out_dir: str | Path,
    summary_path: str | Path,
    *,
    filters: WindowFilter,
    reverse_complement: bool = False,
) -> dict:
    """The windows stage: join the shards, in plan order, into `{split}.npy` and write the summary.

    With `filters.dedup`, an exact duplicate window (same 64-bit hash) is kept once: in the first split of
    window_rows.DEDUP_PRIORITY (so evaluation windows never reappear in training) and there at its first
    position. With `reverse_complement`, every kept train window is followed by its reverse complement.
    Every split is checked non-empty before any file is written.

    Args:
        shards: the windows_shard directories, in plan order.
        contigs: contigs.tsv (bases read, contigs and N bases for the summary).
        out_dir: gets train.npy, val.npy and test.npy.
        summary_path: summary.json to write.
        filters: the settings the shards were cut with (recorded in the summary; `dedup` applies here).
        reverse_complement: add each kept train window's reverse complement.

    Returns:
        The summary as written.

    Raises:
        GenolmError: a split with no window left.
    """
    shards = [Path(s) for s in shards]
    stats = [json.loads((s / "stats.json").read_text()) for s in shards]
    kept = kept_rows(shards, stats, dedup=filters.dedup)
    counts = {s: sum(len(rows) for rows in kept[s]) for s in SPLITS}
    empty = [s for s in SPLITS if counts[s] == 0]
    if empty:
        raise GenolmError(
            f"{summary_path}: no {', '.join(empty)} windows survive the filters "
            "(preprocess.max_n_fraction / max_soft_mask_fraction / dedup) or the split is too small"
        )
    sizes = write_split_arrays(
        out_dir, shards, stats, kept, filters.window, reverse_complement=reverse_complement
    )
    table = read_contigs(contigs)
    dropped = {
        "n": sum(st["dropped"]["n"] for st in stats),
        "soft_mask": sum(st["dropped"]["soft_mask"] for st in stats),
        "duplicate": sum(st["kept"][s] for st in stats for s in SPLITS) - sum(counts.values()),
    }
    summary = {
        "bases_read": int(table["length"].sum()),
        "contigs": len(table),
        "n_bases": int(table["n_bases"].sum()),
        "windows_total": sum(st["windows_total"] for st in stats),
        "dropped_n": dropped["n"],
        "dropped": dropped,
        "reverse_complement_added": counts["train"] if reverse_complement else 0,
        "windows_kept": sum(v["windows"] for v in sizes.values()),
        **asdict(filters),
        "reverse_complement": reverse_complement,
        "shards": len(shards),
        "splits": sizes,
    }
    write_json(summary_path, summary)
    return summary


def preprocess_genome(
    genome: str | Path,
    work_dir: str | Path,
    *,
    window: int = 512,
    stride: int = 512,
    shard_size: int = 100_000_000,
    seed: int = 42,
    split: Mapping[str, Any] | None = None,
    reverse_complement: bool = False,
    **filters: Any,
) -> dict:
    """All preprocess stages in one process (benchmarks, tests), laid out as the workflow lays them out.

    `filters` are the other WindowFilter settings (max_n_fraction, soft_mask, max_soft_mask_fraction,
    dedup); shards are run one after another and removed at the end, like the workflow's temp() shards.

    Args:
        genome: the FASTA (plain or gzipped).
        work_dir: gets preprocess/ with the workflow's files (splits, contigs, codes, plan, windows,
            summary.json).
        window, stride, shard_size, seed, split, reverse_complement: the `preprocess` keys and the
            workflow seed.

    Returns:
        The windows stage's summary.

    Raises:
        GenolmError: as the stages it runs.
    """
    work = Path(work_dir) / "preprocess"
    settings = WindowFilter(window, stride, **filters)
    split_genome(
        genome,
        work / "splits.tsv",
        work / "contigs.tsv",
        work / "genome.u8",
        window=window,
        stride=stride,
        soft_mask=settings.soft_mask,
        seed=seed,
        split=split,
    )
    plan_folder_shards(work, window=window, stride=stride, shard_size=shard_size)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        shards = [Path(tmp) / f"{i:04d}" for i in shard_ids(work / "shards.tsv")]
        for shard in shards:
            window_shard(
                work / "genome.u8",
                work / "contigs.tsv",
                work / "shards.tsv",
                int(shard.name),
                shard,
                filters=settings,
            )
        return gather_windows(
            shards,
            work / "contigs.tsv",
            work / "windows",
            work / "summary.json",
            filters=settings,
            reverse_complement=reverse_complement,
        )
