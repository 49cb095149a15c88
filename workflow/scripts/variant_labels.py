from genolm.job import label_job, optional_input
from genolm.labels import build_variant_table
from genolm.logs import run_step

run_step(
    build_variant_table,
    snakemake.log[0],
    variants=snakemake.input.variants,
    annotation=optional_input(snakemake.input.annotation),
    **label_job(snakemake),
    **snakemake.params.task,
)
