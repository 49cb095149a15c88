"""Turn annotations and variant files into labelled gene and variant tables with their split.

Each row carries its coordinates, its split (from the genome split, so a gene or variant in the
test blocks of pretraining never trains a classifier) and its sequence, so later stages never
re-read the genome.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pandas as pd

from genolm.atomic import atomic_path, write_json
from genolm.consequence import ConsequenceIndex
from genolm.errors import GenolmError
from genolm.go_slim import slim_mapper
from genolm.io.annotation import Gene, gene_sequence, read_genes
from genolm.io.contigs import reconcile_contigs
from genolm.io.fasta import decode, read_genome
from genolm.io.vcf import read_variants_counted
from genolm.splits import SPLITS, SplitIndex, read_splits

LOG = logging.getLogger(__name__)

#: ClinVar review status -> gold stars, as ClinVar displays them (CLNREVSTAT, commas removed, lower case).
REVIEW_STARS = {
    "practice_guideline": 4,
    "reviewed_by_expert_panel": 3,
    "criteria_provided_multiple_submitters_no_conflicts": 2,
    "criteria_provided_single_submitter": 1,
    "criteria_provided_conflicting_interpretations": 1,
    "criteria_provided_conflicting_classifications": 1,
    "no_assertion_criteria_provided": 0,
    "no_assertion_provided": 0,
    "no_interpretation_for_the_single_variant": 0,
    "no_classification_provided": 0,
    "no_classification_for_the_single_variant": 0,
}
PATHOGENIC = {"pathogenic", "likely_pathogenic", "pathogenic/likely_pathogenic"}
BENIGN = {"benign", "likely_benign", "benign/likely_benign"}


def gene_label(gene: Gene, spec: str, table: dict[str, str] | None = None) -> str | None:
    """The label of `gene` under `spec`, or None when the gene has none (it is then left out)."""
    if spec == "table":
        return (table or {}).get(gene.id) or (table or {}).get(gene.name) or None
    if spec == "ec_class":
        classes = {ec.split(".")[0] for ec in gene.ec_numbers if ec.split(".")[0].isdigit()}
        return f"EC{classes.pop()}" if len(classes) == 1 else None
    if spec == "enzyme":
        return ("enzyme" if gene.ec_numbers else "non_enzyme") if gene.cds else None
    if spec == "biotype":
        return gene.biotype or None
    if spec.startswith("attribute:"):
        return gene.attributes.get(spec.split(":", 1)[1]) or None
    if spec == "go":
        raise GenolmError("gene_function task label go: needs type multilabel (a gene has many GO terms)")
    raise GenolmError(
        f"gene_function task label: got {spec!r}, "
        "expected ec_class, enzyme, biotype, go, table or attribute:<name>"
    )


def gene_labels(gene: Gene, spec: str, table: dict[str, tuple[str, ...]] | None = None) -> set[str]:
    """Every label of `gene` under `spec` for a multilabel task; empty when it has none.

    go: its GO terms (wherever the annotation keeps them); ec_class: the top-level class of each EC
    number; attribute:<name>: the attribute's comma-separated values; table: the user's labels.
    """
    if spec == "go":
        return set(gene.go_terms)
    if spec == "ec_class":
        return {f"EC{ec.split('.')[0]}" for ec in gene.ec_numbers if ec.split(".")[0].isdigit()}
    if spec == "table":
        return set((table or {}).get(gene.id) or (table or {}).get(gene.name) or ())
    if spec.startswith("attribute:"):
        value = gene.attributes.get(spec.split(":", 1)[1], "")
        return {v.strip() for v in value.split(",") if v.strip()}
    single = gene_label(gene, spec)
    return {single} if single else set()


def _read_table(path: str | Path | None, genes: list[Gene]) -> pd.DataFrame:
    """A user's id/label TSV with unknown ids counted and logged, not silently used."""
    if path is None:
        raise GenolmError(
            "gene_function task: label 'table' needs label_table: <path to a TSV with id, label>"
        )
    try:
        table = pd.read_csv(path, sep="\t", dtype=str)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise GenolmError(f"{path}: not a readable TSV ({str(err).splitlines()[0]})") from err
    if not {"id", "label"} <= set(table.columns):
        raise GenolmError(f"{path}: expected columns id and label, got {', '.join(table.columns)}")
    table = table.dropna(subset=["id", "label"])
    known = {g.id for g in genes} | {g.name for g in genes if g.name}
    unknown = sorted(set(table["id"]) - known)
    if len(unknown) == table["id"].nunique():
        raise GenolmError(
            f"{path}: none of its ids ({', '.join(unknown[:3])}, ...) is a gene of the annotation"
        )
    if unknown:
        LOG.warning("%s: %d ids are not genes of the annotation, e.g. %s", path, len(unknown), unknown[:3])
    return table


