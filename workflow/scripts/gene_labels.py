from genolm.io.user_terms import display_names
from genolm.job import run_rule
from genolm.labels import build_gene_table

# The label table's and GO slim's paths come from the rule's input (so edits to them rerun the task).
task = {k: v for k, v in snakemake.params.task.items() if k not in ("label_table", "go_slim")}
if snakemake.input.get("go_obo"):
    task["go_slim"] = {"obo": snakemake.input.go_obo, "slim": snakemake.input.slim_obo}
run_rule(
    build_gene_table,
    snakemake,
    script_params=["task"],
    label_table=snakemake.input.get("label_table") or None,
    sources=display_names(snakemake.params.sources),  # errors name the inputs as the user wrote them
    **task,
)
