from genolm.corpus import corpus_provenance
from genolm.logs import run_step

run_step(
    corpus_provenance,
    snakemake.log[0],
    records=dict(zip(snakemake.params.names, snakemake.input, strict=True)),
    out=snakemake.output[0],
)
