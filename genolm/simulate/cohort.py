"""A synthetic case/control cohort on a genome and its annotation, with planted causal genes.

Why: the gene-prioritisation stage needs genotypes whose truth is known. Each protein-coding gene gets
a few rare SNVs in its CDS (stop-gained, missense and synonymous, read off the codon they change);
in the planted genes, every stop-gained allele adds `effect` to a sample's log-odds of being a case
and every missense allele `effect * MISSENSE_SHARE` (synonymous alleles add nothing), on top of a
covariate `pc1` that also shifts risk. The draws come from their own stream of the seed
(`default_rng([seed, COHORT_STREAM])`), so the demo's other files do not change.
"""

from __future__ import annotations

import os

import numpy as np
from Bio.Data import CodonTable

from genolm.atomic import write_text
from genolm.errors import GenolmError
from genolm.io.annotation import Gene, read_genes
from genolm.io.fasta import decode, read_genome
from genolm.sequence import complement
from genolm.simulate.genome import write_bgzf

#: Second entropy word of the cohort's Generator: a stream of its own, independent of the genome's.
COHORT_STREAM = 18
#: Share of a stop-gained allele's effect that a missense allele carries in a planted gene.
MISSENSE_SHARE = 0.3
COVARIATE_EFFECT = 0.5  # log-odds per SD of pc1
_KINDS = ("stop_gained", "missense", "synonymous")
_KIND_MIX = (0.25, 0.45, 0.30)
_EFFECT_SHARE = {"stop_gained": 1.0, "missense": MISSENSE_SHARE, "synonymous": 0.0}
_AA_OF = CodonTable.unambiguous_dna_by_id[1].forward_table


def simulate_cohort(
    genome_path: str | os.PathLike,
    annotation_path: str | os.PathLike,
    genotypes_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    causal_path: str | os.PathLike,
    *,
    seed: int = 42,
    samples: int = 1000,
    causal_genes: int = 5,
    sites_per_gene: int = 6,
    max_af: float = 0.02,
    effect: float = 1.5,
) -> dict:
    """Write a cohort VCF.gz (diploid GT), its case/control TSV and the planted causal genes.

    Args:
        genome_path: FASTA (plain or gzipped) the annotation refers to.
        annotation_path: GFF3/GTF/GenBank; its protein-coding genes receive the sites.
        genotypes_path: BGZF VCF to write, samples S0001, S0002, ...
        labels_path: TSV to write: sample, label (case/control), pc1 (a covariate).
        causal_path: TSV to write: gene, contig, start, end (1-based) of the planted genes.
        seed: the cohort uses `default_rng([seed, COHORT_STREAM])`.
        samples: cohort size.
        causal_genes: planted genes (0 gives a null cohort: case status depends on pc1 only).
        sites_per_gene: rare SNVs per protein-coding gene.
        max_af: alt allele frequencies are drawn uniformly in [max_af / 10, max_af].
        effect: log-odds per stop-gained allele in a planted gene.

    Returns:
        A summary: samples, cases, sites per consequence, the planted genes.

    Raises:
        GenolmError: a parameter out of range, or fewer coding genes than `causal_genes`.
    """
    _check(samples, causal_genes, sites_per_gene, max_af)
    rng = np.random.default_rng([seed, COHORT_STREAM])
    seqs = {name: decode(codes) for name, codes in read_genome(genome_path).items()}
    genes = sorted((g for g in read_genes(annotation_path) if g.cds), key=lambda g: (g.contig, g.start))
    if len(genes) < max(causal_genes, 1):
        raise GenolmError(f"{annotation_path}: {len(genes)} protein-coding genes, fewer than causal_genes")
    sites = [(g, *site) for g in genes for site in _gene_sites(rng, g, seqs[g.contig], sites_per_gene)]
    order = {name: i for i, name in enumerate(seqs)}
    sites.sort(key=lambda s: (order[s[0].contig], s[1]))
    af = rng.uniform(max_af / 10, max_af, size=len(sites))
    dosage = rng.binomial(2, af[:, None], size=(len(sites), samples)).astype(np.int8)
    planted = sorted(rng.choice(len(genes), size=causal_genes, replace=False).tolist())
    planted_names = {_name(genes[i]) for i in planted}
    share = np.array([_EFFECT_SHARE[s[4]] if _name(s[0]) in planted_names else 0.0 for s in sites])
    pc1 = rng.standard_normal(samples)
    logit = effect * (share @ dosage) + COVARIATE_EFFECT * pc1
    case = rng.random(samples) < _sigmoid(_half_cases(logit) + logit)
    names = [f"S{i + 1:04d}" for i in range(samples)]
    write_bgzf(genotypes_path, _vcf_text(seqs, sites, dosage, names, seed))
    rows = [f"{n}\t{'case' if c else 'control'}\t{x:.4f}" for n, c, x in zip(names, case, pc1, strict=True)]
    write_text(labels_path, "sample\tlabel\tpc1\n" + "\n".join(rows) + "\n")
    causal = [f"{_name(genes[i])}\t{genes[i].contig}\t{genes[i].start + 1}\t{genes[i].end}" for i in planted]
    write_text(causal_path, "gene\tcontig\tstart\tend\n" + "".join(f"{r}\n" for r in causal))
    return {
        "samples": samples,
        "cases": int(case.sum()),
        "sites": {kind: sum(s[4] == kind for s in sites) for kind in _KINDS},
        "causal_genes": sorted(planted_names),
    }


