from pathlib import Path

from genolm.logs import run_step
from genolm.train import PretrainSettings, pretrain

settings = PretrainSettings(
    **snakemake.params.model,
    **{k: v for k, v in snakemake.params.pretrain.items() if k not in ("mem_mb", "runtime")},
    seed=snakemake.params.seed,
)
run_step(
    pretrain,
    snakemake.log[0],
    windows_dir=Path(snakemake.input.windows[0]).parent,
    tokenizer_dir=snakemake.input.tokenizer,
    model_dir=snakemake.output.model,
    log_csv=snakemake.output.log_csv,
    metrics_json=snakemake.output.metrics,
    checkpoint_dir=snakemake.params.checkpoints,
    settings=settings,
)
