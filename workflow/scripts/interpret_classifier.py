from genolm.interpret.classifier import interpret_classifier
from genolm.job import job_resources, optional_input
from genolm.logs import run_step

# The rule names its outputs and params as interpret_classifier's arguments.
run_step(
    interpret_classifier,
    snakemake.log[0],
    table_tsv=snakemake.input.table,
    classifier_dir=snakemake.input.classifier,
    motif_database=optional_input(snakemake.input.database),
    **snakemake.output,
    **snakemake.params,
    **job_resources(snakemake),
)
