"""Validation with fixed (seeded) masks, so runs, checkpoints and compressed models compare."""

from __future__ import annotations

import math

import numpy as np
import torch

from genolm.pretrain.batches import corrupt, mask_span, pair_batch, tokenize_batch
from genolm.pretrain.loss import LMLoss, run_batch
from genolm.pretrain.runtime import Runtime, local_runtime, sum_across
from genolm.pretrain.settings import PretrainSettings


@torch.no_grad()
def evaluate(
    loss_fn: LMLoss,
    tokenizer,
    windows: np.ndarray,
    settings: PretrainSettings,
    limit: int,
    rt: Runtime | None = None,
) -> dict:
    """Validation loss, perplexity and token accuracy with fixed masks (seeded), so runs compare.

    These are always measured on whole windows ([CLS] window [SEP], as downstream stages feed them), so
    runs with and without a pair objective compare; a pair objective adds pair_loss and pair_accuracy
    measured on seeded, masked pairs of the same windows, as in training. The model is left in train mode.

    Args:
        loss_fn: the model wrapped in `LMLoss`.
        tokenizer: the run's tokenizer.
        windows: base-code windows; the first `eval_batches * batch_size` are used.
        settings: batch size, batch count, mask rate, seed and pair objective.
        limit: the most tokens of one window (`max_tokens`).
        rt: this process's runtime (default: one CPU process).

    Returns:
        loss, perplexity, accuracy; bits_per_base for a causal LM; pair_loss, pair_accuracy with a pair
        objective.
    """
    rt = rt or local_runtime(settings)
    loss_fn.eval()
    generator = torch.Generator().manual_seed(settings.seed + 7919)
    span = mask_span(tokenizer)
    n = min(len(windows), settings.eval_batches * settings.batch_size)
    total_loss = total_correct = total_count = 0.0
    for start in range(0, n, settings.batch_size):
        ids = tokenize_batch(tokenizer, windows[start : min(n, start + settings.batch_size)], limit)
        inputs, targets = corrupt(ids, tokenizer, loss_fn.objective, settings.mask_prob, generator, span)
        loss, correct = run_batch(loss_fn, (ids, inputs, targets), rt, tokenizer.pad_token_id, None)
        total_loss, total_correct = total_loss + loss, total_correct + correct
        total_count += int(targets.sum())
    total_loss, total_correct = sum_across([total_loss, total_correct], rt)
    mean = total_loss / total_count
    out = {"loss": mean, "perplexity": math.exp(min(mean, 50)), "accuracy": total_correct / total_count}
    if loss_fn.objective == "clm":
        out["bits_per_base"] = total_loss / (n * windows.shape[1]) / math.log(2)
    if settings.pair_objective != "none":
        out |= _pair_validation(loss_fn, tokenizer, windows, settings, n, rt, generator, span)
    loss_fn.train()
    return out


def _pair_validation(loss_fn, tokenizer, windows, settings, n, rt, generator, span) -> dict:
    """Pair loss and accuracy per window on seeded pairs of the first `n` windows."""
    rng = np.random.default_rng([settings.seed, 7919])
    pair_loss = pair_correct = 0.0
    for start in range(0, n, settings.batch_size):
        rows = np.arange(start, min(n, start + settings.batch_size))
        tensors = pair_batch(tokenizer, windows, rows, settings, rng, generator, span)
        _, _, loss, correct = run_batch(loss_fn, tensors, rt, tokenizer.pad_token_id, None)
        pair_loss, pair_correct = pair_loss + loss, pair_correct + correct
    pair_loss, pair_correct = sum_across([pair_loss, pair_correct], rt)
    return {"pair_loss": pair_loss / n, "pair_accuracy": pair_correct / n}
