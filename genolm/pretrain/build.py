"""What a run trains and how: its model (fresh or continued), AdamW and the learning-rate schedule."""

from __future__ import annotations

import math

import torch

from genolm.errors import GenolmError
from genolm.models import build_config, build_model, check_fits, load_model, model_size
from genolm.pretrain.settings import PretrainSettings


def build_run_model(settings: PretrainSettings, tokenizer, limit: int):
    """A fresh model from the preset, or model.init_from checked against the tokenizer and window.

    A pair objective builds the family's pretraining class with two token types and one more position
    (the middle [SEP]).

    Args:
        settings: family, size preset and overrides, dropout, `init_from` and pair objective.
        tokenizer: the run's tokenizer (vocabulary size, special ids).
        limit: the most tokens of one window (`max_tokens`).

    Returns:
        The model, on CPU.

    Raises:
        GenolmError: `init_from` does not fit the tokenizer, the window, or the pair objective.
    """
    pair = settings.pair_objective != "none"
    positions = limit + 1 if pair else limit
    if settings.init_from:
        model = load_model(settings.init_from, family=settings.family, pair_objective=settings.pair_objective)
        check_fits(model, tokenizer, positions, f"model.init_from {settings.init_from}")
        if pair and model.config.type_vocab_size < 2:
            raise GenolmError(
                f"model.init_from {settings.init_from}: type_vocab_size {model.config.type_vocab_size}; "
                "pretrain.pair_objective needs 2 token types (init from a pair-pretrained model)"
            )
        return model
    size = model_size(
        settings.preset,
        family=settings.family,
        hidden_size=settings.hidden_size,
        num_layers=settings.num_layers,
        num_heads=settings.num_heads,
        intermediate_size=settings.intermediate_size,
    )
    config = build_config(
        settings.family, size, tokenizer, positions, dropout=settings.dropout, segments=2 if pair else 1
    )
    return build_model(config, settings.family, settings.pair_objective)


def build_optimizer(model, settings: PretrainSettings, device: torch.device) -> torch.optim.Optimizer:
    """AdamW without decay on biases and norms; the fused kernel (CPU and CUDA) when available."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": settings.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    try:
        return torch.optim.AdamW(groups, lr=settings.lr, fused=True)
    except RuntimeError:  # a device without the fused kernel
        return torch.optim.AdamW(groups, lr=settings.lr, foreach=device.type == "cuda")


def lr_at(step: int, settings: PretrainSettings) -> float:
    """Linear warmup then cosine decay to 10% of the peak."""
    if step < settings.warmup_steps:
        return settings.lr * (step + 1) / settings.warmup_steps
    progress = (step - settings.warmup_steps) / max(1, settings.max_steps - settings.warmup_steps)
    return settings.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
