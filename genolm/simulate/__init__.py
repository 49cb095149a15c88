"""Seeded simulator for the bundled SYNTHETIC demo data: a small genome, its GFF3, a ClinVar-style VCF
and a case/control cohort.

Why: the workflow needs inputs that run in seconds, carry a gene-function signal that is learnable but
not trivial, and hold variants whose labels follow from what they do to the sequence. Every byte is a
function of the seed (numpy's default_rng only; BGZF output, whose gzip headers hold no mtime or name).
The cohort (genolm.simulate.cohort) draws from its own stream of the seed, so adding it changed no byte
of the genome, annotation or variants.
"""

from __future__ import annotations

import os
import string
from collections import Counter

import numpy as np

from genolm.errors import GenolmError
from genolm.simulate.clinvar import simulate_variants, vcf_text
from genolm.simulate.cohort import simulate_cohort
from genolm.simulate.genome import (
    Gene,
    build_contig,
    fasta_text,
    gff_text,
    sequence_model,
    synthetic_functions,
    write_bgzf,
)

__all__ = ["Gene", "simulate", "simulate_cohort", "synthetic_functions"]

#: tests/test_motifs.py rebuilds the demo's class motifs through this name.
_sequence_model = sequence_model


def simulate(
    genome_path: str | os.PathLike,
    annotation_path: str | os.PathLike,
    variants_path: str | os.PathLike,
    *,
    seed: int = 42,
    n_contigs: int = 4,
    contig_length: int = 100_000,
    n_classes: int = 3,
    gene_density: float = 0.6,
    n_variants: int = 400,
) -> dict:
    """Write a synthetic genome (FASTA.gz), GFF3.gz annotation and ClinVar-style VCF.gz; return a summary."""
    _check_params(n_contigs, contig_length, n_classes, gene_density, n_variants)
    rng = np.random.default_rng(seed)
    classes = [f"class_{letter}" for letter in string.ascii_uppercase[:n_classes]]
    model = sequence_model(rng, n_classes)
    contigs: dict[str, bytearray] = {}
    genes: list[Gene] = []
    spacers: dict[str, list[tuple[int, int]]] = {}
    for i in range(1, n_contigs + 1):
        name = f"chrSim{i}"
        contigs[name], contig_genes, spacers[name] = build_contig(
            rng, name, contig_length, classes, model, gene_density, len(genes) + 1
        )
        genes.extend(contig_genes)
    variants, labels = simulate_variants(rng, contigs, genes, spacers, n_variants)
    write_bgzf(genome_path, fasta_text(contigs, seed))
    write_bgzf(annotation_path, gff_text(contigs, genes, seed))
    write_bgzf(variants_path, vcf_text(rng, contigs, variants, labels, seed))
    return {
        "seed": seed,
        "contigs": {name: len(seq) for name, seq in contigs.items()},
        "genes_per_class": dict(sorted(Counter(g.function_class for g in genes if g.function_class).items())),
        "noncoding_genes": dict(sorted(Counter(g.biotype for g in genes if not g.function_class).items())),
        "variants_per_clnsig": dict(sorted(Counter(clnsig for clnsig, _ in labels).items())),
        "variants_per_consequence": dict(sorted(Counter(v.consequence for v in variants).items())),
    }


def _check_params(
    n_contigs: int, contig_length: int, n_classes: int, density: float, n_variants: int
) -> None:
    if n_contigs < 1:
        raise GenolmError(f"simulate: n_contigs must be >= 1, got {n_contigs}")
    if contig_length < 5_000:
        raise GenolmError(f"simulate: contig_length must be >= 5000, got {contig_length}")
    if not 2 <= n_classes <= 26:
        raise GenolmError(f"simulate: n_classes must be between 2 and 26, got {n_classes}")
    if not 0.05 <= density <= 0.9:
        raise GenolmError(f"simulate: gene_density must be between 0.05 and 0.9, got {density}")
    if n_variants < 0:
        raise GenolmError(f"simulate: n_variants must be >= 0, got {n_variants}")
