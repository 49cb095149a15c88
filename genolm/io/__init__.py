"""Readers for FASTA, gene annotations, VCF and contig names; numpy/pysam/Biopython only, never torch."""
