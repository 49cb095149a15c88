from pathlib import Path

from genolm.job import job_settings, run_rule
from genolm.pretrain import PretrainSettings, gpus_per_node, train

# The job's own GPUs (a profile's set-resources) rather than the config's: its gpu resource counts all nodes.
gpus = gpus_per_node(int(snakemake.resources.gpu), snakemake.params.settings["nodes"])
run_rule(
    train,
    snakemake,
    windows_dir=Path(snakemake.input.windows[0]).parent,
    settings=job_settings(PretrainSettings, snakemake, gpus=gpus),
)
