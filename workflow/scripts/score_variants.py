from genolm.job import job_resources, optional_input
from genolm.logs import run_step
from genolm.variants import score_variants

run_step(
    score_variants,
    snakemake.log[0],
    table_tsv=snakemake.input.table,
    model_dir=optional_input(snakemake.input.model),  # the baselines need no model
    method=snakemake.wildcards.method,
    scores_tsv=snakemake.output.scores,
    metrics_json=snakemake.output.metrics,
    **snakemake.params,  # seed, cnn: the function's settings by name
    **job_resources(snakemake),
)
