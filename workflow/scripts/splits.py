from genolm.io.fasta import contig_lengths
from genolm.logs import run_step
from genolm.splits import make_splits, write_splits


def main(genome, out, seed, split):
    write_splits(make_splits(contig_lengths(genome), seed=seed, **split), out)


run_step(
    main,
    snakemake.log[0],
    genome=snakemake.input.genome,
    out=snakemake.output[0],
    seed=snakemake.params.seed,
    split=dict(snakemake.params.split),
)
