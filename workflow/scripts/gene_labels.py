from genolm.labels import build_gene_table
from genolm.logs import run_step

run_step(
    build_gene_table,
    snakemake.log[0],
    annotation=snakemake.input.annotation,
    genome=snakemake.input.genome,
    splits=snakemake.input.splits,
    out_tsv=snakemake.output.table,
    summary_json=snakemake.output.summary,
    **snakemake.params.task,
)
