"""The synthetic genome: a seeded sequence model, contigs with genes and promoters, their FASTA and GFF3.

Why: gene-function tasks need genes whose class is learnable from codon usage and motifs but not
trivially; every byte is a function of the caller's numpy Generator, so the demo is reproducible.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from Bio import bgzf
from Bio.Data import CodonTable

from genolm.atomic import atomic_path

_CODE = CodonTable.unambiguous_dna_by_id[1]  # the standard genetic code
AA_OF: dict[str, str] = _CODE.forward_table
_SENSE = sorted(AA_OF)
STOPS = ("TAA", "TAG", "TGA")
_STOP_WEIGHTS = (0.6, 0.1, 0.3)
COMP = str.maketrans("ACGTNacgtn", "TGCANtgcan")
_INDEX_TO_BASE = bytes.maketrans(b"\x00\x01\x02\x03", b"ACGT")

# Promoter + 5' UTR upstream of ATG: -35 box, 17 bp spacer, -10 box, 7 bp to the TSS, UTR with a
# Shine-Dalgarno site. Offsets below are relative to the A of ATG (negative = upstream).
_MINUS35, _MINUS10, _SD = "TTGACA", "TATAAT", "AGGAGG"
_PROMOTER_LEN = 6 + 17 + 6 + 7 + 5 + 6 + 7
BOX_OFFSETS = tuple(range(-_PROMOTER_LEN, -_PROMOTER_LEN + 6)) + tuple(
    range(-_PROMOTER_LEN + 23, -_PROMOTER_LEN + 29)
)

_MARKOV_BINS = 1024  # resolution of the inverse-CDF lookup for the background Markov chain
_MIN_CODONS, _MAX_CODONS = 100, 500  # CDS of 300-1500 bp including ATG and the stop codon
_CLASS_STRENGTH_MAX = 0.5  # a gene's codon usage mixes its class table in with weight U(0, this)
_MOTIF_CODONS = 3
_NC_PER_CONTIG = ("rRNA", "tRNA", "tRNA")
_GC_RICH = "gc_rich"  # second label of `synthetic_functions`: CDS GC above the coding genes' median
_TRNA_AA = ("Ala", "Arg", "Gly", "Leu", "Lys", "Met", "Phe", "Pro", "Ser", "Thr", "Val")


@dataclass(frozen=True)
class Gene:
    """One simulated gene; `start`/`end` are 1-based inclusive genome coordinates of the gene body."""

    gid: int
    contig: str
    start: int
    end: int
    strand: str
    biotype: str
    function_class: str | None
    product: str
    cds: str  # coding-strand sequence, ATG..stop; empty for non-coding genes

    @property
    def name(self) -> str:
        return f"sim{self.gid:04d}"

    def pos(self, k: int) -> int:
        """Genome position of coding-strand offset k from the first base of ATG (negative = promoter)."""
        return self.start + k if self.strand == "+" else self.end - k


@dataclass(frozen=True)
class _Model:
    """Seed-drawn sequence statistics shared by all contigs."""

    markov_table: list[int]  # (state << 10 | bin) -> base index, state = last two bases
    aa_freq: np.ndarray  # per sense codon: frequency of its amino acid
    background_pref: np.ndarray  # per sense codon: synonymous preference shared by all genes
    class_pref: np.ndarray  # n_classes x sense codons: class-specific synonymous preference
    motifs: list[str]
    repeats: list[str]


def sequence_model(rng: np.random.Generator, n_classes: int) -> _Model:
    pi = np.array([0.28, 0.22, 0.22, 0.28])  # GC ~0.45
    trans = np.tile(pi, (16, 1)) * rng.lognormal(0.0, 0.25, size=(16, 4))
    trans[np.arange(16) % 4 == 1, 2] *= 0.6  # CpG depletion
    trans[np.arange(16), np.arange(16) % 4] *= 1.2  # homopolymer runs
    cum = np.cumsum(trans / trans.sum(axis=1, keepdims=True), axis=1)
    bins = (np.arange(_MARKOV_BINS) + 0.5) / _MARKOV_BINS
    table = np.minimum((bins[None, :, None] > cum[:, None, :]).sum(axis=2), 3)

    groups: dict[str, list[int]] = {}
    for i, codon in enumerate(_SENSE):
        groups.setdefault(AA_OF[codon], []).append(i)
    aa_weights = dict(zip(sorted(groups), rng.dirichlet(np.full(len(groups), 10.0)), strict=True))
    aa_freq = np.array([aa_weights[AA_OF[c]] for c in _SENSE])

    def synonymous_pref(alpha: float) -> np.ndarray:
        pref = np.zeros(len(_SENSE))
        for idx in groups.values():
            pref[idx] = rng.dirichlet(np.full(len(idx), alpha))
        return pref

    background = synonymous_pref(4.0)
    class_pref = np.stack([synonymous_pref(0.7) for _ in range(n_classes)])
    motifs = ["".join(rng.choice(_SENSE, size=_MOTIF_CODONS)) for _ in range(n_classes)]
    repeats = [_random_dna(rng, int(rng.integers(120, 320)), gc=0.5) for _ in range(3)]
    return _Model(table.astype(np.uint8).ravel().tolist(), aa_freq, background, class_pref, motifs, repeats)


def _random_dna(rng: np.random.Generator, n: int, gc: float) -> str:
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return bytes(rng.choice(4, size=n, p=p).astype(np.uint8)).translate(_INDEX_TO_BASE).decode()


def _markov_background(rng: np.random.Generator, n: int, table: list[int]) -> bytearray:
    """Second-order Markov sequence via a precomputed inverse-CDF table (a plain loop, ~0.1 s per 100 kb)."""
    out = bytearray(n)
    state = int(rng.integers(16))
    for i, q in enumerate(rng.integers(0, _MARKOV_BINS, size=n).tolist()):
        base = table[(state << 10) | q]
        out[i] = base
        state = ((state << 2) | base) & 15
    return out.translate(_INDEX_TO_BASE)


def _revcomp(seq: str) -> str:
    return seq.translate(COMP)[::-1]


def _coding_sequence(rng: np.random.Generator, model: _Model, class_index: int) -> str:
    """ATG + codons drawn from a per-gene mix of shared and class codon usage + class motifs + stop."""
    n_codons = int(rng.integers(_MIN_CODONS, _MAX_CODONS + 1))
    strength = rng.uniform(0.0, _CLASS_STRENGTH_MAX)
    pref = (1 - strength) * model.background_pref + strength * model.class_pref[class_index]
    p = model.aa_freq * pref
    codons = ["ATG", *(_SENSE[i] for i in rng.choice(len(_SENSE), size=n_codons - 2, p=p / p.sum()))]
    for at in rng.integers(1, n_codons - _MOTIF_CODONS, size=int(rng.integers(0, 4))):
        motif = model.motifs[class_index]
        codons[at : at + _MOTIF_CODONS] = [motif[i : i + 3] for i in range(0, len(motif), 3)]
    codons.append(STOPS[rng.choice(3, p=_STOP_WEIGHTS)])
    return "".join(codons)


def _promoter(rng: np.random.Generator) -> str:
    def rand(n: int) -> str:
        return _random_dna(rng, n, gc=0.4)

    return _MINUS35 + rand(17) + _MINUS10 + rand(7) + rand(5) + _SD + rand(7)


def _noncoding(rng: np.random.Generator, biotype: str) -> tuple[str, str]:
    if biotype == "tRNA":
        return _random_dna(rng, int(rng.integers(72, 92)), gc=0.55), f"tRNA-{rng.choice(_TRNA_AA)}"
    if rng.random() < 0.5:
        return _random_dna(rng, int(rng.integers(115, 121)), gc=0.55), "5S ribosomal RNA"
    return _random_dna(rng, int(rng.integers(1400, 1550)), gc=0.55), "16S ribosomal RNA"


def build_contig(
    rng: np.random.Generator,
    name: str,
    length: int,
    classes: list[str],
    model: _Model,
    density: float,
    first_id: int,
) -> tuple[bytearray, list[Gene], list[tuple[int, int]]]:
    """Lay genes (with spacers) along a Markov background; decorate spacers with repeats and N runs.

    Returns the sequence, its genes and the intergenic spacers as 0-based half-open intervals.
    """
    seq = _markov_background(rng, length, model.markov_table)
    mean_footprint = _PROMOTER_LEN + 3 * (_MIN_CODONS + _MAX_CODONS) / 2
    mean_gap = max(80.0, mean_footprint * (1 - density) / density)
    expected_slots = max(1, int(length * density / mean_footprint))
    nc_slots = rng.choice(expected_slots, size=min(len(_NC_PER_CONTIG), expected_slots), replace=False)
    nc_kind = dict(zip(nc_slots.tolist(), _NC_PER_CONTIG, strict=False))
    genes: list[Gene] = []
    spacers: list[tuple[int, int]] = []
    pos = 0
    while True:
        gap = int(rng.integers(int(0.4 * mean_gap), int(1.6 * mean_gap) + 1))
        strand = "+" if rng.random() < 0.5 else "-"
        biotype = nc_kind.get(len(genes), "protein_coding")
        if biotype == "protein_coding":
            class_index = int(rng.integers(len(classes)))
            upstream, body = _promoter(rng), _coding_sequence(rng, model, class_index)
            function_class, product = classes[class_index], f"synthetic protein {len(genes) + first_id}"
        else:
            (body, product), upstream, function_class = _noncoding(rng, biotype), "", None
        if pos + gap + len(upstream) + len(body) + 50 > length:
            break
        footprint = upstream + body if strand == "+" else _revcomp(upstream + body)
        start0 = pos + gap
        seq[start0 : start0 + len(footprint)] = footprint.encode()
        body0 = start0 + len(upstream) if strand == "+" else start0
        genes.append(
            Gene(
                gid=first_id + len(genes),
                contig=name,
                start=body0 + 1,
                end=body0 + len(body),
                strand=strand,
                biotype=biotype,
                function_class=function_class,
                product=product,
                cds=body if function_class else "",
            )
        )
        spacers.append((pos, start0))
        pos = start0 + len(footprint)
    spacers.append((pos, length))
    _decorate_spacers(rng, seq, spacers, model.repeats)
    return seq, genes, spacers


def _decorate_spacers(
    rng: np.random.Generator, seq: bytearray, spacers: list[tuple[int, int]], repeats: list[str]
) -> None:
    """Put a few N runs and soft-masked (lowercase) mutated repeat copies into long spacers."""
    longest = max(len(r) for r in repeats) + 100
    eligible = [s for s in spacers if s[1] - s[0] >= longest]
    n_runs = min(3, len(eligible))
    n_spacers = set(rng.choice(len(eligible), size=n_runs, replace=False).tolist()) if n_runs else set()
    for i, (a, b) in enumerate(eligible):
        if i in n_spacers:
            run = int(rng.integers(10, 60))
            at = int(rng.integers(a + 50, b - 50 - run))
            seq[at : at + run] = b"N" * run
        elif rng.random() < 0.35:
            copy = bytearray(repeats[int(rng.integers(len(repeats)))].lower().encode())
            for j in np.flatnonzero(rng.random(len(copy)) < 0.05).tolist():
                copy[j] = ord(rng.choice(list("acgt")))
            at = int(rng.integers(a + 50, b - 50 - len(copy)))
            seq[at : at + len(copy)] = copy


def write_bgzf(path: str | os.PathLike, text: str) -> None:
    """Atomic BGZF: plain-gzip readable, but also what pysam/htslib need to open, index and seek.

    BGZF headers carry no mtime and no file name, so equal content gives equal bytes.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as raw, bgzf.BgzfWriter(fileobj=raw, mode="wb") as out:
        out.write(text.encode("ascii"))


