from genolm.logs import run_step
from genolm.windows import write_shard_plan

run_step(
    write_shard_plan,
    snakemake.log[0],
    splits=snakemake.input.splits,
    contigs=snakemake.input.contigs,
    out=snakemake.output[0],
    **snakemake.params,  # window, stride, shard_size: the function's settings by name
)
