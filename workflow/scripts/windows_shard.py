from genolm.logs import run_step
from genolm.windows import WindowFilter, window_shard

run_step(
    window_shard,
    snakemake.log[0],
    codes=snakemake.input.codes,
    contigs=snakemake.input.contigs,
    plan=snakemake.input.plan,
    shard=int(snakemake.wildcards.shard),
    out_dir=snakemake.output[0],
    filters=WindowFilter(**snakemake.params.filters),
)
