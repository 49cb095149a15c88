"""The `Gene` record every annotation reader returns, and the attribute helpers the readers share.

Biotype words are normalised here too, so GFF3, GTF and GenBank genes of the same kind get the same
label whichever convention (NCBI, Ensembl, GENCODE, FlyBase, WormBase, TAIR) wrote the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from genolm.errors import GenolmError

#: Feature types that stand for a whole gene when they have no gene-level parent.
GENE_TYPES = frozenset({"gene", "pseudogene", "ncRNA_gene", "transposable_element_gene"})
RNA_TYPES = frozenset({"tRNA", "rRNA", "ncRNA", "tmRNA", "misc_RNA", "snRNA", "snoRNA", "lnc_RNA", "miRNA"})
#: Transcript feature type -> biotype, for genes that carry no biotype attribute (FlyBase, TAIR, WormBase).
TRANSCRIPT_BIOTYPES = {
    "mRNA": "protein_coding",
    "mRNA_TE_gene": "transposable_element",
    "lnc_RNA": "lncRNA",
    "lincRNA": "lncRNA",
    "pre_miRNA": "miRNA",
    "miRNA_primary_transcript": "miRNA",
    "pseudogene": "pseudogene",
    "pseudogenic_transcript": "pseudogene",
    "pseudogenic_tRNA": "pseudogene",
    "pseudogenic_rRNA": "pseudogene",
}
#: Gene-level feature type -> biotype when nothing below or on the gene says more.
GENE_TYPE_BIOTYPES = {
    "pseudogene": "pseudogene",
    "ncRNA_gene": "ncRNA",
    "transposable_element_gene": "transposable_element",
}
_STRANDS = frozenset({"+", "-", ".", "?"})
_GO_RE = re.compile(r"GO:(\d{7})")
_PIPE_GO_RE = re.compile(r"\|(\d{7})(?:\||$)")  # NCBI PGAP style: "term name|0005524||IEA"
_GO_ID_RE = re.compile(
    r"\[GO ID (\d{7})\]"
)  # older RefSeq GenBank: "GTP binding [GO ID 0005525] [Evidence TAS]"
_EC_RE = re.compile(r"^EC:(.+)$")
_TYPE_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass
class Gene:
    """One gene: 0-based half-open span, CDS segments of its first coding transcript in genome order."""

    id: str
    contig: str
    start: int
    end: int
    strand: str
    biotype: str
    name: str
    product: str
    ec_numbers: tuple[str, ...]
    go_terms: tuple[str, ...]
    attributes: dict[str, str]
    cds: tuple[tuple[int, int], ...]


@dataclass
class Feature:
    """One GFF/GTF line (or several lines sharing an ID, for split CDS rows)."""

    type: str
    contig: str
    start: int
    end: int
    strand: str
    attrs: dict[str, list[str]]
    line: int
    segments: list[tuple[int, int]]
    owner: str = field(default="")  # ID of the parent it was filed under (GFF3)


def is_transcript_type(ftype: str) -> bool:
    """mRNA, transcript, any *RNA or *_transcript type: a row that can stand for a gene on its own."""
    return (
        ftype in ("mRNA", "transcript", "primary_transcript")
        or ftype in TRANSCRIPT_BIOTYPES
        or ftype.endswith("RNA")
        or ftype.endswith("_transcript")
    )


def transcript_biotype(ftype: str) -> str:
    """The biotype a transcript row's type implies ('' when it implies none)."""
    if ftype in TRANSCRIPT_BIOTYPES:
        return TRANSCRIPT_BIOTYPES[ftype]
    return ftype if is_transcript_type(ftype) and ftype not in ("transcript", "primary_transcript") else ""


def note_biotype(attrs: dict[str, list[str]]) -> str:
    """TAIR10 keeps a gene's type in Note ('protein_coding_gene', 'other_RNA'); free-text notes give ''."""
    for value in attrs.get("Note", []):
        word = value.strip()
        if not _TYPE_WORD.fullmatch(word):
            continue
        if word.endswith("_gene"):
            return word.removesuffix("_gene")
        if word == "pseudogene" or word.endswith("RNA"):
            return word
    return ""


def columns(where: str, lineno: int, line: str) -> tuple[str, str, int, int, str, str]:
    """Validate the 9 GFF/GTF columns; returns contig, type, 1-based start, end, strand, attributes."""
    cols = line.rstrip("\r\n").split("\t")
    if len(cols) != 9:
        raise GenolmError(f"{where}:{lineno}: expected 9 tab-separated columns, found {len(cols)}")
    try:
        start, end = int(cols[3]), int(cols[4])
    except ValueError:
        raise GenolmError(
            f"{where}:{lineno}: start/end must be integers, got {cols[3]!r}, {cols[4]!r}"
        ) from None
    if start < 1 or start > end:
        raise GenolmError(f"{where}:{lineno}: expected 1 <= start <= end, got start={start} end={end}")
    if cols[6] not in _STRANDS:
        raise GenolmError(f"{where}:{lineno}: strand must be one of + - . ?, got {cols[6]!r}")
    return cols[0], cols[2], start, end, cols[6], cols[8]


def unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def ec_numbers(attr_sets: Iterable[dict[str, list[str]]]) -> tuple[str, ...]:
    """EC numbers from EC_number/ec_number attributes and `EC:` cross-references."""
    found = []
    for attrs in attr_sets:
        for key, values in attrs.items():
            if key.lower() == "ec_number":
                found.extend(v.strip() for v in values)
            elif key.lower() in ("dbxref", "db_xref"):
                found.extend(m.group(1).strip() for v in values if (m := _EC_RE.match(v.strip())))
    return unique(found)


def go_terms(attr_sets: Iterable[dict[str, list[str]]]) -> tuple[str, ...]:
    """GO terms from Ontology_term, Dbxref/db_xref and GenBank/PGAP go_* attributes."""
    found = []
    for attrs in attr_sets:
        for key, values in attrs.items():
            low = key.lower()
            if low in ("ontology_term", "dbxref", "db_xref") or low.startswith("go_"):
                for value in values:
                    ids = _GO_RE.findall(value) or (
                        _PIPE_GO_RE.findall(value) + _GO_ID_RE.findall(value) if low.startswith("go_") else []
                    )
                    found.extend(f"GO:{go}" for go in ids)
    return unique(found)


def first(attr_sets: Iterable[dict[str, list[str]]], *keys: str) -> str:
    """The first of `keys` present in the first attribute set that has one, values joined by ','."""
    for attrs in attr_sets:
        for key in keys:
            if attrs.get(key):
                return ",".join(attrs[key])
    return ""


def flat(attrs: dict[str, list[str]]) -> dict[str, str]:
    return {key: ",".join(values) for key, values in attrs.items()}


def gene_strand(strand: str) -> str:
    """Unstranded (. or ?) genes read as +: callers need a direction, and + leaves the sequence as is."""
    return "-" if strand == "-" else "+"
