"""GTF genes (Ensembl, GENCODE, NCBI, UCSC and older GFF2-style files), grouped by gene_id.

GTF CDS rows leave the stop codon out (it has its own `stop_codon` row); it is added back so a GTF gene
has the same CDS as the same gene read from GFF3 or GenBank.
"""

from __future__ import annotations

import re

from genolm.io.annotation_issues import AnnotationIssues
from genolm.io.fasta import open_text
from genolm.io.genes import Feature, Gene, columns, ec_numbers, first, flat, gene_strand, go_terms

_ATTR_RE = re.compile(r'\s*([^\s;]+)\s+(?:"([^"]*)"|([^;]*?))\s*(?:;|$)')
_BARE_ID = re.compile(r"[A-Za-z0-9_.:-]+")
_AUGUSTUS_TX = re.compile(r"(.+)\.t\d+")


def read_gtf(path: str, issues: AnnotationIssues) -> list[Gene]:
    """Genes in order of first appearance; rows without gene_id are counted in `issues` and left out.

    In a file that has `gene` (or `transcript`) rows, a gene_id (transcript_id) without one lost it to
    a regional cut: its rows are counted as `missing_parent` and left out, as in GFF3.
    """
    rows: dict[str, list[Feature]] = {}
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip() or line.startswith("#"):
                continue
            contig, ftype, start, end, strand, attr_text = columns(issues.source, lineno, line)
            attrs = _with_bare_ids(ftype, attributes(attr_text), attr_text)
            if not attrs.get("gene_id"):
                issues.note(
                    "no_gene_id",
                    line=lineno,
                    text=line.rstrip("\r\n"),
                    refusal="GTF line has no gene_id attribute",
                )
                continue
            feat = Feature(ftype, contig, start - 1, end, strand, attrs, lineno, [(start - 1, end)])
            rows.setdefault(attrs["gene_id"][0], []).append(feat)
    return [_gene(gene_id, feats) for gene_id, feats in _drop_orphans(rows, issues).items()]


def _with_bare_ids(ftype: str, attrs: dict[str, list[str]], text: str) -> dict[str, list[str]]:
    """GFF2-style gene/transcript rows name themselves with one bare word (AUGUSTUS: `g1`, `g1.t1`)."""
    word = text.strip()
    if attrs or not _BARE_ID.fullmatch(word):
        return attrs
    if ftype == "gene":
        return {"gene_id": [word]}
    if ftype == "transcript" and (m := _AUGUSTUS_TX.fullmatch(word)):
        return {"gene_id": [m.group(1)], "transcript_id": [word]}
    return attrs


def _drop_orphans(rows: dict[str, list[Feature]], issues: AnnotationIssues) -> dict[str, list[Feature]]:
    """Leave out rows whose gene (or transcript) row is missing where the file has such rows."""
    has_gene_rows = any(f.type == "gene" for feats in rows.values() for f in feats)
    transcripts = {
        (f.attrs.get("transcript_id") or [""])[0]
        for feats in rows.values()
        for f in feats
        if f.type == "transcript"
    }
    kept: dict[str, list[Feature]] = {}
    for gene_id, feats in rows.items():
        if has_gene_rows and not any(f.type == "gene" for f in feats):
            for f in feats:
                issues.note(
                    "missing_parent", line=f.line, refusal=f"gene_id {gene_id!r} has no gene row in the file"
                )
            continue
        own = []
        for f in feats:
            tx = (f.attrs.get("transcript_id") or [""])[0]
            if transcripts and tx and f.type not in ("gene", "transcript") and tx not in transcripts:
                issues.note(
                    "missing_parent",
                    line=f.line,
                    refusal=f"transcript_id {tx!r} has no transcript row in the file",
                )
                continue
            own.append(f)
        if own:
            kept[gene_id] = own
    return kept


def attributes(text: str) -> dict[str, list[str]]:
    """`key "value";` pairs (bare values too, as GFF2-style files write them); repeated keys collect."""
    attrs: dict[str, list[str]] = {}
    for key, quoted, bare in _ATTR_RE.findall(text):
        attrs.setdefault(key, []).append(quoted or bare)
    return attrs


def _gene(gene_id: str, feats: list[Feature]) -> Gene:
    """GTF genes may lack a `gene` row, so the span falls back to the union of their features."""
    gene_rows = [f for f in feats if f.type == "gene"]
    head = gene_rows[0] if gene_rows else feats[0]
    cds = _first_transcript_cds(feats)
    attr_sets = [f.attrs for f in feats]
    biotype = (
        first([head.attrs], "gene_biotype", "gene_type")
        or first(attr_sets, "gene_biotype", "gene_type")
        or ("protein_coding" if cds else first(attr_sets, "transcript_biotype", "transcript_type"))
    )
    return Gene(
        id=gene_id,
        contig=head.contig,
        start=head.start if gene_rows else min(f.start for f in feats),
        end=head.end if gene_rows else max(f.end for f in feats),
        strand=gene_strand(head.strand),
        biotype=biotype,
        name=first(attr_sets, "gene_name") or gene_id,
        product=first(attr_sets, "product"),
        ec_numbers=ec_numbers(attr_sets),
        go_terms=go_terms(attr_sets),
        attributes=flat(head.attrs),
        cds=tuple(cds),
    )


def _first_transcript_cds(feats: list[Feature]) -> list[tuple[int, int]]:
    """CDS segments (stop codon included) of the first transcript with CDS rows, in genome order."""
    by_tx: dict[str, list[tuple[int, int]]] = {}
    for f in feats:
        if f.type == "CDS":
            by_tx.setdefault((f.attrs.get("transcript_id") or [""])[0], []).append((f.start, f.end))
    if not by_tx:
        return []
    tx, segments = next(iter(by_tx.items()))
    stops = [
        (f.start, f.end)
        for f in feats
        if f.type == "stop_codon" and (f.attrs.get("transcript_id") or [""])[0] == tx
    ]
    if not stops:
        return sorted(segments)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(segments + stops):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
