"""Window rows on disk: the shards' raw `{split}.u8` files, their hashes, and the final `{split}.npy`.

Every function streams: memory stays one chunk of CHUNK_WINDOWS rows however large the genome or corpus,
and rows that go over unchanged are copied file to file.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from genolm.atomic import atomic_path
from genolm.errors import GenolmError
from genolm.names import SPLITS
from genolm.sequence import reverse_complement_codes

CHUNK_WINDOWS = 1 << 15  # windows handled at once: bounds a shard's and the gather's working memory
DEDUP_PRIORITY = ("test", "val", "train")  # a window in several splits is kept in the first of these


def window_hashes(windows: np.ndarray) -> np.ndarray:
    """64-bit BLAKE2b of each row: equal rows give equal hashes; distinct rows collide with p ~ n^2 / 2^65."""
    data = memoryview(np.ascontiguousarray(windows)).cast("B")
    width = windows.shape[1]
    digests = b"".join(
        hashlib.blake2b(data[i : i + width], digest_size=8).digest() for i in range(0, len(data), width)
    )
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


def kept_rows(shards: Sequence[Path], stats: Sequence[dict], *, dedup: bool) -> dict[str, list[np.ndarray]]:
    """Per split, per shard: the indices of the rows that survive (every row, or `dedup_masks`' choice)."""
    keep = dedup_masks(shards, stats) if dedup else None
    return {
        s: [np.flatnonzero(keep[s][i]) if keep else np.arange(st["kept"][s]) for i, st in enumerate(stats)]
        for s in SPLITS
    }


def write_split_arrays(
    out_dir: str | Path,
    shards: Sequence[Path],
    stats: Sequence[dict],
    rows: Mapping[str, Sequence[np.ndarray]],
    window: int,
    *,
    reverse_complement: bool = False,
) -> dict[str, dict[str, int]]:
    """Write `{split}.npy` for every split from the shards' raw rows (see `write_rows`).

    Args:
        out_dir: gets train.npy, val.npy, test.npy.
        shards: shard directories (`{split}.u8` and `stats.json` each), in output order.
        stats: each shard's `stats.json`.
        rows: split -> per shard, the sorted row indices to write (repeats allowed).
        window: bases a row.
        reverse_complement: follow every train row by its reverse complement.

    Returns:
        split -> {"windows": rows written, "bases": their bases}.
    """
    sizes = {}
    for split in SPLITS:
        parts = [
            (
                shard / f"{split}.u8",
                st["kept"][split],
                None if _every_row(index, st["kept"][split]) else index,
            )
            for shard, st, index in zip(shards, stats, rows[split], strict=True)
        ]
        rc = reverse_complement and split == "train"
        n = write_rows(Path(out_dir) / f"{split}.npy", parts, window, reverse_complement=rc)
        sizes[split] = {"windows": n, "bases": n * window}
    return sizes


def _every_row(index: np.ndarray, rows: int) -> bool:
    """Whether `index` takes every row once, in order (so the shard file can be copied as it is)."""
    return len(index) == rows and np.array_equal(index, np.arange(rows))


def dedup_masks(shards: Sequence[Path], stats: Sequence[dict]) -> dict[str, list[np.ndarray]]:
    """Per split, per shard: which rows survive exact-duplicate removal (see `gather_windows`).

    Args:
        shards: shard directories (`{split}.hash.npy` each), in output order.
        stats: each shard's `stats.json`, giving its kept rows per split.

    Returns:
        split -> one boolean mask per shard over that shard's rows.

    Raises:
        GenolmError: a hash file disagrees with its shard's row count.
    """
    parts = [(s, i) for s in DEDUP_PRIORITY for i in range(len(shards))]
    hashes = [np.load(shards[i] / f"{s}.hash.npy") for s, i in parts]
    for (s, i), h in zip(parts, hashes, strict=True):
        if len(h) != stats[i]["kept"][s]:
            raise GenolmError(f"{shards[i]}: {s}.hash.npy has {len(h)} rows, expected {stats[i]['kept'][s]}")
    flat = np.concatenate([np.empty(0, np.uint64), *hashes])
    _, first = np.unique(flat, return_index=True)  # first index of each hash = highest-priority copy
    keep_flat = np.zeros(len(flat), dtype=bool)
    keep_flat[first] = True
    masks: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    at = 0
    for (s, _), h in zip(parts, hashes, strict=True):
        masks[s].append(keep_flat[at : at + len(h)])
        at += len(h)
    return masks


def write_rows(
    path: str | Path,
    parts: Sequence[tuple[Path, int, np.ndarray | None]],
    window: int,
    *,
    reverse_complement: bool = False,
) -> int:
    """Stream raw shard rows into one `.npy` file, in part order; memory stays one chunk of rows.

    Args:
        path: the `.npy` file to write (atomically).
        parts: (raw `.u8` file, rows it holds, sorted row indices to take or None for every row); an
            index may repeat a row (sampling with replacement).
        window: bases a row.
        reverse_complement: follow every row by its reverse complement.

    Returns:
        Rows written.

    Raises:
        GenolmError: a raw file's size disagrees with its row count.
    """
    taken = sum(rows if index is None else len(index) for _, rows, index in parts)
    total = taken * (2 if reverse_complement else 1)
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        header = {"descr": "|u1", "fortran_order": False, "shape": (total, window)}
        np.lib.format.write_array_header_1_0(out, header)
        for raw, rows, index in parts:
            if index is None and not reverse_complement:  # rows go over as they are: a plain file copy
                _append_file(raw, rows * window, out)
                continue
            for batch in _read_rows(raw, rows, window, index):
                out.write(memoryview(np.ascontiguousarray(batch)))
                if reverse_complement:
                    out.write(memoryview(np.ascontiguousarray(reverse_complement_codes(batch))))
    return total


def _append_file(path: Path, size: int, out: BinaryIO) -> None:
    """Append the `size`-byte file `path` to `out` (streamed, bounded memory)."""
    if path.stat().st_size != size:
        raise GenolmError(f"{path}: {path.stat().st_size} bytes, expected {size} from its stats.json")
    with open(path, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 22)


def _read_rows(path: Path, rows: int, window: int, index: np.ndarray | None) -> Iterator[np.ndarray]:
    """Stream a shard's raw rows in chunks, taking only the (sorted) `index` rows when given."""
    if rows == 0:
        return
    if path.stat().st_size != rows * window:
        raise GenolmError(
            f"{path}: {path.stat().st_size} bytes, expected {rows * window} from its stats.json"
        )
    data = np.memmap(path, dtype=np.uint8, mode="r", shape=(rows, window))
    bounds = (
        None if index is None else np.searchsorted(index, np.arange(0, rows + CHUNK_WINDOWS, CHUNK_WINDOWS))
    )
    for k, first in enumerate(range(0, rows, CHUNK_WINDOWS)):
        batch = np.asarray(data[first : first + CHUNK_WINDOWS])
        yield batch if bounds is None else batch[index[bounds[k] : bounds[k + 1]] - first]
