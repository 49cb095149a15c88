"""A pretraining corpus of many genomes: its entries, and each genome's split table and shard plan.

A corpus (`sources.corpus`) lists genome sources by name, inline or as a TSV sheet. Each genome is
downloaded, split and cut into window shards by its own jobs, exactly like the task genome
(`genolm.splits`, `genolm.windows`); `genolm.corpus_windows` then joins every genome's windows.
Per genome the split is one of:

- the task genome's own split table, when the entry has the task genome's source spec: no test
  region of the task genome ever reaches pretraining (an entry with the same file under another spec
  is refused when the corpus is joined, by SHA-256);
- the whole genome in one split, when it is held out (`val_genomes` / `test_genomes`) or, for train,
  when it is a plain FASTA of sequences (`sequences: true`, e.g. a benchmark's training sequences);
- blocks or contigs within the genome as for one genome (`preprocess.split`), where a split that has
  a genome list gets no region of the other genomes.

Contig names are local to a genome in its own tables; tables over the whole corpus write them as
`<genome>:<contig>` (genome names cannot hold a colon), so no two genomes' contigs collide.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from genolm.atomic import atomic_path, write_json
from genolm.errors import GenolmError
from genolm.names import SPLITS
from genolm.splits import check_soft_mask, make_splits, read_splits, window_counts, write_codes, write_splits
from genolm.windows import plan_folder_shards, shard_ids

SAMPLING = ("proportional", "balanced")
GENOME_NAME = r"[A-Za-z0-9][A-Za-z0-9_-]*"  # no dot: `<name>.provenance.json` sits beside `<name>`
ENTRY_KEYS = ("name", "source", "sequences")
# Sheet columns that map one to one onto source spec keys; ensembl_* build the nested ensembl spec.
SHEET_SPEC_COLUMNS = ("path", "url", "ncbi", "assembly_name", "file", "md5", "sha256")
SHEET_ENSEMBL_COLUMNS = ("ensembl_species", "ensembl_release", "ensembl_assembly")


def read_sheet(path: str | Path) -> pd.DataFrame:
    """A corpus sheet as text cells (empty cells missing), for the columns schema to validate.

    Args:
        path: the `sources.corpus.sheet` TSV (lines starting with # are comments).

    Returns:
        One row per genome, every cell a string or missing.

    Raises:
        GenolmError: the sheet cannot be read or has no rows.
    """
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, comment="#")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise GenolmError(f"sources.corpus.sheet {path}: cannot read a TSV sheet ({err})") from err
    if table.empty:
        raise GenolmError(
            f"sources.corpus.sheet {path}: no genomes (expected a header and one row per genome)"
        )
    return table


def sheet_entries(table: pd.DataFrame) -> list[dict]:
    """Corpus entries ({name, source, sequences}) from a validated sheet, in sheet order.

    Args:
        table: a sheet as `read_sheet` returns it, already checked against the columns schema.

    Returns:
        Per row: its name, the source spec (its `SHEET_SPEC_COLUMNS`, and an `ensembl` mapping from the
        three ensembl_* columns) and whether `sequences` is "true".
    """
    entries = []
    for row in table.to_dict("records"):
        cells = {k: v.strip() for k, v in row.items() if isinstance(v, str) and v.strip()}
        source = {k: cells[k] for k in SHEET_SPEC_COLUMNS if k in cells}
        if "ensembl_species" in cells:
            source["ensembl"] = {
                "species": cells["ensembl_species"],
                "release": int(cells["ensembl_release"]),
                "assembly": cells["ensembl_assembly"],
            }
        entries.append(
            {"name": cells["name"], "source": source, "sequences": cells.get("sequences", "false") == "true"}
        )
    return entries


def load_corpus(
    given: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
    *,
    task_source: Mapping[str, Any],
    val_genomes: Sequence[str] = (),
    test_genomes: Sequence[str] = (),
    validate_sheet: Callable[[pd.DataFrame], object],
) -> dict[str, dict]:
    """`sources.corpus` as checked entries by name (see `check_corpus`); {} without a corpus.

    Args:
        given: the inline list, or {sheet: path}.
        task_source, val_genomes, test_genomes: see `check_corpus`.
        validate_sheet: validates a sheet against its columns schema (the workflow passes Snakemake's
            `validate`, which this package never imports) and raises on a bad row.

    Raises:
        GenolmError: an unreadable sheet or a bad corpus (`check_corpus`).
    """
    if given is None:
        return {}
    if isinstance(given, Mapping):
        table = read_sheet(given["sheet"])
        validate_sheet(table)
        entries = sheet_entries(table)
    else:
        entries = list(given)
    return check_corpus(entries, task_source=task_source, val_genomes=val_genomes, test_genomes=test_genomes)


def check_corpus(
    entries: Sequence[Mapping[str, Any]],
    *,
    task_source: Mapping[str, Any],
    val_genomes: Sequence[str] = (),
    test_genomes: Sequence[str] = (),
) -> dict[str, dict]:
    """Name -> entry, with `held_out` (val/test/None) and `task_alias` (the same spec as sources.genome).

    Args:
        entries: the corpus entries, inline or from `sheet_entries`.
        task_source: `sources.genome`; an entry with the same spec is the task genome.
        val_genomes: names whose whole genome forms (with the others listed) the val split.
        test_genomes: the same for test.

    Returns:
        The entries by name, in corpus order.

    Raises:
        GenolmError: a duplicate name, a held-out name not in the corpus or in both lists, or the task
            genome held out for validation (its test regions must stay test).
    """
    corpus: dict[str, dict] = {}
    for entry in entries:
        name = entry["name"]
        if name in corpus:
            raise GenolmError(f"sources.corpus: genome name {name!r} appears twice; names must be unique")
        corpus[name] = {
            "name": name,
            "source": dict(entry["source"]),
            "sequences": bool(entry.get("sequences", False)),
            "task_alias": _spec_key(entry["source"]) == _spec_key(task_source),
            "held_out": None,
        }
    for split, names in (("val", val_genomes), ("test", test_genomes)):
        for name in names:
            if name not in corpus:
                raise GenolmError(
                    f"preprocess.corpus.{split}_genomes: {name!r} is not a genome of sources.corpus"
                )
            if corpus[name]["held_out"] not in (None, split):
                raise GenolmError(
                    f"preprocess.corpus: genome {name!r} is in both val_genomes and test_genomes"
                )
            if split == "val" and corpus[name]["task_alias"]:
                raise GenolmError(
                    f"preprocess.corpus.val_genomes: {name!r} is the task genome (sources.genome), whose "
                    "test regions must stay test; hold it out in test_genomes or not at all"
                )
            corpus[name]["held_out"] = split
    return corpus


def _spec_key(spec: Mapping[str, Any]) -> dict:
    """A source spec without its checksums: two specs naming the same file compare equal."""
    return {k: v for k, v in spec.items() if k not in ("md5", "sha256")}


def encode_genome(
    genome: str | Path, contigs_out: str | Path, codes_out: str | Path, *, soft_mask: str
) -> pd.DataFrame:
    """One FASTA pass: the genome as one byte a base (`codes_out`) and its contig table, as `split_genome`
    writes them for the task genome.

    Returns:
        The contig table (contig, length, offset, n_bases), in file order.
    """
    check_soft_mask(soft_mask)
    with atomic_path(codes_out) as tmp, open(tmp, "wb") as fh:
        contigs = write_codes(genome, fh, soft_mask=soft_mask)
        with atomic_path(contigs_out) as tmp_contigs:
            contigs.to_csv(tmp_contigs, sep="\t", index=False)
    return contigs


def genome_split_table(
    lengths: Mapping[str, int],
    *,
    held_out: str | None,
    sequences: bool,
    listed: Sequence[str],
    seed: int,
    split: Mapping[str, Any] | None,
) -> pd.DataFrame:
    """The split table of a corpus genome that is not the task genome (see the module docstring).

    Args:
        lengths: contig -> length.
        held_out: the split the whole genome belongs to, or None.
        sequences: a FASTA of sequences: whole records, in train unless held out.
        listed: the splits that have a genome list (their regions come only from listed genomes).
        seed: seed of the within-genome split.
        split: `preprocess.split`.
    """
    whole = held_out or ("train" if sequences or set(listed) >= {"val", "test"} else None)
    if whole:
        return pd.DataFrame(
            [(c, 0, n, whole) for c, n in lengths.items()], columns=["contig", "start", "end", "split"]
        )
    table = make_splits(lengths, seed=seed, **(split or {}))
    table.loc[table["split"].isin(listed), "split"] = "train"
    return table


def plan_genome(
    genome: str | Path,
    provenance: str | Path,
    out_dir: str | Path,
    *,
    name: str,
    held_out: str | None,
    sequences: bool,
    listed: Sequence[str],
    window: int,
    stride: int,
    shard_size: int,
    task_splits: str | Path | None = None,
    soft_mask: str = "uppercase",
    seed: int = 42,
    split: Mapping[str, Any] | None = None,
) -> dict:
    """The corpus_plan stage for one genome: codes, contig and split tables, shard plan, genome.json.

    Args:
        genome: the genome FASTA (downloaded).
        provenance: its provenance record (its SHA-256 goes to genome.json, where the corpus join checks
            that no other entry is the task genome in disguise).
        out_dir: gets splits.tsv, contigs.tsv, genome.u8, shards.tsv and genome.json.
        name: the genome's corpus name.
        held_out, sequences, listed, seed, split: see `genome_split_table`.
        window, stride, shard_size, soft_mask: `preprocess` settings.
        task_splits: the task genome's split table, given when this entry is the task genome: used whole
            (all test when the genome is held out for test).

    Returns:
        The genome.json record (name, sha256, flags, contigs, bases, shards, bases per split).

    Raises:
        GenolmError: no contig holds a full window, or no interval of the genome does.
    """
    out = Path(out_dir)
    contigs = encode_genome(genome, out / "contigs.tsv", out / "genome.u8", soft_mask=soft_mask)
    lengths = dict(zip(contigs["contig"], contigs["length"].tolist(), strict=True))
    if max(lengths.values()) < window:
        raise GenolmError(
            f"{genome}: corpus genome {name!r}: preprocess.window {window} is longer than every contig "
            f"(longest {max(lengths.values())} bp)"
        )
    if task_splits is not None:
        table = read_splits(task_splits)
        if held_out == "test":
            table = table.assign(split="test")
    else:
        table = genome_split_table(
            lengths, held_out=held_out, sequences=sequences, listed=listed, seed=seed, split=split
        )
    if not any(window_counts(table, window, stride).values()):
        raise GenolmError(
            f"{genome}: corpus genome {name!r}: no split interval holds a full {window} bp window"
        )
    write_splits(table, out / "splits.tsv")
    plan_folder_shards(out, window=window, stride=stride, shard_size=shard_size)
    record = {
        "name": name,
        "sha256": sha256_of(provenance),
        "task_genome": task_splits is not None,
        "held_out": held_out,
        "sequences": sequences,
        "contigs": len(lengths),
        "bases_read": int(contigs["length"].sum()),
        "n_bases": int(contigs["n_bases"].sum()),
        "shards": len(shard_ids(out / "shards.tsv")),
        "bases": {s: int((table["end"] - table["start"])[table["split"] == s].sum()) for s in SPLITS},
    }
    write_json(out / "genome.json", record)
    return record


def list_shards(plans: Mapping[str, str | Path], out: str | Path) -> pd.DataFrame:
    """The corpus_shards stage: every (genome, shard) window job of the corpus, from each genome's plan.

    One table for the whole corpus, so the workflow needs one checkpoint, not one per genome (each
    finished checkpoint makes Snakemake re-plan the whole DAG).

    Args:
        plans: genome name -> its shards.tsv, in corpus order.
        out: TSV with columns genome, shard.
    """
    table = pd.DataFrame(
        [(name, shard) for name, plan in plans.items() for shard in shard_ids(plan)],
        columns=["genome", "shard"],
    )
    with atomic_path(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    return table


def shard_jobs(path: str | Path) -> list[tuple[str, int]]:
    """The (genome, shard) pairs of a `list_shards` table, in corpus order.

    Args:
        path: the table `list_shards` wrote.

    Returns:
        One (genome name, shard number) per corpus windows job.
    """
    table = pd.read_csv(path, sep="\t", dtype={"genome": str})
    return list(zip(table["genome"], table["shard"].tolist(), strict=True))


def sha256_of(provenance: str | Path) -> str:
    """The SHA-256 a provenance record gives its file.

    Args:
        provenance: a `<source>.provenance.json` written by the download stage.

    Returns:
        Its `sha256`, hex.

    Raises:
        GenolmError: the record has none.
    """
    record = json.loads(Path(provenance).read_text())
    if not record.get("sha256"):
        raise GenolmError(f"{provenance}: provenance record without sha256")
    return record["sha256"]


def corpus_provenance(records: Mapping[str, str | Path], out: str | Path) -> dict:
    """One provenance record for the whole corpus: genome count, total size and each genome's record.

    Args:
        records: genome name -> its provenance file, in corpus order.
        out: where to write the combined record.
    """
    genomes = {name: json.loads(Path(path).read_text()) for name, path in records.items()}
    combined = {
        "source": f"corpus of {len(genomes)} genome(s)",
        "size": sum(int(r.get("size", 0)) for r in genomes.values()),
        "genomes": genomes,
    }
    write_json(out, combined)
    return combined
