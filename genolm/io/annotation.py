"""Gene annotations from GFF3, GTF or GenBank, reduced to one `Gene` record per gene.

Every format ends in the same shape (0-based half-open coordinates, CDS segments in genome
order, EC numbers and GO terms collected from wherever the format keeps them), so the label
builders do not care which file the user supplied.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from urllib.parse import unquote

import numpy as np
from Bio import SeqIO

from genolm.errors import GenolmError
from genolm.io.fasta import open_text
from genolm.sequence import reverse_complement_codes

FORMATS = ("gff3", "gtf", "genbank")
GENE_TYPES = frozenset({"gene", "pseudogene", "ncRNA_gene", "transposable_element_gene"})
RNA_TYPES = frozenset({"tRNA", "rRNA", "ncRNA", "tmRNA", "misc_RNA", "snRNA", "snoRNA", "lnc_RNA", "miRNA"})
_STRANDS = frozenset({"+", "-", ".", "?"})
_GO_RE = re.compile(r"GO:(\d{7})")
_PIPE_GO_RE = re.compile(r"\|(\d{7})(?:\||$)")  # NCBI PGAP style: "term name|0005524||IEA"
_GO_ID_RE = re.compile(
    r"\[GO ID (\d{7})\]"
)  # older RefSeq GenBank: "GTP binding [GO ID 0005525] [Evidence TAS]"
_EC_RE = re.compile(r"^EC:(.+)$")
_GTF_ATTR_RE = re.compile(r'\s*([^\s;]+)\s+(?:"([^"]*)"|([^;]*?))\s*(?:;|$)')


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
class _Feature:
    """One GFF/GTF line (or several lines sharing an ID, for split CDS rows)."""

    type: str
    contig: str
    start: int
    end: int
    strand: str
    attrs: dict[str, list[str]]
    line: int
    segments: list[tuple[int, int]]


def sniff_format(path: str | os.PathLike) -> str:
    """Tell GFF3, GTF and GenBank apart by content (never by extension)."""
    with open_text(path) as fh:
        lines = [line.rstrip("\n") for line in islice(fh, 1000)]
    content = [line for line in lines if line.strip()]
    if not content:
        raise GenolmError(f"{path}: empty annotation file; expected GFF3, GTF or GenBank")
    if content[0].startswith("LOCUS"):
        return "genbank"
    if any(line.startswith("##gff-version 3") for line in content):
        return "gff3"
    for line in content:
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) == 9:
            if re.match(r'\s*[^\s;=]+\s+"', cols[8]):
                return "gtf"
            if "=" in cols[8]:
                return "gff3"
        break
    raise GenolmError(f"{path}: cannot tell the annotation format; expected GFF3, GTF or GenBank (LOCUS ...)")


def read_genes(path: str | os.PathLike, fmt: str | None = None) -> list[Gene]:
    """Read all genes of an annotation file; `fmt` is one of FORMATS or None to sniff it."""
    fmt = fmt or sniff_format(path)
    readers = {"gff3": _read_gff3, "gtf": _read_gtf, "genbank": _read_genbank}
    if fmt not in readers:
        raise GenolmError(f"{path}: unknown annotation format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return readers[fmt](os.fspath(path))


def gene_sequence(
    genome: dict[str, np.ndarray], gene: Gene, *, cds_only: bool = True, flank: int = 0
) -> np.ndarray:
    """Codes of the gene read 5'->3' on its coding strand: joined CDS (or the span), plus `flank` upstream."""
    if gene.contig not in genome:
        shown = ", ".join(list(genome)[:5])
        raise GenolmError(f"gene {gene.id}: contig {gene.contig!r} is not in the genome (contigs: {shown})")
    seq = genome[gene.contig]
    segments = gene.cds if cds_only and gene.cds else ((gene.start, gene.end),)
    for start, end in segments:
        if start < 0 or end > len(seq) or start >= end:
            raise GenolmError(
                f"gene {gene.id}: segment {start}-{end} lies outside contig {gene.contig!r} "
                f"of length {len(seq)}"
            )
    parts = [seq[start:end] for start, end in segments]
    if flank > 0:
        if gene.strand == "-":
            hi = max(end for _, end in segments)
            parts.append(seq[hi : hi + flank])
        else:
            lo = min(start for start, _ in segments)
            parts.insert(0, seq[max(0, lo - flank) : lo])
    joined = np.concatenate(parts)
    return reverse_complement_codes(joined) if gene.strand == "-" else joined


# ---------------------------------------------------------------- shared helpers


def _columns(path: str, lineno: int, line: str) -> tuple[str, str, int, int, str, str]:
    """Validate the 9 GFF/GTF columns; returns contig, type, 1-based start, end, strand, attributes."""
    cols = line.rstrip("\r\n").split("\t")
    if len(cols) != 9:
        raise GenolmError(f"{path}:{lineno}: expected 9 tab-separated columns, found {len(cols)}")
    try:
        start, end = int(cols[3]), int(cols[4])
    except ValueError:
        raise GenolmError(
            f"{path}:{lineno}: start/end must be integers, got {cols[3]!r}, {cols[4]!r}"
        ) from None
    if start < 1 or start > end:
        raise GenolmError(f"{path}:{lineno}: expected 1 <= start <= end, got start={start} end={end}")
    if cols[6] not in _STRANDS:
        raise GenolmError(f"{path}:{lineno}: strand must be one of + - . ?, got {cols[6]!r}")
    return cols[0], cols[2], start, end, cols[6], cols[8]


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _ec_numbers(attr_sets: Iterable[dict[str, list[str]]]) -> tuple[str, ...]:
    found = []
    for attrs in attr_sets:
        for key, values in attrs.items():
            if key.lower() == "ec_number":
                found.extend(v.strip() for v in values)
            elif key.lower() in ("dbxref", "db_xref"):
                found.extend(m.group(1).strip() for v in values if (m := _EC_RE.match(v.strip())))
    return _unique(found)


def _go_terms(attr_sets: Iterable[dict[str, list[str]]]) -> tuple[str, ...]:
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
    return _unique(found)


def _first(attr_sets: Iterable[dict[str, list[str]]], *keys: str) -> str:
    for attrs in attr_sets:
        for key in keys:
            if attrs.get(key):
                return ",".join(attrs[key])
    return ""


def _flat(attrs: dict[str, list[str]]) -> dict[str, str]:
    return {key: ",".join(values) for key, values in attrs.items()}


def _gene_strand(strand: str) -> str:
    """Unstranded (. or ?) genes read as +: callers need a direction, and + leaves the sequence as is."""
    return "-" if strand == "-" else "+"


# ---------------------------------------------------------------- GFF3


def _gff3_attributes(text: str) -> dict[str, list[str]]:
    attrs: dict[str, list[str]] = {}
    for item in text.strip().split(";"):
        if "=" not in item:
            continue
        key, _, value = item.strip().partition("=")
        attrs.setdefault(unquote(key), []).extend(unquote(v) for v in value.split(","))
    return attrs


def _read_gff3(path: str) -> list[Gene]:
    features: list[_Feature] = []
    by_id: dict[str, _Feature] = {}
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.startswith("##FASTA"):
                break
            if not line.strip() or line.startswith("#"):
                continue
            contig, ftype, start, end, strand, attr_text = _columns(path, lineno, line)
            attrs = _gff3_attributes(attr_text)
            fid = attrs.get("ID", [""])[0]
            if fid and fid in by_id and by_id[fid].type == ftype:  # one feature split over several rows
                by_id[fid].segments.append((start - 1, end))
                for key, values in attrs.items():
                    kept = by_id[fid].attrs.setdefault(key, [])
                    kept.extend(v for v in values if v not in kept)
                continue
            feat = _Feature(ftype, contig, start - 1, end, strand, attrs, lineno, [(start - 1, end)])
            features.append(feat)
            if fid:
                by_id.setdefault(fid, feat)
    for feat in features:
        for parent in feat.attrs.get("Parent", []):
            if parent not in by_id:
                raise GenolmError(
                    f"{path}:{feat.line}: Parent {parent!r} is not defined by any ID in the file"
                )

    def top(feat: _Feature, depth: int = 0) -> _Feature | None:
        """The gene-level ancestor of a feature (itself for a gene or a parentless CDS/RNA)."""
        parents = feat.attrs.get("Parent", [])
        if feat.type in GENE_TYPES or (not parents and (feat.type == "CDS" or feat.type in RNA_TYPES)):
            return feat
        if not parents or depth > 10:
            return None
        return top(by_id[parents[0]], depth + 1)

    members: dict[int, list[_Feature]] = {}
    genes: list[_Feature] = []
    for feat in features:
        gene = top(feat)
        if gene is None:
            continue
        if gene is feat:
            genes.append(feat)
        members.setdefault(id(gene), []).append(feat)
    return [_gff3_gene(g, members[id(g)]) for g in genes]


def _gff3_gene(gene: _Feature, members: list[_Feature]) -> Gene:
    """Collapse a gene and its transcripts/CDS into a Gene."""
    cds_feats = [f for f in members if f.type == "CDS"]
    transcripts = [f for f in members if f is not gene and f.type not in ("CDS", "exon")]
    gene_id = (gene.attrs.get("ID") or [""])[0]
    first = cds_feats[0] if cds_feats else None
    first_parent = (first.attrs.get("Parent") or [gene_id])[0] if first else None
    if first is None:
        cds = []
    elif first_parent == gene_id:  # CDS straight under the gene (prokaryotes): each CDS ID is one transcript
        cds = sorted(first.segments)
    else:
        cds = sorted(
            seg for f in cds_feats if first_parent in f.attrs.get("Parent", []) for seg in f.segments
        )
    attr_sets = [gene.attrs] + [f.attrs for f in transcripts] + [f.attrs for f in cds_feats]
    biotype = _first([gene.attrs], "gene_biotype", "biotype", "gene_type")
    if not biotype:
        if gene.type == "pseudogene" or gene.attrs.get("pseudo") == ["true"]:
            biotype = "pseudogene"
        elif cds:
            biotype = "protein_coding"
        else:
            biotype = transcripts[0].type if transcripts else ("CDS" if gene.type == "CDS" else gene.type)
    return Gene(
        id=_first([gene.attrs], "locus_tag", "gene_id", "ID") or f"{gene.contig}:{gene.start + 1}-{gene.end}",
        contig=gene.contig,
        start=min(s for s, _ in gene.segments),
        end=max(e for _, e in gene.segments),
        strand=_gene_strand(gene.strand),
        biotype=biotype,
        name=_first([gene.attrs], "Name", "gene", "gene_name") or _first([gene.attrs], "locus_tag", "ID"),
        product=_first(
            [f.attrs for f in cds_feats] + [f.attrs for f in transcripts] + [gene.attrs], "product"
        ),
        ec_numbers=_ec_numbers(attr_sets),
        go_terms=_go_terms(attr_sets),
        attributes=_flat(gene.attrs),
        cds=tuple(cds),
    )


# ---------------------------------------------------------------- GTF


def _gtf_attributes(text: str) -> dict[str, list[str]]:
    attrs: dict[str, list[str]] = {}
    for key, quoted, bare in _GTF_ATTR_RE.findall(text):
        attrs.setdefault(key, []).append(quoted or bare)
    return attrs


def _read_gtf(path: str) -> list[Gene]:
    rows: dict[str, list[_Feature]] = {}
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip() or line.startswith("#"):
                continue
            contig, ftype, start, end, strand, attr_text = _columns(path, lineno, line)
            attrs = _gtf_attributes(attr_text)
            if not attrs.get("gene_id"):
                raise GenolmError(f"{path}:{lineno}: GTF line has no gene_id attribute")
            feat = _Feature(ftype, contig, start - 1, end, strand, attrs, lineno, [(start - 1, end)])
            rows.setdefault(attrs["gene_id"][0], []).append(feat)
    return [_gtf_gene(gene_id, feats) for gene_id, feats in rows.items()]


def _gtf_gene(gene_id: str, feats: list[_Feature]) -> Gene:
    """GTF genes may lack a `gene` row, so the span falls back to the union of their features."""
    gene_rows = [f for f in feats if f.type == "gene"]
    head = gene_rows[0] if gene_rows else feats[0]
    cds_by_tx: dict[str, list[tuple[int, int]]] = {}
    for f in feats:
        if f.type == "CDS":
            cds_by_tx.setdefault((f.attrs.get("transcript_id") or [""])[0], []).append((f.start, f.end))
    cds = sorted(next(iter(cds_by_tx.values()))) if cds_by_tx else []
    attr_sets = [f.attrs for f in feats]
    biotype = _first([head.attrs], "gene_biotype", "gene_type") or _first(
        attr_sets, "gene_biotype", "gene_type"
    )
    biotype = biotype or ("protein_coding" if cds else "unknown")
    return Gene(
        id=gene_id,
        contig=head.contig,
        start=head.start if gene_rows else min(f.start for f in feats),
        end=head.end if gene_rows else max(f.end for f in feats),
        strand=_gene_strand(head.strand),
        biotype=biotype,
        name=_first(attr_sets, "gene_name") or gene_id,
        product=_first(attr_sets, "product"),
        ec_numbers=_ec_numbers(attr_sets),
        go_terms=_go_terms(attr_sets),
        attributes=_flat(head.attrs),
        cds=tuple(cds),
    )


# ---------------------------------------------------------------- GenBank


def _read_genbank(path: str) -> list[Gene]:
    genes: list[Gene] = []
    records = 0
    try:
        with open_text(path) as fh:
            for record in SeqIO.parse(fh, "genbank"):
                records += 1
                unreadable = next((f for f in record.features if f.location is None), None)
                if unreadable is not None:  # Biopython warns and leaves None for a location it cannot parse
                    raise GenolmError(
                        f"{path}: record {record.id}: a {unreadable.type} feature has an unreadable location"
                    )
                genes.extend(_genbank_record_genes(record))
    except ValueError as exc:
        raise GenolmError(f"{path}: malformed GenBank file ({str(exc).splitlines()[0]})") from exc
    if not records:
        raise GenolmError(f"{path}: no GenBank records found; expected a file starting with 'LOCUS'")
    return genes


def _genbank_record_genes(record) -> list[Gene]:
    """Join each `gene` feature with its CDS/RNA features (by locus_tag, then /gene, then containment)."""
    gene_feats = [f for f in record.features if f.type == "gene"]
    children = [f for f in record.features if f.type == "CDS" or f.type in RNA_TYPES]
    by_key: dict[tuple[str, str], int] = {}
    for i, g in enumerate(gene_feats):
        for key in ("locus_tag", "gene"):
            if key in g.qualifiers:
                by_key.setdefault((key, g.qualifiers[key][0]), i)
    owned: dict[int, list] = {i: [] for i in range(len(gene_feats))}
    orphans = []
    for child in children:
        owner = _owner(child, by_key, gene_feats)
        if owner is None:
            orphans.append(child)
        else:
            owned[owner].append(child)
    groups = [(g, owned[i]) for i, g in enumerate(gene_feats)] + [(c, [c]) for c in orphans]
    groups.sort(key=lambda pair: int(pair[0].location.start))
    return [_genbank_gene(record.id, gene, kids) for gene, kids in groups]


def _owner(child, by_key: dict[tuple[str, str], int], gene_feats: list) -> int | None:
    """Index of the gene feature a CDS/RNA belongs to: same locus_tag, same /gene, else containment."""
    for key in ("locus_tag", "gene"):
        if (key, child.qualifiers.get(key, [""])[0]) in by_key:
            return by_key[(key, child.qualifiers[key][0])]
    c = child.location
    for i, gene in enumerate(gene_feats):
        g = gene.location
        if g.strand == c.strand and int(g.start) <= int(c.start) and int(c.end) <= int(g.end):
            return i
    return None


def _genbank_gene(contig: str, gene, kids: list) -> Gene:
    quals = [gene.qualifiers] + [k.qualifiers for k in kids]
    cds_feats = [k for k in kids if k.type == "CDS"]
    cds: list[tuple[int, int]] = []
    if cds_feats:
        parts = [(int(p.start), int(p.end)) for p in cds_feats[0].location.parts]
        cds = parts[::-1] if cds_feats[0].location.strand == -1 else parts  # biological -> genome order
    if any("pseudo" in q or "pseudogene" in q for q in quals):
        biotype = "pseudogene"
    elif cds_feats:
        biotype = "protein_coding"
    else:
        rnas = [k.type for k in kids if k.type in RNA_TYPES]
        biotype = rnas[0] if rnas else "unknown"
    start, end = int(gene.location.start), int(gene.location.end)
    locus = _first([gene.qualifiers], "locus_tag")
    return Gene(
        id=locus or _first([gene.qualifiers], "gene") or f"{contig}:{start + 1}-{end}",
        contig=contig,
        start=start,
        end=end,
        strand="-" if gene.location.strand == -1 else "+",
        biotype=biotype,
        name=_first([gene.qualifiers], "gene") or locus,
        product=_first([k.qualifiers for k in kids] + [gene.qualifiers], "product"),
        ec_numbers=_ec_numbers(quals),
        go_terms=_go_terms(quals),
        attributes=_flat(gene.qualifiers),
        cds=tuple(cds),
    )
