from genolm.corpus import list_shards
from genolm.logs import run_step

run_step(
    list_shards,
    snakemake.log[0],
    plans=dict(zip(snakemake.params.names, snakemake.input, strict=True)),
    out=snakemake.output[0],
)
