"""Keep the epoch with the best validation score and stop after `patience` epochs without a better one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import torch

K = TypeVar("K")

#: Validation scores closer than this are a tie. The same predictions give scores that differ in their
#: last bits between CPU models (summation order), and a tie must go the same way on every machine;
#: a real difference of AUROC or macro-F1 on a validation split under ~30,000 rows per class is larger.
TIE = 1e-9


def improves(score: float, best: float) -> bool:
    """Whether `score` beats `best` by more than float noise (ties keep the earlier epoch or grid entry)."""
    return score > best + TIE


def first_best(scores: Mapping[K, float]) -> K:
    """The key of the best score, the earliest among those tied with it (within float noise)."""
    keys = iter(scores)
    chosen = next(keys)
    for key in keys:
        if improves(scores[key], scores[chosen]):
            chosen = key
    return chosen


class BestEpoch:
    """The best validation score so far, its epoch and a copy of the model's weights then.

    State is real here (score, epoch, weights, epochs since), shared by fine-tuning and the CNN baseline.
    """

    def __init__(self, patience: int, floor: float) -> None:
        self.patience, self.score, self.epoch, self.stale = patience, floor, 0, 0
        self.state: dict[str, torch.Tensor] | None = None

    def update(self, model: torch.nn.Module, score: float, epoch: int) -> bool:
        """Record one epoch's validation score; returns whether training should stop now."""
        if improves(score, self.score):
            self.score, self.epoch, self.stale = score, epoch, 0
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self.stale += 1
        return self.stale >= self.patience

    def restore(self, model: torch.nn.Module) -> None:
        """Load the best epoch's weights back into `model`."""
        model.load_state_dict(self.state)
