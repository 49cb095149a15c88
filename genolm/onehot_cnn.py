"""The supervised one-hot CNN baseline: trained from scratch on the task's own train split, no pretraining.

At the scale a user can afford, a small convolutional network on one-hot DNA often matches or beats a
pretrained DNA LM (DART-Eval 2024; Tang & Koo 2024), so every model method must be shown beside it. The
network: a wide first convolution (motif detectors), two dilated residual convolutions, masked global max
and mean pooling (any length), dropout and a linear head. Training uses reverse-complement augmentation,
and predictions average the forward and reverse-complement strands. The learning rate is chosen on the
validation split from a small grid; each run keeps its epoch with the best validation macro-F1.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import f1_score
from torch import nn

from genolm.device import autocast

LOG = logging.getLogger(__name__)
_ONE_HOT = np.zeros((256, 4), dtype=np.float32)
for _i, _base in enumerate("ACGT"):
    _ONE_HOT[ord(_base)] = _ONE_HOT[ord(_base.lower())] = np.eye(4, dtype=np.float32)[_i]


@dataclass(frozen=True)
class CNNSettings:
    """Training settings; `lrs` is the grid searched on val, `max_length` crops longer sequences."""

    channels: int = 128
    kernel: int = 15
    dropout: float = 0.2
    epochs: int = 8
    patience: int = 2
    batch_size: int = 64
    lrs: tuple[float, ...] = (1e-3, 3e-3)
    weight_decay: float = 1e-2
    max_length: int = 2048
    seed: int = 42


def one_hot(sequences: Sequence[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences as a (n, 4, L) one-hot batch (N and padding all zero) and a (n, L) validity mask."""
    length = min(max(len(s) for s in sequences), max_length)
    codes = np.zeros((len(sequences), length), dtype=np.uint8)
    mask = np.zeros((len(sequences), length), dtype=bool)
    for row, seq in enumerate(sequences):
        raw = np.frombuffer(seq[:length].encode(), dtype=np.uint8)
        codes[row, : len(raw)] = raw
        mask[row, : len(raw)] = True
    return torch.from_numpy(_ONE_HOT[codes]).transpose(1, 2).contiguous(), torch.from_numpy(mask)


