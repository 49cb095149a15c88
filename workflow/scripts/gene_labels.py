from genolm.job import label_job
from genolm.labels import build_gene_table
from genolm.logs import run_step

# The label table's and GO slim's paths come from the rule's input (so edits to them rerun the task).
task = {k: v for k, v in snakemake.params.task.items() if k not in ("label_table", "go_slim")}
if snakemake.input.get("go_obo"):
    task["go_slim"] = {"obo": snakemake.input.go_obo, "slim": snakemake.input.go_slim}
run_step(
    build_gene_table,
    snakemake.log[0],
    annotation=snakemake.input.annotation,
    label_table=snakemake.input.get("label_table") or None,
    **label_job(snakemake),
    **task,
)
