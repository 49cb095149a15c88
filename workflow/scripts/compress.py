from genolm.compress import compress_model
from genolm.job import run_rule

run_rule(
    compress_model,
    snakemake,
    script_params=["tasks"],
    variant_tables=dict(zip(snakemake.params.tasks, snakemake.input.tables, strict=True)),
)
