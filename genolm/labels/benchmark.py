"""Gene-function tasks from a community benchmark's train/dev/test CSVs (GUE, Genomic Benchmarks)."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pandas as pd

from genolm.errors import GenolmError
from genolm.io.tables import read_user_table
from genolm.labels.summary import finish_gene_table

LOG = logging.getLogger(__name__)

#: A community benchmark file's split -> the workflow's split (GUE calls its validation file "dev").
CSV_SPLITS = {"train": "train", "dev": "val", "test": "test"}
_DNA = frozenset("ACGTN")


def read_benchmark_csv(path: str | Path, split: str) -> pd.DataFrame:
    """One GUE / Genomic Benchmarks style CSV (columns sequence, label) as gene-table rows of `split`.

    Rows have no genome coordinates (contig "-", start/end -1, strand "."); the id is `<file>:<row>`
    with rows counted from 1 after the header, which is also how errors name them.
    """
    frame = read_user_table(path, ("sequence", "label"), sep=",", dtype=str, keep_default_na=False)
    if frame.empty:
        raise GenolmError(f"{path}: no rows")
    seqs = frame["sequence"].str.strip().str.upper()
    for row, (seq, label) in enumerate(zip(seqs, frame["label"].str.strip(), strict=True), start=1):
        bad = set(seq) - _DNA
        if bad or not seq:
            what = f"non-DNA character {sorted(bad)[0]!r}" if bad else "an empty sequence"
            raise GenolmError(f"{path}: row {row} has {what}; expected A, C, G, T or N")
        if not label:
            raise GenolmError(f"{path}: row {row} has an empty label")
    return pd.DataFrame(
        {
            "id": [f"{Path(path).name}:{row}" for row in range(1, len(frame) + 1)],
            "contig": "-",
            "start": -1,
            "end": -1,
            "strand": ".",
            "label": frame["label"].str.strip(),
            "split": split,
            "sequence": seqs,
        }
    )


def build_csv_gene_table(
    train: str | Path,
    dev: str | Path,
    test: str | Path,
    out_tsv: str | Path,
    summary_json: str | Path,
    *,
    type: str = "multiclass",  # noqa: A002 - the config key's name
    min_class_size: int = 5,
) -> pd.DataFrame:
    """A gene-function task from a community benchmark's train/dev/test CSVs, in the gene-table contract.

    The benchmark's own split is kept (dev becomes val), so every method trains, selects and tests on
    exactly the rows the benchmark intends; no genome or annotation is needed.
    """
    paths = {"train": train, "dev": dev, "test": test}
    if len({Path(p).name for p in paths.values()}) < len(paths):
        raise GenolmError(
            f"gene_function task csv: train, dev and test need distinct file names, got {paths}"
        )
    table = pd.concat([read_benchmark_csv(p, CSV_SPLITS[s]) for s, p in paths.items()], ignore_index=True)
    dropped: Counter[str] = Counter()
    what = f"{train} (csv task)"
    table = finish_gene_table(table, dropped, what, type, min_class_size, out_tsv, summary_json)
    LOG.info("%s, %s, %s: %d labelled sequences; dropped %s", train, dev, test, len(table), dict(dropped))
    return table
