from genolm.labels import build_gene_table
from genolm.logs import run_step

# The label table's path comes from the rule's input (so edits to it rerun the task), not params.
task = {k: v for k, v in snakemake.params.task.items() if k != "label_table"}
run_step(
    build_gene_table,
    snakemake.log[0],
    annotation=snakemake.input.annotation,
    genome=snakemake.input.genome,
    splits=snakemake.input.splits,
    out_tsv=snakemake.output.table,
    summary_json=snakemake.output.summary,
    label_table=snakemake.input.get("label_table") or None,
    **task,
)