def _check(samples: int, causal_genes: int, sites_per_gene: int, max_af: float) -> None:
    if samples < 20:
        raise GenolmError(f"simulate cohort: samples must be >= 20, got {samples}")
    if causal_genes < 0:
        raise GenolmError(f"simulate cohort: causal_genes must be >= 0, got {causal_genes}")
    if sites_per_gene < 1:
        raise GenolmError(f"simulate cohort: sites_per_gene must be >= 1, got {sites_per_gene}")
    if not 0 < max_af <= 0.5:
        raise GenolmError(f"simulate cohort: max_af must be in (0, 0.5], got {max_af}")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _half_cases(logit: np.ndarray) -> float:
    """The intercept that makes the expected case fraction 1/2 (bisection; the mean is monotone in it)."""
    lo, hi = -50.0, 50.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _sigmoid(mid + logit).mean() < 0.5 else (lo, mid)
    return (lo + hi) / 2


def _name(gene: Gene) -> str:
    return gene.name or gene.id


def _gene_sites(rng: np.random.Generator, gene: Gene, genome: str, n: int) -> list[tuple[int, str, str, str]]:
    """Up to n SNVs at distinct CDS positions as (1-based pos, ref, alt, kind); kinds drawn from _KIND_MIX.

    Every SNV of the CDS between its start and stop codons is classified by the codon it changes
    (standard code), then each site's kind is drawn first and its SNV among those of that kind.
    """
    positions = [p for start, end in gene.cds for p in range(start, end)]
    if gene.strand == "-":
        positions = positions[::-1]
    coding = "".join(genome[p] for p in positions)
    coding = complement(coding) if gene.strand == "-" else coding
    by_kind: dict[str, list[tuple[int, str]]] = {kind: [] for kind in _KINDS}
    for i in range(3, len(coding) - len(coding) % 3 - 3):
        codon = coding[i - i % 3 : i - i % 3 + 3]
        if codon not in _AA_OF:
            continue
        for base in "ACGT":
            new = codon[: i % 3] + base + codon[i % 3 + 1 :]
            if base != codon[i % 3]:
                kind = _kind(codon, new)
                by_kind[kind].append((i, base))
    taken: set[int] = set()
    sites = []
    for kind in rng.choice(_KINDS, size=n, p=_KIND_MIX).tolist():
        options = [(i, b) for i, b in by_kind[kind] if i not in taken]
        if not options:
            continue
        i, base = options[int(rng.integers(len(options)))]
        taken.add(i)
        alt = complement(base) if gene.strand == "-" else base
        sites.append((positions[i] + 1, genome[positions[i]], alt, kind))
    return sites


def _kind(old: str, new: str) -> str:
    if new in ("TAA", "TAG", "TGA"):
        return "stop_gained"
    return "synonymous" if _AA_OF[new] == _AA_OF[old] else "missense"


def _vcf_text(seqs: dict[str, str], sites: list, dosage: np.ndarray, names: list[str], seed: int) -> str:
    header = [
        "##fileformat=VCFv4.2",
        f"##source=genolm.simulate synthetic demo cohort seed={seed}",
        *(f"##contig=<ID={name},length={len(seq)}>" for name, seq in seqs.items()),
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *names]),
    ]
    calls = np.array(["0/0", "0/1", "1/1"])[dosage]
    lines = [
        f"{gene.contig}\t{pos}\tcoh{k + 1:05d}\t{ref}\t{alt}\t.\t.\t.\tGT\t" + "\t".join(row)
        for k, ((gene, pos, ref, alt, _), row) in enumerate(zip(sites, calls, strict=True))
    ]
    return "\n".join(header + lines) + "\n"
