"""Gene-function labels: annotation genes -> labelled rows with split and coding-strand sequence."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from genolm.errors import GenolmError
from genolm.go_slim import slim_mapper
from genolm.io.annotation import Gene, gene_sequence, read_annotation
from genolm.io.contigs import reconcile_contigs
from genolm.io.fasta import decode, read_genome
from genolm.io.tables import read_user_table
from genolm.io.user_terms import in_user_terms, source_names
from genolm.labels.summary import contig_warnings, finish_gene_table
from genolm.splits import SplitIndex, read_splits

LOG = logging.getLogger(__name__)
GENE_TABLE_COLUMNS = ["id", "contig", "start", "end", "strand", "label", "split", "sequence"]


def gene_label(gene: Gene, spec: str, table: dict[str, str] | None = None) -> str | None:
    """The label of `gene` under `spec`, or None when the gene has none (it is then left out).

    Args:
        gene: an annotation gene.
        spec: the task's `label`: ec_class, enzyme, biotype, table or attribute:<name>.
        table: for `table`, the user's id or name -> label.

    Returns:
        The label, or None.

    Raises:
        GenolmError: `go` (a multilabel-only label) or an unknown `spec`.
    """
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

    Args:
        gene: an annotation gene.
        spec: the task's `label`. go: its GO terms (wherever the annotation keeps them); ec_class: the
            top-level class of each EC number; attribute:<name>: the attribute's comma-separated values;
            table: the user's labels; any other: the single label of `gene_label`, as a set.
        table: for `table`, the user's id or name -> labels.

    Returns:
        The labels (empty: the gene is left out).

    Raises:
        GenolmError: as `gene_label` for a `spec` it does not know.
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
    table = read_user_table(path, ("id", "label"), dtype=str).dropna(subset=["id", "label"])
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
    """A user's gene -> label TSV (one row per gene).

    Args:
        path: the task's `label_table` (columns id, label; id a locus tag, gene id or name).
        genes: the annotation's genes, which the ids are checked against.

    Returns:
        id -> label.

    Raises:
        GenolmError: no path, no id that is a gene, or an id given twice.
    """
    table = _read_table(path, genes)
    if table["id"].duplicated().any():
        raise GenolmError(f"{path}: id {table['id'][table['id'].duplicated()].iloc[0]!r} appears twice")
    return dict(zip(table["id"], table["label"], strict=True))


def read_multilabel_table(path: str | Path | None, genes: list[Gene]) -> dict[str, tuple[str, ...]]:
    """A user's gene -> labels TSV: labels joined by ';' and/or one row per gene-label pair.

    Args:
        path: the task's `label_table` (columns id, label).
        genes: the annotation's genes, which the ids are checked against.

    Returns:
        id -> its labels, sorted and without repeats.

    Raises:
        GenolmError: no path, or no id that is a gene.
    """
    table = _read_table(path, genes)
    labels: dict[str, set[str]] = {}
    for gene_id, value in zip(table["id"], table["label"], strict=True):
        labels.setdefault(gene_id, set()).update(v.strip() for v in value.split(";") if v.strip())
    return {gene_id: tuple(sorted(values)) for gene_id, values in labels.items()}


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
    strict: bool = False,
    sources: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Labelled genes with split and coding-strand sequence; rare classes dropped and counted.

    Args:
        annotation: the GFF3/GTF/GenBank file whose genes are labelled (the run's copy).
        genome: the FASTA their coding-strand sequences are cut from.
        splits: the split table; a gene (with its flanks) lies inside one interval or is left out.
        out_tsv: the labelled gene table to write (`GENE_TABLE_COLUMNS`).
        summary_json: class counts, drop reasons, annotation issues and warnings.
        label, type, min_class_size, flank: the gene_function task (see config/README.md).
        label_table: for `label: table`, a TSV with columns id (locus tag / gene id or name) and label.
        terms, go_slim: multilabel only; `go_slim` ({obo, slim} paths) maps GO terms to slim terms first,
            then `terms` keeps only the labels it lists. Multilabel rows join their labels by ';'.
        strict: refuse annotation defects that are otherwise counted (`annotation.strict`), and genes
            that run past their contig's end.
        sources: display names ("annotation", "genome") of the inputs as the user configured them.

    Returns:
        The labelled table (also written to `out_tsv`; the summary adds "annotation_issues", {cause:
        {count, example}}, and "warnings").

    Raises:
        GenolmError: one line, naming the configured source, for bad input or an untrainable task.
    """
    multilabel = type == "multilabel"
    if (terms or go_slim) and not multilabel:
        raise GenolmError(f"gene_function task {label}: terms and go_slim need type multilabel")
    if go_slim and label != "go":
        raise GenolmError(f"gene_function task {label}: go_slim needs label go")
    names = source_names(sources, annotation=annotation, genome=genome)
    source = names["annotation"]
    with in_user_terms({annotation: source, genome: names["genome"]}):
        genes, issues = read_annotation(annotation, strict=strict, source=source)
        issues.log()
        if not genes:
            raise GenolmError(
                f"{source}: no genes found ({sum(issues.counts.values())} rows tolerated and left out)"
            )
        labeller = _labeller(label, multilabel, genes, label_table, terms, go_slim)
        seqs = read_genome(genome)
        mapping = reconcile_contigs({g.contig for g in genes}, seqs, source=source)
        dropped: Counter[str] = Counter()
        rows = _gene_rows(
            genes, labeller, seqs, mapping, SplitIndex(read_splits(splits)), flank, strict, source, dropped
        )
        warnings = contig_warnings(mapping, source)
        if dropped["beyond_contig_end"]:
            warnings.append(
                f"{source}: {dropped['beyond_contig_end']} genes run past their contig's end and were "
                "left out; is the genome the annotation's assembly?"
            )
        extra = {"annotation_issues": issues.as_dict(), "warnings": warnings}
        table = pd.DataFrame(rows, columns=GENE_TABLE_COLUMNS)
        what = f"{source} ({label})"
        task_type = "multilabel" if multilabel else type
        table = finish_gene_table(
            table, dropped, what, task_type, min_class_size, out_tsv, summary_json, extra=extra
        )
    LOG.info("%s: %d labelled genes; dropped %s", source, len(table), dict(dropped))
    return table


