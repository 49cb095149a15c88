from genolm.compress import compress_model
from genolm.logs import run_step

run_step(
    compress_model,
    snakemake.log[0],
    model_dir=snakemake.input.model,
    test_windows=snakemake.input.windows,
    metrics_json=snakemake.output.metrics,
    timing_json=snakemake.output.timing,
    variant_tables=dict(zip(snakemake.params.tasks, snakemake.input.tables, strict=True)),
    max_windows=snakemake.params.max_windows,
    seed=snakemake.params.seed,
    threads=snakemake.threads,
)
