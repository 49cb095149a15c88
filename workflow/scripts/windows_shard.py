from genolm.logs import run_step
from genolm.windows import window_shard

run_step(
    window_shard,
    snakemake.log[0],
    codes=snakemake.input.codes,
    contigs=snakemake.input.contigs,
    plan=snakemake.input.plan,
    shard=int(snakemake.wildcards.shard),
    out_dir=snakemake.output[0],
    window=snakemake.params.window,
    stride=snakemake.params.stride,
    max_n_fraction=snakemake.params.max_n_fraction,
    soft_mask=snakemake.params.soft_mask,
    max_soft_mask_fraction=snakemake.params.max_soft_mask_fraction,
    dedup=snakemake.params.dedup,
)