def read_label_table(path: str | Path | None, genes: list[Gene]) -> dict[str, str]:
    """A user's gene -> label TSV (one row per gene)."""
    table = _read_table(path, genes)
    if table["id"].duplicated().any():
        raise GenolmError(f"{path}: id {table['id'][table['id'].duplicated()].iloc[0]!r} appears twice")
    return dict(zip(table["id"], table["label"], strict=True))


def read_multilabel_table(path: str | Path | None, genes: list[Gene]) -> dict[str, tuple[str, ...]]:
    """A user's gene -> labels TSV: labels joined by ';' and/or one row per gene-label pair."""
    table = _read_table(path, genes)
    labels: dict[str, set[str]] = {}
    for gene_id, value in zip(table["id"], table["label"], strict=True):
        labels.setdefault(gene_id, set()).update(v.strip() for v in value.split(";") if v.strip())
    return {gene_id: tuple(sorted(values)) for gene_id, values in labels.items()}


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False)


def build_gene_table(
    annotation: str | Path,
    genome: str | Path,
    splits: str | Path,
    out_tsv: str | Path,
    summary_json: str | Path,
    *,
    label: str,
    type: str = "multiclass",  # noqa: A002 - the config key's name
    min_class_size: int = 5,
    flank: int = 0,
    label_table: str | Path | None = None,
    terms: list[str] | None = None,
    go_slim: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Labelled genes with split and coding-strand sequence; rare classes dropped and counted.

    With `label: table`, labels come from `label_table`, a user's TSV with columns `id` and
    `label` (ids are locus tags / gene ids or gene names of the annotation). With `type: multilabel`
    the `label` column holds each gene's labels, sorted and joined by ';'; `go_slim` ({obo, slim}
    paths) maps GO terms to slim terms first, then `terms` keeps only the labels it lists.
    """
    multilabel = type == "multilabel"
    if (terms or go_slim) and not multilabel:
        raise GenolmError(f"gene_function task {label}: terms and go_slim need type multilabel")
    if go_slim and label != "go":
        raise GenolmError(f"gene_function task {label}: go_slim needs label go")
    genes = read_genes(annotation)
    table_labels = None
    if label == "table":
        table_labels = (read_multilabel_table if multilabel else read_label_table)(label_table, genes)
    to_slim = slim_mapper(go_slim["obo"], go_slim["slim"]) if go_slim else None
    seqs = read_genome(genome)
    mapping = reconcile_contigs({g.contig for g in genes}, seqs, source=str(annotation))
    index = SplitIndex(read_splits(splits))
    dropped: Counter[str] = Counter()
    rows = []
    for gene in genes:
        if multilabel:
            found = gene_labels(gene, label, table_labels)
            found = set(to_slim(found)) if to_slim else found
            found = found & set(terms) if terms else found
            value = ";".join(sorted(found)) or None
        else:
            value = gene_label(gene, label, table_labels)
        if value is None:
            dropped["no_label"] += 1
            continue
        contig = mapping[gene.contig]
        lo = gene.start - (flank if gene.strand == "+" else 0)
        hi = gene.end + (flank if gene.strand == "-" else 0)
        split = index.assign(contig, max(lo, 0), hi)
        if split is None:
            dropped["outside_split_blocks"] += 1
            continue
        renamed = Gene(**{**gene.__dict__, "contig": contig})
        seq = decode(gene_sequence(seqs, renamed, cds_only=True, flank=flank))
        rows.append((gene.id, contig, gene.start, gene.end, gene.strand, value, split, seq))
    table = pd.DataFrame(
        rows, columns=["id", "contig", "start", "end", "strand", "label", "split", "sequence"]
    )
    what = f"{annotation} ({label})"
    if multilabel:
        table = finish_multilabel_table(table, dropped, what, min_class_size, out_tsv, summary_json)
    else:
        table = finish_gene_table(table, dropped, what, type, min_class_size, out_tsv, summary_json)
    LOG.info("%s: %d labelled genes; dropped %s", annotation, len(table), dict(dropped))
    return table


def finish_gene_table(
    table: pd.DataFrame,
    dropped: Counter,
    what: str,
    task_type: str,
    min_class_size: int,
    out_tsv: str | Path,
    summary_json: str | Path,
) -> pd.DataFrame:
    """Drop rare classes (counted), refuse untrainable tasks, and write the table and its summary."""
    if task_type == "multilabel":
        return finish_multilabel_table(table, dropped, what, min_class_size, out_tsv, summary_json)
    counts = table["label"].value_counts()
    rare = sorted(counts[counts < min_class_size].index)
    if rare:
        dropped["rare_class"] += int(table["label"].isin(rare).sum())
        LOG.warning("%s: dropped classes with < %d rows: %s", what, min_class_size, ", ".join(rare))
        table = table[~table["label"].isin(rare)]
    check_classes(table, what)
    if task_type == "binary" and table["label"].nunique() != 2:
        raise GenolmError(f"{what}: a binary task needs exactly 2 classes, got {table['label'].nunique()}")
    write_table(table, out_tsv)
    write_json(summary_json, class_summary(table, dropped))
    return table


def finish_multilabel_table(
    table: pd.DataFrame,
    dropped: Counter,
    what: str,
    min_class_size: int,
    out_tsv: str | Path,
    summary_json: str | Path,
) -> pd.DataFrame:
    """Multilabel: drop labels held by < min_class_size genes, then genes left with none; write both files.

    A label without positives in some split is only warned about (and listed in the summary): with
    many labels that is common, and the metrics skip such labels; an empty split is an error.
    """
    sets = table["label"].str.split(";")
    counts = Counter(label for labels in sets for label in labels)
    rare = {label: n for label, n in counts.items() if n < min_class_size}
    if rare:
        LOG.warning("%s: dropped %d labels held by < %d genes", what, len(rare), min_class_size)
        sets = sets.map(lambda labels: [label for label in labels if label not in rare])
        left = sets.map(bool)
        if (~left).any():
            dropped["only_rare_labels"] += int((~left).sum())
        table = table.assign(label=sets.map(";".join))[left]
        sets = sets[left]
    kept = len(counts) - len(rare)
    if kept < 2:
        raise GenolmError(f"{what}: {kept} label(s) held by >= {min_class_size} genes, expected at least 2")
    for split in SPLITS:
        if not (table["split"] == split).any():
            raise GenolmError(f"{what}: no labelled rows fall in the {split} split")
    summary = class_summary(table.assign(label=sets).explode("label"), dropped)
    summary["rows"] = int(len(table))
    summary["task_type"] = "multilabel"
    summary["labels_per_gene"] = round(float(sets.map(len).mean()), 4)
    summary["rare_labels"] = dict(sorted(rare.items()))
    missing = {
        split: sorted(set(summary["classes"]) - set(summary["per_split"].get(split, {}))) for split in SPLITS
    }
    summary["labels_missing_in_split"] = {split: labels for split, labels in missing.items() if labels}
    for split, labels in summary["labels_missing_in_split"].items():
        LOG.warning("%s: %d labels have no gene in the %s split: %s", what, len(labels), split, labels[:5])
    write_table(table, out_tsv)
    write_json(summary_json, summary)
    return table


def check_classes(table: pd.DataFrame, what: str) -> None:
    """Refuse a task that cannot be trained or evaluated: one class, or a split without rows."""
    if table["label"].nunique() < 2:
        raise GenolmError(
            f"{what}: {table['label'].nunique()} class(es) after filtering, expected at least 2"
        )
    for split in SPLITS:
        if not (table["split"] == split).any():
            raise GenolmError(f"{what}: no labelled rows fall in the {split} split")
    train_labels = set(table.loc[table["split"] == "train", "label"])
    unseen = set(table["label"]) - train_labels
    if unseen:
        raise GenolmError(
            f"{what}: class(es) {', '.join(map(str, sorted(unseen)))} absent from the train split"
        )


def class_summary(table: pd.DataFrame, dropped: Counter) -> dict:
    """Class counts per split plus counted reasons for dropped rows."""
    per_split = table.groupby(["split", "label"]).size()
    return {
        "rows": int(len(table)),
        "classes": {str(k): int(v) for k, v in table["label"].value_counts().sort_index().items()},
        "per_split": {s: {str(k): int(v) for k, v in per_split[s].items()} for s in SPLITS if s in per_split},
        "dropped": dict(sorted(dropped.items())),
    }


def clinvar_label(info: dict[str, str]) -> int | None:
    """1 for (likely) pathogenic, 0 for (likely) benign, None for uncertain/conflicting/other."""
    sig = info.get("CLNSIG", "").lower()
    if sig in PATHOGENIC:
        return 1
    if sig in BENIGN:
        return 0
    return None


def build_variant_table(
    variants: str | Path,
    genome: str | Path,
    splits: str | Path,
    out_tsv: str | Path,
    summary_json: str | Path,
    *,
    label: str = "clnsig",
    window: int = 128,
    strict_ref: bool = True,
    min_review_stars: int = 0,
    codon_table: int = 1,
    annotation: str | Path | None = None,
) -> pd.DataFrame:
    """Labelled SNVs with split, reference window and the variant's offset in it.

    With an `annotation`, `consequence` and `gene_fraction` come from the genes (see genolm.consequence,
    translated with NCBI codon table `codon_table`); otherwise from ClinVar's MC field (gene_fraction -1).
    """
    if label != "clnsig":
        raise GenolmError(f"disease_risk task label: got {label!r}, expected clnsig")
    records, skipped = read_variants_counted(variants)
    dropped: Counter[str] = Counter(skipped)
    seqs = read_genome(genome)
    if not records:
        raise GenolmError(f"{variants}: no variant records")
    mapping = reconcile_contigs({v.contig for v in records}, seqs, source=str(variants))
    index = SplitIndex(read_splits(splits))
    effects = _consequence_index(annotation, seqs, codon_table) if annotation else None
    rows = []
    for var in records:
        value = clinvar_label(var.info)
        if value is None:
            dropped["no_label"] += 1
            continue
        if review_stars(var.info.get("CLNREVSTAT", "")) < min_review_stars:
            dropped["below_min_review_stars"] += 1
            continue
        if len(var.ref) != 1 or len(var.alt) != 1:
            dropped["not_snv"] += 1
            continue
        contig = mapping[var.contig]
        codes = seqs[contig]
        centre = var.pos - 1
        genome_ref = decode(codes[centre : centre + 1])
        if genome_ref != var.ref.upper():
            if strict_ref:
                raise GenolmError(
                    f"{variants}: REF {var.ref} of {var.contig}:{var.pos} disagrees with the genome "
                    f"({genome_ref}); set strict_ref: false to drop such records"
                )
            dropped["ref_mismatch"] += 1
            continue
        start = centre - window // 2
        if start < 0 or start + window > len(codes):
            dropped["window_off_contig"] += 1
            continue
        split = index.assign(contig, start, start + window)
        if split is None:
            dropped["outside_split_blocks"] += 1
            continue
        rows.append(
            (
                var.id,
                contig,
                var.pos,
                var.ref.upper(),
                var.alt.upper(),
                value,
                var.info.get("CLNSIG", ""),
                var.info.get("CLNREVSTAT", ""),
                *_effect(effects, contig, centre, var),
                split,
                decode(codes[start : start + window]),
                centre - start,
            )
        )
    columns = [
        "id",
        "contig",
        "pos",
        "ref",
        "alt",
        "label",
        "clnsig",
        "review_status",
        "gene",
        "consequence",
        "gene_fraction",
        "split",
        "ref_window",
        "offset",
    ]
    table = pd.DataFrame(rows, columns=columns)
    if table.empty:
        raise GenolmError(f"{variants}: no usable labelled SNVs after filtering ({dict(dropped)})")
    check_classes(table, f"{variants} (clnsig)")
    write_table(table, out_tsv)
    named = table.assign(label=table["label"].map({0: "benign", 1: "pathogenic"}))
    write_json(summary_json, class_summary(named, dropped))
    LOG.info("%s: %d labelled variants; dropped %s", variants, len(table), dict(dropped))
    return table


def consequence(info: dict[str, str]) -> str:
    """Molecular consequence name from ClinVar's MC field ('SO:0001583|missense_variant'), else 'unknown'."""
    mc = info.get("MC", "")
    return mc.split(",")[0].split("|")[-1] if mc else "unknown"


