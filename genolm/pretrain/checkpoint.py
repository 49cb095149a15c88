"""Checkpoints: written whole or not at all, resumed only by the run that wrote them (its fingerprint).

A checkpoint folder holds `model.safetensors`, `optimizer.pt` (tensors only, read with weights_only=True)
and `state.json` (step, history and the run fingerprint).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors import SafetensorError
from safetensors.torch import load_model as load_safetensors_model
from safetensors.torch import save_model as save_safetensors_model

from genolm.atomic import atomic_path, previous_path
from genolm.errors import GenolmError
from genolm.pretrain.runtime import Runtime
from genolm.pretrain.settings import PretrainSettings, recorded_settings

LOG = logging.getLogger(__name__)
#: Settings that do not change the trajectory, so a checkpoint written under other values still resumes.
UNFINGERPRINTED = frozenset({"threads", "max_minutes", "checkpoint_every", "compile"})


def run_fingerprint(settings: PretrainSettings, train_windows: np.ndarray, val: np.ndarray, tokenizer) -> str:
    """A digest of everything that shapes the training trajectory: settings, data and vocabulary.

    A checkpoint is resumed only when its fingerprint matches, so a rerun after a config or data
    change starts afresh instead of continuing a run that no longer exists.
    """
    digest = hashlib.sha256(
        json.dumps(
            {
                "settings": {
                    k: v for k, v in recorded_settings(settings).items() if k not in UNFINGERPRINTED
                },
                "shapes": [list(train_windows.shape), list(val.shape)],
                "vocab": tokenizer.get_vocab(),
            },
            sort_keys=True,
        ).encode()
    )
    for arr in (train_windows, val):  # a sample of rows: cheap even for a human genome
        digest.update(np.ascontiguousarray(arr[:: max(1, len(arr) // 256)]).tobytes())
    return digest.hexdigest()


def save_checkpoint(
    path: Path, model, optimizer, step: int, history: list[dict], fingerprint: str = ""
) -> None:
    """Model (safetensors), optimizer state (tensors only) and position, renamed into place at once."""
    with atomic_path(path) as tmp:
        tmp.mkdir()
        save_safetensors_model(model, str(tmp / "model.safetensors"))
        if optimizer is not None:
            torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        state = {"step": step, "history": history, "fingerprint": fingerprint}
        (tmp / "state.json").write_text(json.dumps(state))
    LOG.info("checkpoint written at step %d to %s", step, path)


def load_checkpoint(path: Path, model, optimizer) -> tuple[int, list[dict]]:
    """Restore a checkpoint written by `save_checkpoint` into `model` (and `optimizer` unless None).

    Returns:
        The step and the history it was written at.

    Raises:
        GenolmError: the checkpoint does not fit the model or holds anything but tensors.
    """
    try:
        load_safetensors_model(model, str(path / "model.safetensors"))
        if optimizer is not None:
            optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    except (RuntimeError, ValueError, SafetensorError, pickle.UnpicklingError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise GenolmError(
            f"{path}: checkpoint does not fit the configured model ({first}); delete it to start afresh"
        ) from err
    state = json.loads((path / "state.json").read_text())
    return int(state["step"]), list(state["history"])


def checkpoint_fingerprint(path: Path) -> str | None:
    """The fingerprint a checkpoint was written with (None when unreadable)."""
    try:
        return json.loads((path / "state.json").read_text()).get("fingerprint")
    except (OSError, ValueError):
        return None


def resume(checkpoint_dir: Path, fingerprint: str, model, optimizer, rt: Runtime) -> tuple[int, list[dict]]:
    """Load `checkpoint_dir/latest` when this run wrote it; else start at step 0 with no stale checkpoints.

    A run killed while swapping checkpoints left only the previous one, which is taken. Only rank 0
    changes files; the other processes wait for it before reading.

    Returns:
        The step to continue from and the history so far.
    """
    latest, best = checkpoint_dir / "latest", checkpoint_dir / "best"
    if not latest.is_dir() and previous_path(latest).is_dir() and rt.rank == 0:
        os.replace(previous_path(latest), latest)
    if latest.is_dir() and checkpoint_fingerprint(latest) != fingerprint:
        if rt.rank == 0:
            LOG.warning("%s was written for other settings or data; starting afresh", latest)
            for stale in (latest, best):
                shutil.rmtree(stale, ignore_errors=True)
        if rt.world > 1:
            dist.barrier()
    if not latest.is_dir():
        return 0, []
    step, history = load_checkpoint(latest, model, optimizer)
    LOG.info("resumed from %s at step %d", latest, step)
    return step, history
