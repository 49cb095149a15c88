from genolm.corpus import list_shards
from genolm.job import run_rule

run_rule(
    list_shards,
    snakemake,
    script_params=["names"],
    plans=dict(zip(snakemake.params.names, snakemake.input, strict=True)),
)
