"""Join the window shards of every corpus genome into the pretraining `{split}.npy` files.

`gather_corpus` deduplicates across the whole corpus (as `gather_windows` does within one genome),
samples the train windows across genomes and streams every row once into the final files.

Sampling: `proportional` keeps every train window once, so a genome weighs by its size; `balanced`
gives every genome with train windows the same number of them (the mean per genome, so the train
set keeps its size): smaller genomes' windows repeat, larger ones are subsampled, seeded per genome.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from genolm.atomic import write_json
from genolm.corpus import SAMPLING, sha256_of
from genolm.errors import GenolmError
from genolm.names import SPLITS
from genolm.splits import read_splits, write_splits
from genolm.window_rows import kept_rows, write_split_arrays
from genolm.windows import WindowFilter


def balanced_rows(kept: Mapping[str, int], seed: int) -> dict[str, np.ndarray]:
    """Per genome, the sorted train row indices that give every genome the same count (see module doc).

    Args:
        kept: genome -> its train windows after the filters and dedup (genomes with none get none).
        seed: with the genome's position, seeds its draw.
    """
    with_train = [g for g, n in kept.items() if n]
    if not with_train:
        return {g: np.empty(0, np.int64) for g in kept}
    target = max(1, round(sum(kept.values()) / len(with_train)))
    rows = {}
    for i, (genome, n) in enumerate(kept.items()):
        if not n:
            rows[genome] = np.empty(0, np.int64)
            continue
        rng = np.random.default_rng([seed, i])
        full, rest = divmod(target, n)
        picks = np.concatenate([np.repeat(np.arange(n), full), rng.choice(n, rest, replace=False)])
        rows[genome] = np.sort(picks).astype(np.int64)
    return rows


def gather_corpus(
    genome_dirs: Sequence[str | Path],
    shards: Sequence[str | Path],
    out_dir: str | Path,
    summary_path: str | Path,
    splits_out: str | Path,
    task_provenance: str | Path,
    *,
    filters: WindowFilter,
    reverse_complement: bool = False,
    sampling: str = "proportional",
    seed: int = 42,
) -> dict:
    """The corpus windows stage: `{split}.npy` from every genome, the corpus split table and the summary.

    Args:
        genome_dirs: each genome's corpus_plan directory (genome.json, splits.tsv), in corpus order; rows
            follow this order.
        shards: every shard directory (`<genome dir>/shards/<k>`), in plan order within a genome.
        out_dir: gets train.npy, val.npy, test.npy.
        summary_path: the summary: the one-genome totals over the corpus plus a "genomes" object.
        splits_out: every genome's split table, contigs written `<genome>:<contig>`.
        task_provenance: the task genome's provenance record: an entry with its SHA-256 that was not
            planned as the task genome (another spec for the same file) is refused.
        filters: recorded in the summary; with `dedup`, exact duplicate windows are dropped across the
            whole corpus (test, then val, then train wins).
        reverse_complement: follow every train window by its reverse complement.
        sampling: proportional or balanced (module docstring).
        seed: seed of balanced sampling.

    Returns:
        The summary.

    Raises:
        GenolmError: an unknown sampling, the task genome under another spec, or a split with no window
            in the whole corpus.
    """
    if sampling not in SAMPLING:
        raise GenolmError(
            f"preprocess.corpus.sampling: got {sampling!r}, expected one of {', '.join(SAMPLING)}"
        )
    dirs = [Path(d) for d in genome_dirs]
    records = _genome_records(dirs, task_provenance)
    flat, groups = _by_genome(shards, records)
    stats = [json.loads((s / "stats.json").read_text()) for s in flat]
    kept = kept_rows(flat, stats, dedup=filters.dedup)  # split -> per flat shard: the kept row indices
    per_genome = {s: [sum(len(kept[s][i]) for i in group) for group in groups] for s in SPLITS}
    empty = [s for s in SPLITS if sum(per_genome[s]) == 0]
    if empty:
        raise GenolmError(
            f"{summary_path}: no {', '.join(empty)} windows in the whole corpus survive the filters "
            "(preprocess.max_n_fraction / max_soft_mask_fraction / dedup), or no genome has that split "
            "(preprocess.corpus.val_genomes / test_genomes)"
        )
    train_rows = _train_rows(kept["train"], groups, records, sampling, seed)
    rows = {**kept, "train": train_rows}
    sizes = write_split_arrays(
        out_dir, flat, stats, rows, filters.window, reverse_complement=reverse_complement
    )
    _write_corpus_splits(dirs, records, splits_out)
    summary = _summary(records, stats, groups, per_genome, train_rows, sizes, reverse_complement)
    summary.update(asdict(filters), reverse_complement=reverse_complement, sampling=sampling)
    write_json(summary_path, summary)
    return summary


def _genome_records(dirs: Sequence[Path], task_provenance: str | Path) -> list[dict]:
    """Each genome's genome.json; the task genome planned under another source spec is refused."""
    records = [json.loads((d / "genome.json").read_text()) for d in dirs]
    task_sha = sha256_of(task_provenance)
    for record in records:
        if record["sha256"] == task_sha and not record["task_genome"]:
            raise GenolmError(
                f"sources.corpus: genome {record['name']!r} is the task genome (same SHA-256 as "
                "sources.genome) under another source; give it the same source as sources.genome, so that "
                "its windows follow the task genome's splits"
            )
    return records


