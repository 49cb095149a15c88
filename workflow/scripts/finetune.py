from genolm.finetune import FinetuneSettings, run_finetune
from genolm.logs import run_step

run_step(
    run_finetune,
    snakemake.log[0],
    table_tsv=snakemake.input.table,
    model_dir=snakemake.input.model,
    predictions_tsv=snakemake.output.predictions,
    metrics_json=snakemake.output.metrics,
    classifier_dir=snakemake.output.model,
    settings=FinetuneSettings(
        **snakemake.params.settings, seed=snakemake.params.seed, threads=snakemake.threads
    ),
    method=snakemake.wildcards.method,
    seeds=snakemake.params.seeds,
    task_type=snakemake.params.task_type,
    gpus=int(snakemake.resources.gpu),
)
