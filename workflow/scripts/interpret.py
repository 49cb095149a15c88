from genolm.interpret.variants import interpret_variants
from genolm.job import job_resources
from genolm.logs import run_step

# The rule names its inputs, outputs and params as interpret_variants' arguments.
run_step(
    interpret_variants,
    snakemake.log[0],
    **snakemake.input,
    **snakemake.output,
    **snakemake.params,
    **job_resources(snakemake),
)