def _by_genome(shards: Sequence[str | Path], records: Sequence[dict]) -> tuple[list[Path], list[list[int]]]:
    """The shards in corpus order (plan order kept within a genome) and, per genome, its indices there."""
    position = {r["name"]: g for g, r in enumerate(records)}
    flat = sorted(map(Path, shards), key=lambda s: position[s.parent.parent.name])  # stable
    groups: list[list[int]] = [[] for _ in records]
    for i, shard in enumerate(flat):
        groups[position[shard.parent.parent.name]].append(i)
    return flat, groups


def _train_rows(
    kept: Sequence[np.ndarray], groups: Sequence[list[int]], records: Sequence[dict], sampling: str, seed: int
) -> list[np.ndarray]:
    """Per flat shard, the train row indices to write (repeats allowed) under `sampling`."""
    if sampling == "proportional":
        return list(kept)
    picks = balanced_rows(
        {r["name"]: sum(len(kept[i]) for i in groups[g]) for g, r in enumerate(records)}, seed
    )
    rows: list[np.ndarray] = [np.empty(0, np.int64)] * len(kept)
    for g, record in enumerate(records):
        local = picks[record["name"]]  # indices into the genome's kept rows, shard after shard
        first = 0
        for i in groups[g]:
            mine = local[(local >= first) & (local < first + len(kept[i]))] - first
            rows[i] = kept[i][mine]
            first += len(kept[i])
    return rows


def _write_corpus_splits(dirs: Sequence[Path], records: Sequence[dict], out: str | Path) -> None:
    tables = [
        read_splits(d / "splits.tsv").assign(contig=lambda t, name=r["name"]: name + ":" + t["contig"])
        for d, r in zip(dirs, records, strict=True)
    ]
    write_splits(pd.concat(tables, ignore_index=True), out)


def _summary(
    records: Sequence[dict],
    stats: Sequence[dict],
    groups: Sequence[list[int]],
    per_genome: Mapping[str, Sequence[int]],
    train_rows: Sequence[np.ndarray],
    sizes: Mapping[str, dict],
    reverse_complement: bool,
) -> dict:
    """The one-genome summary's totals over the corpus, plus per-genome counts under "genomes"."""
    genomes = {}
    for g, record in enumerate(records):
        mine = groups[g]
        cut = sum(stats[i]["kept"][s] for i in mine for s in SPLITS)
        written = {
            s: sum(len(train_rows[i]) for i in mine) * (2 if reverse_complement else 1)
            if s == "train"
            else per_genome[s][g]
            for s in SPLITS
        }
        genomes[record["name"]] = {
            "task_genome": record["task_genome"],
            "held_out": record["held_out"],
            "sequences": record["sequences"],
            "contigs": record["contigs"],
            "bases_read": record["bases_read"],
            "n_bases": record["n_bases"],
            "shards": record["shards"],
            "windows_total": sum(stats[i]["windows_total"] for i in mine),
            "dropped": {
                "n": sum(stats[i]["dropped"]["n"] for i in mine),
                "soft_mask": sum(stats[i]["dropped"]["soft_mask"] for i in mine),
                "duplicate": cut - sum(per_genome[s][g] for s in SPLITS),
            },
            "train_distinct": per_genome["train"][g],
            "splits": {s: {"windows": written[s], "bases_in_intervals": record["bases"][s]} for s in SPLITS},
        }
    dropped = {k: sum(v["dropped"][k] for v in genomes.values()) for k in ("n", "soft_mask", "duplicate")}
    return {
        "bases_read": sum(r["bases_read"] for r in records),
        "contigs": sum(r["contigs"] for r in records),
        "n_bases": sum(r["n_bases"] for r in records),
        "windows_total": sum(st["windows_total"] for st in stats),
        "dropped_n": dropped["n"],
        "dropped": dropped,
        "reverse_complement_added": sizes["train"]["windows"] // 2 if reverse_complement else 0,
        "windows_kept": sum(v["windows"] for v in sizes.values()),
        "shards": len(stats),
        "splits": dict(sizes),
        "genomes": genomes,
    }
