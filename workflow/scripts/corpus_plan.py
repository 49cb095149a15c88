from pathlib import Path

from genolm.corpus import plan_genome
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
    window=snakemake.params.window,
    stride=snakemake.params.stride,
    shard_size=snakemake.params.shard_size,
    soft_mask=snakemake.params.soft_mask,
    seed=snakemake.params.seed,
    split=dict(snakemake.params.split),
)
