from genolm.io.user_terms import display_name
from genolm.job import split_settings
from genolm.logs import run_step
from genolm.splits import split_genome

run_step(
    split_genome,
    snakemake.log[0],
    genome=snakemake.input.genome,
    splits_out=snakemake.output.splits,
    contigs_out=snakemake.output.contigs,
    codes_out=snakemake.output.codes,
    source=display_name(snakemake.params.source),
    **split_settings(snakemake),
)
