from pathlib import Path

from genolm.corpus import plan_genome
from genolm.job import split_settings
from genolm.logs import run_step

run_step(
    plan_genome,
    snakemake.log[0],
    genome=snakemake.input.genome,
    provenance=snakemake.input.provenance,
    task_splits=snakemake.input.get("task_splits"),
    out_dir=Path(snakemake.output.record).parent,
    name=snakemake.wildcards.genome,
    held_out=snakemake.params.entry["held_out"],
    sequences=snakemake.params.entry["sequences"],
    listed=list(snakemake.params.listed),
    shard_size=snakemake.params.shard_size,
    **split_settings(snakemake),
)
