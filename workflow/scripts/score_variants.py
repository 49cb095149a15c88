from genolm.logs import run_step
from genolm.variants import score_variants

run_step(
    score_variants,
    snakemake.log[0],
    table_tsv=snakemake.input.table,
    method=snakemake.wildcards.method,
    scores_tsv=snakemake.output.scores,
    metrics_json=snakemake.output.metrics,
    model_dir=snakemake.input.model[0] if snakemake.input.model else None,
    seed=snakemake.params.seed,
    threads=snakemake.threads,
    gpus=int(snakemake.resources.gpu),
    cnn=snakemake.params.cnn,
)
