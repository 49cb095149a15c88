from genolm.job import run_rule
from genolm.windows import WindowFilter, window_shard

run_rule(
    window_shard,
    snakemake,
    shard=int(snakemake.wildcards.shard),
    filters=WindowFilter(**snakemake.params.filters),
)
