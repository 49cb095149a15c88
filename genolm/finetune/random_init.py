"""The pretraining control: the pretrained model's architecture, tokenizer and window with fresh weights."""

from __future__ import annotations

from dataclasses import replace

import torch

from genolm.inference import Pretrained
from genolm.models import build_model


def reinitialised(pre: Pretrained, seed: int) -> Pretrained:
    """`pre` with its weights drawn afresh from its config's initialiser, seeded.

    Everything but the weights stays (config, tokenizer, window, objective), so a method run on it
    answers "what did pretraining add?" on the same rows with the same recipe.

    Args:
        pre: a loaded pretrained model directory.
        seed: the initialisation seed.

    Returns:
        A new `Pretrained` on `pre`'s device, in eval mode like a loaded one; `pre` is left as it was.
    """
    torch.manual_seed(seed)
    model = build_model(pre.model.config, pre.model.config.model_type).to(pre.device)
    model.eval()
    return replace(pre, model=model)
