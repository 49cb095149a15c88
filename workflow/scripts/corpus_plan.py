from pathlib import Path

from genolm.corpus import plan_genome
from genolm.job import run_rule

run_rule(
    plan_genome,
    snakemake,
    genome=snakemake.input.genome,  # the genome wildcard is its name
    out_dir=Path(snakemake.output[0]).parent,
    name=snakemake.wildcards.genome,
    listed=list(snakemake.params.listed),
    split=dict(snakemake.params.split),
)
