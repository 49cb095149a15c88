"""Gene annotations from GFF3, GTF or GenBank, reduced to one `Gene` record per gene.

Every format ends in the same shape (0-based half-open coordinates, CDS segments in genome order, EC
numbers and GO terms collected from wherever the format keeps them), so the label builders do not
care which file the user supplied. Reading is lenient by default: what real files break (orphan rows
of a regional cut, loops, unknown types) is counted in `AnnotationIssues`; `strict` refuses it.
"""

from __future__ import annotations

import os
import re
from itertools import islice

import numpy as np

from genolm.errors import GenolmError
from genolm.io.annotation_issues import AnnotationIssues
from genolm.io.fasta import open_text
from genolm.io.genbank import read_genbank
from genolm.io.genes import Gene
from genolm.io.gff3 import read_gff3
from genolm.io.gtf import read_gtf
from genolm.sequence import reverse_complement_codes

__all__ = [
    "FORMATS",
    "AnnotationIssues",
    "Gene",
    "gene_sequence",
    "read_annotation",
    "read_genes",
    "sniff_format",
]

FORMATS = ("gff3", "gtf", "genbank")
_READERS = {"gff3": read_gff3, "gtf": read_gtf, "genbank": read_genbank}
_GTF_ATTRS = re.compile(r'\s*[A-Za-z_][\w.]*\s+("|[^\s=;]+\s*(;|$))')


def sniff_format(path: str | os.PathLike, source: str | None = None) -> str:
    """Tell GFF3, GTF and GenBank apart by content (never by extension); `source` names the file in errors."""
    where = source or path
    with open_text(path) as fh:
        lines = [line.rstrip("\n") for line in islice(fh, 1000)]
    content = [line for line in lines if line.strip()]
    if not content:
        raise GenolmError(f"{where}: empty annotation file; expected GFF3, GTF or GenBank")
    if content[0].startswith("LOCUS"):
        return "genbank"
    if any(line.startswith("##gff-version 3") for line in content):
        return "gff3"
    data = [line.split("\t") for line in content if not line.startswith("#")]
    for cols in data[:50]:  # GFF2-style gene/transcript rows (AUGUSTUS: a bare "g1") decide nothing
        if len(cols) != 9:
            break
        if "=" not in cols[8].split(";")[0] and _GTF_ATTRS.match(cols[8]):
            return "gtf"  # key "value"; (GTF) or key value; (GFF2-style)
        if "=" in cols[8]:
            return "gff3"
    raise GenolmError(
        f"{where}: cannot tell the annotation format; expected GFF3, GTF or GenBank (LOCUS ...)"
    )


def read_annotation(
    path: str | os.PathLike, fmt: str | None = None, *, strict: bool = False, source: str | None = None
) -> tuple[list[Gene], AnnotationIssues]:
    """All genes of an annotation file and what was tolerated reading it.

    Args:
        path: the file (plain or gzipped).
        fmt: one of FORMATS, or None to sniff it.
        strict: refuse rows whose Parent is not in the file and GTF rows without gene_id.
        source: how errors and examples name the file (what the user configured); default `path`.

    Returns:
        The genes in file order and the counted issues (examples filled in).

    Raises:
        GenolmError: one line naming `source` (and the line) for a file that cannot be read.
    """
    where = source or os.fspath(path)
    fmt = fmt or sniff_format(path, where)
    if fmt not in _READERS:
        raise GenolmError(f"{where}: unknown annotation format {fmt!r}; expected one of {', '.join(FORMATS)}")
    issues = AnnotationIssues(where, strict=strict)
    genes = _READERS[fmt](os.fspath(path), issues)
    issues.fill_examples(path)
    return genes, issues


def read_genes(path: str | os.PathLike, fmt: str | None = None, *, strict: bool = False) -> list[Gene]:
    """All genes of an annotation file; tolerated issues are logged (see `read_annotation`)."""
    genes, issues = read_annotation(path, fmt, strict=strict)
    issues.log()
    return genes


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