def review_stars(status: str) -> int:
    """ClinVar gold stars of a CLNREVSTAT value; an unknown status counts as 0 stars."""
    return REVIEW_STARS.get(status.lower().replace(",", "").replace(" ", "_"), 0)


def _consequence_index(annotation: str | Path, seqs: dict, table: int) -> ConsequenceIndex:
    genes = read_genes(annotation)
    mapping = reconcile_contigs({g.contig for g in genes}, seqs, source=str(annotation))
    renamed = [Gene(**{**g.__dict__, "contig": mapping[g.contig]}) for g in genes]
    return ConsequenceIndex(renamed, {c: decode(seqs[c]) for c in set(mapping.values())}, table)


def _effect(effects: ConsequenceIndex | None, contig: str, centre: int, var) -> tuple[str, str, float]:
    """(gene, consequence, gene_fraction) from the annotation when given, else from the VCF INFO."""
    gene = var.info.get("GENEINFO", "")
    if effects is None:
        return gene, consequence(var.info), -1.0
    found = effects(contig, centre, var.alt.upper())
    return gene or found.gene, found.kind, found.gene_fraction


#: A community benchmark file's split -> the workflow's split (GUE calls its validation file "dev").
CSV_SPLITS = {"train": "train", "dev": "val", "test": "test"}
_DNA = frozenset("ACGTN")


def read_benchmark_csv(path: str | Path, split: str) -> pd.DataFrame:
    """One GUE / Genomic Benchmarks style CSV (columns sequence, label) as gene-table rows of `split`.

    Rows have no genome coordinates (contig "-", start/end -1, strand "."); the id is `<file>:<row>`
    with rows counted from 1 after the header, which is also how errors name them.
    """
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise GenolmError(f"{path}: not a readable CSV ({str(err).splitlines()[0]})") from err
    if not {"sequence", "label"} <= set(frame.columns):
        raise GenolmError(f"{path}: expected columns sequence and label, got {', '.join(frame.columns)}")
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
