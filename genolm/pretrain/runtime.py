"""Where and how this process computes: rank, world, device and precision, and SIGTERM as a stop flag.

The device comes from `pretrain.gpus` alone (through `genolm.device`, as every torch stage), which the rule
also asks the scheduler for as its `gpu` resource, so the job that holds a GPU trains on it.
"""

from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass

import torch
import torch.distributed as dist

from genolm.device import autocast_dtype, resolve_device
from genolm.errors import GenolmError
from genolm.pretrain.settings import PretrainSettings, processes_per_node, world_size


@dataclass
class Runtime:
    """Where and how this process computes: rank, world, device, autocast dtype, micro-batch rows."""

    rank: int
    world: int
    device: torch.device
    autocast: torch.dtype | None
    micro: int | None

    def context(self) -> contextlib.AbstractContextManager:
        """Mixed-precision context of forward passes (a no-op in full precision)."""
        if self.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast)


def local_runtime(settings: PretrainSettings) -> Runtime:
    """One CPU process in full precision: for evaluating a model outside a training run."""
    return Runtime(0, 1, torch.device("cpu"), None, settings.micro_batch_size)


def resolve_runtime(settings: PretrainSettings) -> Runtime:
    """Rank and device of this process (torchrun sets RANK/LOCAL_RANK); bf16 autocast on capable GPUs.

    On CPU each node's threads are shared out over that node's processes.

    Raises:
        GenolmError: a bad process layout, a world size other than configured, or `pretrain.gpus` > 0
            without a visible GPU.
    """
    world = world_size(settings)
    rank = dist.get_rank() if dist.is_initialized() else 0
    if world != (dist.get_world_size() if dist.is_initialized() else 1):
        raise GenolmError(f"pretrain: {world} processes configured but this run has a different world size")
    device = resolve_device(settings.gpus, "pretrain.gpus")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    else:
        torch.set_num_threads(max(1, settings.threads // processes_per_node(settings)))
    return Runtime(rank, world, device, autocast_dtype(device), settings.micro_batch_size)


def sum_across(values: list[float], rt: Runtime) -> list[float]:
    """Sum small per-process statistics over all processes (identity in a single process)."""
    if rt.world == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=rt.device)
    dist.all_reduce(t)
    return t.tolist()


class Preemption:
    """Turns SIGTERM (SLURM's pre-emption notice) into a flag the loop checks between steps."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        self.requested = True

    def restore(self) -> None:
        """Put back the SIGTERM handler that was there before."""
        signal.signal(signal.SIGTERM, self._previous)
