"""Which device a torch stage computes on, decided by one setting (a GPU count) that also sizes the job.

Every rule that runs torch asks the scheduler for `resources: gpu=<the stage's gpus setting>` and its
script passes `snakemake.resources.gpu` here, so a profile that sets `gpu` (profiles/slurm-gpu) reaches
the code: the job that holds a GPU computes on it. CPU stays the default.
"""

from __future__ import annotations

import contextlib
import os

import torch

from genolm.errors import GenolmError


def resolve_device(gpus: int, key: str) -> torch.device:
    """The device for a stage given its GPU count.

    Args:
        gpus: GPUs the job holds (0: CPU).
        key: the setting's name as the user writes it (e.g. `gene_function.finetune.gpus`), for errors.

    Returns:
        `cuda:<LOCAL_RANK>` when `gpus` > 0, else `cpu`.

    Raises:
        GenolmError: `gpus` > 0 but torch sees no CUDA device.
    """
    if gpus <= 0:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise GenolmError(f"{key} is {gpus} but no CUDA GPU is visible to torch")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 on a CUDA device that supports it (Ampere and later), else None (full precision)."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """Mixed-precision context for forward passes on `device` (a no-op on CPU)."""
    dtype = autocast_dtype(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
