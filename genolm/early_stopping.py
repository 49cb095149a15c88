"""Keep the epoch with the best validation score and stop after `patience` epochs without a better one."""

from __future__ import annotations

import torch


class BestEpoch:
    """The best validation score so far, its epoch and a copy of the model's weights then.

    State is real here (score, epoch, weights, epochs since), shared by fine-tuning and the CNN baseline.
    """

    def __init__(self, patience: int, floor: float) -> None:
        self.patience, self.score, self.epoch, self.stale = patience, floor, 0, 0
        self.state: dict[str, torch.Tensor] | None = None

    def update(self, model: torch.nn.Module, score: float, epoch: int) -> bool:
        """Record one epoch's validation score; returns whether training should stop now."""
        if score > self.score:
            self.score, self.epoch, self.stale = score, epoch, 0
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self.stale += 1
        return self.stale >= self.patience

    def restore(self, model: torch.nn.Module) -> None:
        """Load the best epoch's weights back into `model`."""
        model.load_state_dict(self.state)