def reverse_complement_one_hot(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The reverse-complement strand of a one-hot batch: channels ACGT -> TGCA, positions reversed.

    Padding sits at the end of each row, so each row's valid part is rolled back to the start.
    """
    flipped, flipped_mask = x.flip(1, 2), mask.flip(1)
    shift = (~mask).sum(1)
    index = (torch.arange(mask.shape[1])[None, :] + shift[:, None]) % mask.shape[1]
    return (
        flipped.gather(2, index[:, None, :].expand_as(flipped)),
        flipped_mask.gather(1, index),
    )


class OneHotCNN(nn.Module):
    """Wide convolution, two dilated residual convolutions, masked max+mean pooling, linear head."""

    def __init__(self, n_outputs: int, settings: CNNSettings):
        super().__init__()
        c = settings.channels
        self.stem = nn.Sequential(nn.Conv1d(4, c, settings.kernel, padding="same"), nn.BatchNorm1d(c), nn.GELU())
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(c, c, 5, padding="same", dilation=d), nn.BatchNorm1d(c), nn.GELU())
            for d in (2, 4)
        )
        self.head = nn.Sequential(nn.Dropout(settings.dropout), nn.Linear(2 * c, n_outputs))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keep = mask[:, None, :].to(x.dtype)
        h = self.stem(x) * keep
        for block in self.blocks:
            h = (h + block(h)) * keep
        peak = h.masked_fill(~mask[:, None, :], float("-inf")).amax(2)
        mean = h.sum(2) / keep.sum(2).clamp(min=1)
        return self.head(torch.cat([peak, mean], 1))


def _loss(task_type: str, y_train: np.ndarray, n_outputs: int) -> nn.Module:
    """Class-weighted cross-entropy, or BCE with per-label pos_weight for multi-label tasks."""
    if task_type == "multilabel":
        pos = y_train.sum(0)
        return nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y_train) - pos) / np.maximum(pos, 1)).float())
    counts = np.bincount(y_train, minlength=n_outputs).astype(np.float64)
    weights = len(y_train) / (n_outputs * np.maximum(counts, 1))
    return nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))


def _proba(logits: torch.Tensor, task_type: str) -> torch.Tensor:
    return torch.sigmoid(logits) if task_type == "multilabel" else torch.softmax(logits, 1)


@torch.no_grad()
def predict(
    model: OneHotCNN, sequences: Sequence[str], settings: CNNSettings, task_type: str, device: torch.device
) -> np.ndarray:
    """Class (or label) probabilities, averaged over the forward and reverse-complement strands."""
    model.eval()
    out = []
    for i in range(0, len(sequences), settings.batch_size * 4):
        x, mask = one_hot(sequences[i : i + settings.batch_size * 4], settings.max_length)
        strands = [(x, mask), reverse_complement_one_hot(x, mask)]
        with autocast(device):
            probs = [_proba(model(s.to(device), m.to(device)).float(), task_type) for s, m in strands]
        out.append(((probs[0] + probs[1]) / 2).cpu().numpy())
    return np.concatenate(out)


def macro_f1(y: np.ndarray, proba: np.ndarray, task_type: str) -> float:
    """Validation criterion: macro-F1 (multi-label: over labels at p >= 0.5)."""
    if task_type == "multilabel":
        return float(f1_score(y, proba >= 0.5, average="macro", zero_division=0))
    return float(f1_score(y, proba.argmax(1), average="macro", zero_division=0))


def _train_one(data: dict, task_type: str, n_outputs: int, lr: float, settings: CNNSettings, device):
    """One learning rate: train with RC augmentation, keep the epoch with the best validation macro-F1."""
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    model = OneHotCNN(n_outputs, settings).to(device)
    loss_fn = _loss(task_type, data["y_train"], n_outputs).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=settings.weight_decay)
    steps = settings.epochs * -(-len(data["train"]) // settings.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    best, best_state, stale = -1.0, None, 0
    for epoch in range(settings.epochs):
        model.train()
        for batch in np.array_split(rng.permutation(len(data["train"])), steps // settings.epochs):
            x, mask = one_hot([data["train"][i] for i in batch], settings.max_length)
            if rng.random() < 0.5:
                x, mask = reverse_complement_one_hot(x, mask)
            target = torch.as_tensor(data["y_train"][batch])
            target = target.float() if task_type == "multilabel" else target.long()
            with autocast(device):
                loss = loss_fn(model(x.to(device), mask.to(device)).float(), target.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        score = macro_f1(data["y_val"], predict(model, data["val"], settings, task_type, device), task_type)
        LOG.info("cnn lr=%g epoch %d: val macro-F1 %.4f", lr, epoch + 1, score)
        if score > best:
            best, stale = score, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= settings.patience:
                break
    model.load_state_dict(best_state)
    return model, best


def fit_cnn(
    train: Sequence[str],
    y_train: np.ndarray,
    val: Sequence[str],
    y_val: np.ndarray,
    *,
    task_type: str,
    n_outputs: int,
    settings: CNNSettings = CNNSettings(),
    device: torch.device | None = None,
) -> tuple[OneHotCNN, dict]:
    """Train the CNN at each learning rate of the grid and keep the one best on val.

    Args:
        train, val: DNA sequences of the train and validation splits.
        y_train, y_val: integer class codes, or multi-hot rows for `task_type` "multilabel".
        task_type: "binary", "multiclass" or "multilabel".
        n_outputs: number of classes (labels).
        settings: architecture, schedule and grid.
        device: where to train (CPU by default).

    Returns:
        The chosen model and a record of the grid ({"lr": chosen, "val_macro_f1": {lr: score}}).
    """
    device = device or torch.device("cpu")
    data = {"train": list(train), "y_train": np.asarray(y_train), "val": list(val), "y_val": np.asarray(y_val)}
    results = {lr: _train_one(data, task_type, n_outputs, lr, settings, device) for lr in settings.lrs}
    chosen = max(results, key=lambda lr: results[lr][1])
    return results[chosen][0], {"lr": chosen, "val_macro_f1": {str(lr): r[1] for lr, r in results.items()}}
