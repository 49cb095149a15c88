from genolm.io.user_terms import display_name
from genolm.job import run_rule
from genolm.splits import split_genome

run_rule(
    split_genome,
    snakemake,
    source=display_name(snakemake.params.source),
    split=dict(snakemake.params.split),
)
