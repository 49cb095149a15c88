from genolm.interpret.variants import interpret_variants
from genolm.job import job_resources
from genolm.logs import run_step

run_step(
    interpret_variants,
    snakemake.log[0],
    table_tsv=snakemake.input.table,
    scores_tsv=snakemake.input.scores,
    model_dir=snakemake.input.model,
    ism_tsv=snakemake.output.ism_tsv,
    ism_npz=snakemake.output.ism_npz,
    attributions_tsv=snakemake.output.attributions,
    summary_json=snakemake.output.summary,
    **snakemake.params,  # top_variants, flank: the function's settings by name
    **job_resources(snakemake),
)
