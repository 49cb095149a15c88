"""Where a pretraining run executes: in this process, or in torchrun workers when several are configured."""

from __future__ import annotations

from pathlib import Path

import torch.distributed as dist

from genolm.pretrain.ddp import launch
from genolm.pretrain.loop import train_process
from genolm.pretrain.settings import PretrainSettings, RunPaths, check_pair, world_size


def train(
    windows_dir: str | Path,
    tokenizer_dir: str | Path,
    model_dir: str | Path,
    log_csv: str | Path,
    metrics_json: str | Path,
    checkpoint_dir: str | Path,
    settings: PretrainSettings,
) -> dict:
    """Pretrain a language model on windows and export it, resuming from the run's own checkpoint.

    Args:
        windows_dir: folder with `train.npy` and `val.npy` (base-code windows).
        tokenizer_dir: the saved tokenizer.
        model_dir: the exported model folder to write (safetensors, tokenizer, card, `genolm.json`).
        log_csv: the per-step log to write.
        metrics_json: the run's metrics to write.
        checkpoint_dir: where checkpoints (`latest`, `best`) are kept between attempts.
        settings: the run's hyperparameters; `processes`, `gpus` or `nodes` > 1 runs torchrun workers.

    Returns:
        The metrics written to `metrics_json`.

    Raises:
        GenolmError: bad settings, a non-finite loss, a stop by SIGTERM, or a failed worker.
    """
    paths = RunPaths(
        *map(str, (windows_dir, tokenizer_dir, model_dir, log_csv, metrics_json, checkpoint_dir))
    )
    world = world_size(settings)
    check_pair(settings)
    if world > 1 and not dist.is_initialized():
        return launch(paths, settings, world)
    return train_process(paths, settings)
