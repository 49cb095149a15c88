"""Molecular consequence of an SNV from a gene annotation, for the consequence baseline.

Classes: synonymous, missense, stop_gained, stop_lost, start_lost (coding, translated with the task's
NCBI codon table, e.g. 2 for vertebrate mitochondria), utr_or_intron (in a coding gene's span but not
its CDS), non_coding_rna (in a gene without CDS) and intergenic. Where genes overlap, the most severe
consequence is kept. `gene_fraction` is the variant's relative position along that gene, 5'->3'.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass

from Bio.Data.CodonTable import unambiguous_dna_by_id
from Bio.Seq import Seq

from genolm.io.annotation import Gene
from genolm.sequence import complement

SEVERITY = (
    "stop_gained",
    "start_lost",
    "stop_lost",
    "missense",
    "synonymous",
    "non_coding_rna",
    "utr_or_intron",
    "intergenic",
)


@dataclass(frozen=True)
class Consequence:
    kind: str
    gene: str
    gene_fraction: float  # -1 for intergenic


def _coding(gene: Gene, pos: int, alt: str, genome_seq: str, table: int) -> str | None:
    """Coding consequence of `alt` at 0-based `pos`, or None when pos is outside the CDS."""
    positions = [p for start, end in gene.cds for p in range(start, end)]
    if gene.strand == "-":
        positions = positions[::-1]
    try:
        i = positions.index(pos)
    except ValueError:
        return None
    codon_at = positions[i - i % 3 : i - i % 3 + 3]
    if len(codon_at) < 3:
        return "synonymous"  # a partial trailing codon: no amino acid to change
    ref_codon = "".join(genome_seq[p] for p in codon_at)
    alt_codon = "".join(alt if p == pos else genome_seq[p] for p in codon_at)
    if gene.strand == "-":
        ref_codon, alt_codon = complement(ref_codon), complement(alt_codon)
    if "N" in ref_codon + alt_codon:
        return "missense"
    codons = unambiguous_dna_by_id[table]
    if i < 3 and ref_codon in codons.start_codons and alt_codon not in codons.start_codons:
        return "start_lost"
    ref_aa, alt_aa = (str(Seq(c).translate(table=table)) for c in (ref_codon, alt_codon))
    if ref_aa == alt_aa:
        return "synonymous"
    if alt_aa == "*":
        return "stop_gained"
    return "stop_lost" if ref_aa == "*" else "missense"


class ConsequenceIndex:
    """Genes by contig, sorted by start, for consequence look-ups of many variants."""

    def __init__(self, genes: list[Gene], genome: dict[str, str], table: int = 1) -> None:
        self.table = table
        self.genome = genome
        self.by_contig: dict[str, list[Gene]] = defaultdict(list)
        for gene in sorted(genes, key=lambda g: g.start):
            self.by_contig[gene.contig].append(gene)
        self.starts = {c: [g.start for g in gs] for c, gs in self.by_contig.items()}
        self.longest = max((g.end - g.start for g in genes), default=0)

    def __call__(self, contig: str, pos: int, alt: str) -> Consequence:
        """Consequence of `alt` at 0-based `pos` of `contig` (sequence names as in the genome)."""
        genes = self.by_contig.get(contig, [])
        lo = bisect.bisect_left(self.starts.get(contig, []), pos - self.longest)
        hits = [g for g in genes[lo:] if g.start <= pos < g.end]
        found = []
        for gene in hits:
            frac = (pos - gene.start) / max(1, gene.end - gene.start - 1)
            frac = 1 - frac if gene.strand == "-" else frac
            if gene.cds:
                kind = _coding(gene, pos, alt, self.genome[contig], self.table) or "utr_or_intron"
            else:
                kind = "non_coding_rna"
            found.append(Consequence(kind, gene.name or gene.id, round(frac, 4)))
        if not found:
            return Consequence("intergenic", "", -1.0)
        return min(found, key=lambda c: SEVERITY.index(c.kind))