def fasta_text(contigs: dict[str, bytearray], seed: int) -> str:
    parts = []
    for name, seq in contigs.items():
        text = seq.decode()
        lines = "\n".join(text[i : i + 60] for i in range(0, len(text), 60))
        parts.append(f">{name} synthetic demo contig seed={seed}\n{lines}\n")
    return "".join(parts)


def synthetic_functions(genes: list[Gene]) -> dict[int, str]:
    """Gene id -> the multi-label `synthetic_functions` attribute of each coding gene.

    Labels are read off what the sequence carries, with no random draw (so adding them changed no
    other byte of the demo): the function class (its codon usage and motifs) and `gc_rich` when the
    CDS's GC fraction is above the median of all coding genes (so about half the genes hold it).
    """
    coding = [g for g in genes if g.function_class]
    gc = {g.gid: (g.cds.count("G") + g.cds.count("C")) / len(g.cds) for g in coding}
    median = float(np.median(list(gc.values()))) if gc else 0.0
    return {
        g.gid: f"{g.function_class},{_GC_RICH}" if gc[g.gid] > median else str(g.function_class)
        for g in coding
    }


def gff_text(contigs: dict[str, bytearray], genes: list[Gene], seed: int) -> str:
    lines = ["##gff-version 3", f"# SYNTHETIC demo data generated by genolm.simulate (seed={seed})"]
    lines += [f"##sequence-region {name} 1 {len(seq)}" for name, seq in contigs.items()]
    functions = synthetic_functions(genes)
    for g in genes:
        gene_attrs = f"ID=gene-{g.gid};Name={g.name};gbkey=Gene;gene_biotype={g.biotype}"
        rna_kind = "mRNA" if g.function_class else g.biotype
        if g.function_class:
            gene_attrs += f";function_class={g.function_class};synthetic_functions={functions[g.gid]}"
        lines.append(_gff_row(g, "gene", gene_attrs))
        lines.append(
            _gff_row(g, rna_kind, f"ID=rna-{g.gid};Parent=gene-{g.gid};gbkey={rna_kind};product={g.product}")
        )
        lines.append(
            _gff_row(g, "exon", f"ID=exon-{g.gid}-1;Parent=rna-{g.gid};gbkey={rna_kind};product={g.product}")
        )
        if g.function_class:
            lines.append(
                _gff_row(g, "CDS", f"ID=cds-{g.gid};Parent=rna-{g.gid};gbkey=CDS;product={g.product}", "0")
            )
    return "\n".join(lines) + "\n"


def _gff_row(g: Gene, kind: str, attributes: str, phase: str = ".") -> str:
    return "\t".join(
        [g.contig, "genolm.simulate", kind, str(g.start), str(g.end), ".", g.strand, phase, attributes]
    )
