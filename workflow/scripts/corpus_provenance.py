from genolm.corpus import corpus_provenance
from genolm.job import run_rule

run_rule(
    corpus_provenance,
    snakemake,
    script_params=["names"],
    records=dict(zip(snakemake.params.names, snakemake.input, strict=True)),
)
