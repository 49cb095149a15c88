"""The pretraining loop of one process: masked or causal LM, deterministic per step, resumable.

Every random choice at step `s` (which windows, which positions are masked, dropout) is derived from
`(seed, s)`, so a run resumed from a checkpoint at step `s` continues exactly as the uninterrupted run would
have, with no RNG state to carry. The loop runs alone or as one torchrun worker (`genolm.pretrain.worker`);
only rank 0 writes files. It stops at `max_steps`, at `patience` validations without improvement (exporting
the best), at `max_minutes`, or on SIGTERM (checkpoint, then a one-line error asking for a rerun).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from genolm.atomic import write_json
from genolm.errors import GenolmError
from genolm.models import count_parameters, masked_lm_part, objective
from genolm.pretrain.batches import max_tokens, training_batch
from genolm.pretrain.build import build_optimizer, build_run_model, lr_at
from genolm.pretrain.checkpoint import load_checkpoint, resume, run_fingerprint, save_checkpoint
from genolm.pretrain.evaluate import evaluate
from genolm.pretrain.export import export_model, write_log
from genolm.pretrain.loss import LMLoss, run_batch
from genolm.pretrain.runtime import Preemption, Runtime, resolve_runtime, sum_across
from genolm.pretrain.settings import PretrainSettings, RunPaths, check_pair, recorded_settings

LOG = logging.getLogger(__name__)


@dataclass
class _Run:
    """What the loop's helpers share: the run's settings, files, data, model and optimizer."""

    settings: PretrainSettings
    paths: RunPaths
    rt: Runtime
    pair: bool
    objective: str
    tokenizer: PreTrainedTokenizerBase
    train_windows: np.ndarray
    val: np.ndarray
    limit: int
    model: torch.nn.Module
    n_params: int
    optimizer: torch.optim.Optimizer
    fingerprint: str
    loss_fn: LMLoss | None = None
    runner: torch.nn.Module | None = None

    @property
    def checkpoints(self) -> Path:
        return Path(self.paths.checkpoint_dir)


class _Step(NamedTuple):
    """What one optimizer step measured, summed over processes."""

    loss: float
    accuracy: float
    pair_stats: dict
    preempted: bool
    out_of_time: bool
    tokens: int


def train_process(paths: RunPaths, settings: PretrainSettings) -> dict:
    """Train and export in this process (rank 0 of 1, or one torchrun worker in a process group).

    Args:
        paths: the run's input and output files.
        settings: the run's hyperparameters.

    Returns:
        The metrics written to `paths.metrics_json` (an empty dict on ranks other than 0).

    Raises:
        GenolmError: bad settings, a non-finite loss or gradient, or a stop by SIGTERM.
    """
    rt = resolve_runtime(settings)
    pair = check_pair(settings)
    torch.manual_seed(settings.seed)
    run = _prepare(paths, settings, rt, pair)
    step, history = resume(run.checkpoints, run.fingerprint, run.model, run.optimizer, rt)
    run.loss_fn, run.runner = _loss_modules(run)
    run.model.train()
    step, stop_reason = _loop(run, step, history)
    if rt.rank != 0:
        return {}
    return _finish(run, step, history, stop_reason)


def _prepare(paths: RunPaths, settings: PretrainSettings, rt: Runtime, pair: bool) -> _Run:
    """Load the windows and tokenizer, build the model on the device and its optimizer."""
    windows_dir = Path(paths.windows_dir)
    train_windows = np.load(windows_dir / "train.npy", mmap_mode="r")
    val = np.load(windows_dir / "val.npy", mmap_mode="r")
    tokenizer = AutoTokenizer.from_pretrained(paths.tokenizer_dir, local_files_only=True)
    objective_ = objective(settings.family)
    limit = max_tokens(tokenizer, train_windows.shape[1])
    model = build_run_model(settings, tokenizer, limit).to(rt.device)
    n_params = count_parameters(model)
    if rt.rank == 0:
        LOG.info(
            "%s %s model, %d parameters, %d training windows, %d process(es) on %s%s",
            settings.family,
            objective_,
            n_params,
            len(train_windows),
            rt.world,
            rt.device,
            " with bf16 autocast" if rt.autocast else "",
        )
    optimizer = build_optimizer(model, settings, rt.device)
    fingerprint = run_fingerprint(settings, train_windows, val, tokenizer)
    return _Run(
        settings=settings,
        paths=paths,
        rt=rt,
        pair=pair,
        objective=objective_,
        tokenizer=tokenizer,
        train_windows=train_windows,
        val=val,
        limit=limit,
        model=model,
        n_params=n_params,
        optimizer=optimizer,
        fingerprint=fingerprint,
    )


def _loss_modules(run: _Run) -> tuple[LMLoss, torch.nn.Module]:
    """The loss module (compiled when asked) and what the step runs: itself, or its DDP wrapper."""
    loss_fn = LMLoss(run.model, run.objective)
    if run.settings.compile:
        loss_fn.compile(dynamic=True)
    if run.rt.world == 1:
        return loss_fn, loss_fn
    ids = [run.rt.device.index] if run.rt.device.type == "cuda" else None
    return loss_fn, torch.nn.parallel.DistributedDataParallel(loss_fn, device_ids=ids)


def _loop(run: _Run, step: int, history: list[dict]) -> tuple[int, str]:
    """Train from `step` until a stopping rule fires; appends to `history`, returns (step, stop reason)."""
    s, rt, latest = run.settings, run.rt, run.checkpoints / "latest"
    preemption = Preemption()
    deadline = time.monotonic() + 60 * s.max_minutes if s.max_minutes else math.inf
    progress_every = max(1, min(s.eval_every, s.max_steps // 20))
    train_seconds, tokens_seen, first_step = 0.0, 0, step
    stop_reason = "max_steps"
    try:
        while step < s.max_steps:
            tick = time.perf_counter()
            result = _train_step(run, step, preemption, deadline)
            step += 1
            train_seconds += time.perf_counter() - tick
            tokens_seen += result.tokens
            history.append(
                {
                    "step": step,
                    "phase": "train",
                    "loss": result.loss,
                    "accuracy": result.accuracy,
                    "lr": lr_at(step - 1, s),
                    "tokens_per_s": tokens_seen / train_seconds,
                    **result.pair_stats,
                }
            )
            if result.out_of_time and not result.preempted:
                stop_reason = "max_minutes"
            if step % s.eval_every == 0 or step == s.max_steps or stop_reason != "max_steps":
                stop_reason = _validate(run, step, history, stop_reason)
            if rt.rank == 0 and (step % progress_every == 0 or step == s.max_steps):
                _progress(step, s.max_steps, history, train_seconds, step - first_step)
            if rt.rank == 0 and (step % s.checkpoint_every == 0 or result.preempted):
                save_checkpoint(latest, run.model, run.optimizer, step, history, run.fingerprint)
            if result.preempted:
                raise GenolmError(
                    f"pretrain: stopped by SIGTERM at step {step}; rerun to resume from {latest}"
                )
            if stop_reason != "max_steps":
                LOG.info("stopping at step %d (%s)", step, stop_reason)
                break
    finally:
        preemption.restore()
    return step, stop_reason


def _train_step(run: _Run, step: int, preemption: Preemption, deadline: float) -> _Step:
    """One optimizer step on the batch of `step`, with the NaN guard on loss and gradient norm."""
    s, rt = run.settings, run.rt
    torch.manual_seed(s.seed * 1_000_003 + step)
    tensors = training_batch(step, run.tokenizer, run.train_windows, s, run.objective, run.limit)
    ids, n_targets = tensors[0], int(tensors[2].sum())
    for group in run.optimizer.param_groups:
        group["lr"] = lr_at(step, s)
    run.optimizer.zero_grad(set_to_none=True)
    # DDP averages gradients over processes, so each scales its summed losses by world / global count.
    scales = (rt.world / n_targets, rt.world * s.pair_weight / len(ids))
    sync = run.runner if rt.world > 1 else None
    stats = run_batch(run.runner, tensors, rt, run.tokenizer.pad_token_id, scales, sync)
    flags = [float(preemption.requested), float(time.monotonic() > deadline)]
    *stats, preempted, out_of_time = sum_across([*stats, *flags], rt)
    loss, accuracy = stats[0] / n_targets, stats[1] / n_targets
    pair_stats = {"pair_loss": stats[2] / len(ids), "pair_accuracy": stats[3] / len(ids)} if run.pair else {}
    total = loss + s.pair_weight * pair_stats.get("pair_loss", 0.0)
    if not math.isfinite(total):
        raise GenolmError(f"pretrain: loss is {total} at step {step + 1}; lower pretrain.lr")
    grad_norm = float(torch.nn.utils.clip_grad_norm_(run.model.parameters(), s.max_grad_norm))
    if not math.isfinite(grad_norm):
        raise GenolmError(f"pretrain: gradient norm is {grad_norm} at step {step + 1}; lower pretrain.lr")
    run.optimizer.step()
    return _Step(loss, accuracy, pair_stats, bool(preempted), bool(out_of_time), int(ids.numel()))


def _validate(run: _Run, step: int, history: list[dict], stop_reason: str) -> str:
    """Validate, keeping the best checkpoint under patience; returns the stop reason (or "patience")."""
    s = run.settings
    metrics = evaluate(run.loss_fn, run.tokenizer, run.val, s, run.limit, run.rt)
    history.append({"step": step, "phase": "val", **metrics})
    if s.patience and run.rt.rank == 0 and _is_best(history):
        save_checkpoint(run.checkpoints / "best", run.model, None, step, history, run.fingerprint)
    if s.patience and _evals_since_best(history) >= s.patience:
        return "patience"
    return stop_reason


def _is_best(history: list[dict]) -> bool:
    """Whether the last validation is the lowest so far."""
    losses = [h["loss"] for h in history if h["phase"] == "val"]
    return losses[-1] <= min(losses)


def _evals_since_best(history: list[dict]) -> int:
    """Validations since the lowest validation loss (0 when the last one is the best)."""
    losses = [h["loss"] for h in history if h["phase"] == "val"]
    return len(losses) - 1 - int(np.argmin(losses))


def _progress(step: int, total: int, history: list[dict], seconds: float, done: int) -> None:
    """One progress line: step, train/val loss, throughput and the time left at this pace."""
    train = next(h for h in reversed(history) if h["phase"] == "train")
    val = next((h for h in reversed(history) if h["phase"] == "val"), None)
    eta = seconds / max(1, done) * (total - step)
    LOG.info(
        "step %d/%d (%.0f%%) loss %.4f%s lr %.2e %.0f tokens/s, ~%.0f s left",
        step,
        total,
        100 * step / total,
        train["loss"],
        f" val {val['loss']:.4f}" if val else "",
        train["lr"],
        train["tokens_per_s"],
        eta,
    )


def _finish(run: _Run, step: int, history: list[dict], stop_reason: str) -> dict:
    """Export the last validated model (the best one under patience), the log and metrics.json."""
    s = run.settings
    vals = [h for h in history if h["phase"] == "val"]
    final = vals[-1]
    if s.patience and (run.checkpoints / "best").is_dir():
        best_step, _ = load_checkpoint(run.checkpoints / "best", run.model, None)
        final = next(h for h in vals if h["step"] == best_step)
    metrics = {
        "objective": run.objective,
        "family": s.family,
        "parameters": run.n_params,
        "steps": step,
        "exported_step": final["step"],
        "stop_reason": stop_reason,
        "processes": run.rt.world,
        "device": run.rt.device.type,
        "precision": "bf16-autocast" if run.rt.autocast else "fp32",
        "train_windows": int(len(run.train_windows)),
        "val_windows": int(len(run.val)),
        "settings": recorded_settings(s),
        "val": {k: v for k, v in final.items() if k not in ("step", "phase")},
        "window": int(run.train_windows.shape[1]),
    }
    export_model(
        masked_lm_part(run.model) if run.pair else run.model, run.tokenizer, run.paths.model_dir, metrics
    )
    write_log(history, run.paths.log_csv)
    write_json(run.paths.metrics_json, metrics)
    return metrics
