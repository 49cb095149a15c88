from genolm.distill import DistillSettings, run_distill
from genolm.job import job_settings
from genolm.logs import run_step

# The rule names its inputs and outputs as run_distill's arguments.
run_step(
    run_distill,
    snakemake.log[0],
    **snakemake.input,
    **snakemake.output,
    settings=job_settings(DistillSettings, snakemake),
    task_type=snakemake.params.task_type,
    gpus=int(snakemake.resources.gpu),
)
