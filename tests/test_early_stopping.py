"""Early stopping and grid choices treat scores within float noise as ties, so every CPU model picks alike."""

from __future__ import annotations

import numpy as np
import torch

from genolm.early_stopping import BestEpoch, first_best, improves


def test_a_last_bit_difference_is_a_tie_and_a_real_one_is_not():
    assert not improves(0.6400000000000001, 0.64)  # the same AUROC summed in another order
    assert not improves(0.64, 0.64)
    assert improves(0.64 + 1 / 250_000, 0.64)  # one pair of a 500 x 500 validation split
    assert improves(0.1, -np.inf)


def test_a_tie_keeps_the_earlier_epoch_and_its_weights():
    model = torch.nn.Linear(1, 1)
    best = BestEpoch(patience=2, floor=-1.0)
    with torch.no_grad():
        model.weight.fill_(1.0)
    assert not best.update(model, 0.64, 1)
    with torch.no_grad():
        model.weight.fill_(2.0)
    assert not best.update(model, 0.6400000000000001, 2)  # a tie: stale, not a new best
    assert best.update(model, 0.5, 3)  # second epoch without a better score: stop
    best.restore(model)
    assert best.epoch == 1 and model.weight.item() == 1.0


def test_a_grid_tie_keeps_the_earlier_entry():
    assert first_best({1e-3: 0.64, 3e-3: 0.6400000000000001}) == 1e-3
    assert first_best({1e-3: 0.64, 3e-3: 0.65, 1e-2: 0.65}) == 3e-3
    assert first_best({"only": 0.1}) == "only"
