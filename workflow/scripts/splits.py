from genolm.io.user_terms import display_name
from genolm.logs import run_step
from genolm.splits import split_genome

run_step(
    split_genome,
    snakemake.log[0],
    genome=snakemake.input.genome,
    splits_out=snakemake.output.splits,
    contigs_out=snakemake.output.contigs,
    codes_out=snakemake.output.codes,
    window=snakemake.params.window,
    stride=snakemake.params.stride,
    soft_mask=snakemake.params.soft_mask,
    seed=snakemake.params.seed,
    split=dict(snakemake.params.split),
    source=display_name(snakemake.params.source),
)
