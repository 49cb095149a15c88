from pathlib import Path

from genolm.logs import run_step
from genolm.pretrain import PretrainSettings, gpus_per_node, train

# The job's own threads and GPUs (--set-threads, a profile's set-resources) rather than the config's.
JOB_KEYS = ("mem_mb", "runtime", "threads", "gpus")

nodes = snakemake.params.pretrain["nodes"]
settings = PretrainSettings(
    **snakemake.params.model,
    **{k: v for k, v in snakemake.params.pretrain.items() if k not in JOB_KEYS},
    threads=snakemake.threads,
    gpus=gpus_per_node(int(snakemake.resources.gpu), nodes),
    seed=snakemake.params.seed,
)
run_step(
    train,
    snakemake.log[0],
    windows_dir=Path(snakemake.input.windows[0]).parent,
    tokenizer_dir=snakemake.input.tokenizer,
    model_dir=snakemake.output.model,
    log_csv=snakemake.output.log_csv,
    metrics_json=snakemake.output.metrics,
    checkpoint_dir=snakemake.params.checkpoints,
    settings=settings,
)
