from genolm.baselines.genes import run_baseline
from genolm.logs import run_step

run_step(
    run_baseline,
    snakemake.log[0],
    table_tsv=snakemake.input.table,
    method=snakemake.wildcards.method,
    predictions_tsv=snakemake.output.predictions,
    metrics_json=snakemake.output.metrics,
    task_type=snakemake.params.task_type,
    seed=snakemake.params.seed,
    cnn=snakemake.params.cnn,
    threads=snakemake.threads,
)
