"""Disease-risk labels: ClinVar-style VCF -> labelled SNVs with split, reference window and consequence."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd

from genolm.atomic import write_json
from genolm.consequence import ConsequenceIndex
from genolm.errors import GenolmError
from genolm.io.annotation import Gene, read_annotation
from genolm.io.contigs import reconcile_contigs
from genolm.io.fasta import decode, read_genome
from genolm.io.user_terms import in_user_terms, source_names
from genolm.io.vcf import Variant, read_variants_counted
from genolm.labels.summary import (
    check_classes,
    class_summary,
    contig_warnings,
    with_sample_warnings,
    write_table,
)
from genolm.splits import SplitIndex, read_splits

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
VARIANT_TABLE_COLUMNS = [
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


def clinvar_label(info: dict[str, str]) -> int | None:
    """A variant's label from its ClinVar significance.

    Args:
        info: the VCF record's INFO fields (CLNSIG read, case-insensitively).

    Returns:
        1 for (likely) pathogenic, 0 for (likely) benign, None for uncertain/conflicting/other (left out).
    """
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
    strict: bool = False,
    sources: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Labelled SNVs with split, reference window and the variant's offset in it.

    Args:
        variants: the ClinVar-style VCF whose SNVs are labelled by CLNSIG (the run's copy).
        genome: the reference FASTA the `window`-base reference windows are cut from.
        splits: the split table; a variant's whole window lies inside one interval or it is left out.
        out_tsv: the labelled variant table to write (`VARIANT_TABLE_COLUMNS`).
        summary_json: label counts, drop reasons and warnings.
        label, window, strict_ref, min_review_stars: the disease_risk task (see config/README.md); with
            `strict_ref` a REF that disagrees with the genome, or a position past the contig's end, is an
            error.
        codon_table, annotation: with an annotation, `consequence` and `gene_fraction` come from its genes
            (translated with NCBI codon table `codon_table`); otherwise from ClinVar's MC field
            (gene_fraction -1).
        strict: refuse annotation defects that are otherwise counted (`annotation.strict`).
        sources: display names ("variants", "genome", "annotation") as the user configured them.

    Returns:
        The labelled table (also written to `out_tsv`; the summary adds "warnings", and
        "annotation_issues" when an annotation is given).

    Raises:
        GenolmError: one line, naming the configured source, for bad input or an untrainable task.
    """
    if label != "clnsig":
        raise GenolmError(f"disease_risk task label: got {label!r}, expected clnsig")
    names = source_names(sources, variants=variants, genome=genome, annotation=annotation)
    source = names["variants"]
    paths = {variants: source, genome: names["genome"]} | (
        {annotation: names["annotation"]} if annotation else {}
    )
    with in_user_terms(paths):
        records, skipped = read_variants_counted(variants)
        dropped: Counter[str] = Counter(skipped)
        seqs = read_genome(genome)
        if not records:
            raise GenolmError(f"{source}: no variant records")
        mapping = reconcile_contigs({v.contig for v in records}, seqs, source=source)
        extra: dict = {"warnings": contig_warnings(mapping, source)}
        effects = None
        if annotation:
            effects, issues = _consequence_index(annotation, seqs, codon_table, strict, names["annotation"])
            extra = {"annotation_issues": issues, **extra}
        found = _variant_rows(
            records,
            seqs,
            mapping,
            SplitIndex(read_splits(splits)),
            effects,
            dropped,
            window=window,
            strict_ref=strict_ref,
            min_review_stars=min_review_stars,
            source=source,
        )
        table = pd.DataFrame(list(found), columns=VARIANT_TABLE_COLUMNS)
        if table.empty:
            raise GenolmError(f"{source}: no usable labelled SNVs after filtering ({dict(dropped)})")
        what = f"{source} (clnsig)"
        check_classes(table, what)
    named = table.assign(label=table["label"].map({0: "benign", 1: "pathogenic"}))
    summary = class_summary(named, dropped)
    summary.update(with_sample_warnings(extra, summary, what))
    write_table(table, out_tsv)
    write_json(summary_json, summary)
    LOG.info("%s: %d labelled variants; dropped %s", source, len(table), dict(dropped))
    return table


def _variant_rows(
    records: list[Variant],
    seqs: dict,
    mapping: dict[str, str],
    index: SplitIndex,
    effects: ConsequenceIndex | None,
    dropped: Counter,
    *,
    window: int,
    strict_ref: bool,
    min_review_stars: int,
    source: str,
) -> Iterator[tuple]:
    """One row per labelled SNV whose window lies inside one split interval; the rest counted in `dropped`."""
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
        if var.pos > len(codes):
            if strict_ref:
                raise GenolmError(
                    f"{source}: {var.contig}:{var.pos} is beyond the end of contig {contig!r} "
                    f"({len(codes)} bp); is the VCF for another assembly? "
                    "set strict_ref: false to drop such records"
                )
            dropped["beyond_contig_end"] += 1
            continue
        centre = var.pos - 1
        genome_ref = decode(codes[centre : centre + 1])
        if genome_ref != var.ref.upper():
            if strict_ref:
                raise GenolmError(
                    f"{source}: REF {var.ref} of {var.contig}:{var.pos} disagrees with the genome "
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
        yield (
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


def consequence(info: dict[str, str]) -> str:
    """Molecular consequence name from ClinVar's MC field, for tables built without an annotation.

    Args:
        info: the VCF record's INFO fields.

    Returns:
        The first MC entry's name ('SO:0001583|missense_variant' gives missense_variant), else 'unknown'.
    """
    mc = info.get("MC", "")
    return mc.split(",")[0].split("|")[-1] if mc else "unknown"


def review_stars(status: str) -> int:
    """ClinVar gold stars of a CLNREVSTAT value, which `min_review_stars` filters on.

    Args:
        status: CLNREVSTAT as the VCF gives it (commas and spaces allowed, any case).

    Returns:
        `REVIEW_STARS` of it; an unknown status counts as 0 stars.
    """
    return REVIEW_STARS.get(status.lower().replace(",", "").replace(" ", "_"), 0)


def _consequence_index(
    annotation: str | Path, seqs: dict, table: int, strict: bool, source: str
) -> tuple[ConsequenceIndex, dict]:
    """The genes' consequence index and what reading the annotation tolerated (as_dict form)."""
    genes, issues = read_annotation(annotation, strict=strict, source=source)
    issues.log()
    mapping = reconcile_contigs({g.contig for g in genes}, seqs, source=source)
    renamed = [Gene(**{**g.__dict__, "contig": mapping[g.contig]}) for g in genes]
    index = ConsequenceIndex(renamed, {c: decode(seqs[c]) for c in set(mapping.values())}, table)
    return index, issues.as_dict()


def _effect(effects: ConsequenceIndex | None, contig: str, centre: int, var) -> tuple[str, str, float]:
    """(gene, consequence, gene_fraction) from the annotation when given, else from the VCF INFO."""
    gene = var.info.get("GENEINFO", "")
    if effects is None:
        return gene, consequence(var.info), -1.0
    found = effects(contig, centre, var.alt.upper())
    return gene or found.gene, found.kind, found.gene_fraction