def _labeller(
    label: str,
    multilabel: bool,
    genes: list[Gene],
    label_table: str | Path | None,
    terms: list[str] | None,
    go_slim: dict[str, str] | None,
) -> Callable[[Gene], str | None]:
    """gene -> its label ('a;b' for multilabel), or None when it has none."""
    table = None
    if label == "table":
        table = (read_multilabel_table if multilabel else read_label_table)(label_table, genes)
    if not multilabel:
        return lambda gene: gene_label(gene, label, table)
    to_slim = slim_mapper(go_slim["obo"], go_slim["slim"]) if go_slim else None

    def labels_of(gene: Gene) -> str | None:
        found = gene_labels(gene, label, table)
        found = set(to_slim(found)) if to_slim else found
        found = found & set(terms) if terms else found
        return ";".join(sorted(found)) or None

    return labels_of


def _gene_rows(
    genes: list[Gene],
    labeller: Callable[[Gene], str | None],
    seqs: dict,
    mapping: dict[str, str],
    index: SplitIndex,
    flank: int,
    strict: bool,
    source: str,
    dropped: Counter,
) -> list[tuple]:
    """One row per labelled gene inside one split interval; every gene left out is counted in `dropped`."""
    rows = []
    for gene in genes:
        value = labeller(gene)
        if value is None:
            dropped["no_label"] += 1
            continue
        contig = mapping[gene.contig]
        length = len(seqs[contig])
        end = max([gene.end, *(e for _, e in gene.cds)])
        if end > length:
            if strict:
                raise GenolmError(
                    f"{source}: gene {gene.id} ends at {end}, beyond the end of contig {contig!r} "
                    f"({length} bp)"
                )
            dropped["beyond_contig_end"] += 1
            continue
        lo = gene.start - (flank if gene.strand == "+" else 0)
        hi = gene.end + (flank if gene.strand == "-" else 0)
        split = index.assign(contig, max(lo, 0), hi)
        if split is None:
            dropped["outside_split_blocks"] += 1
            continue
        renamed = Gene(**{**gene.__dict__, "contig": contig})
        seq = decode(gene_sequence(seqs, renamed, cds_only=True, flank=flank))
        rows.append((gene.id, contig, gene.start, gene.end, gene.strand, value, split, seq))
    return rows
