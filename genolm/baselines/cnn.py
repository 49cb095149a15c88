"""The supervised one-hot CNN baseline: trained from scratch on the task's own train split, no pretraining.

At the scale a user can afford, a small convolutional network on one-hot DNA often matches or beats a
pretrained DNA LM (DART-Eval 2024; Tang & Koo 2024), so every model method is shown beside it. The
network: a wide first convolution (motif detectors), two dilated residual convolutions, masked global max
and mean pooling (any length), dropout and a linear head. Training draws reverse-complement augmentation
per row, and predictions average the forward and reverse-complement strands (both unless
`reverse_complement` is off). The learning rate is chosen on the validation split from a small grid;
each run keeps its epoch with the best validation score.

Inputs are one-hot channels in groups of four (A, C, G, T): a gene is one group (`one_hot`); a variant is
two, its reference window and the alt-minus-ref difference (`variant_one_hot`). N and padding are all
zero, and a row's prediction does not depend on the batch it is padded in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from sklearn.metrics import f1_score, roc_auc_score
from torch import nn

from genolm.early_stopping import BestEpoch, first_best
from genolm.metrics import MULTILABEL_THRESHOLD

LOG = logging.getLogger(__name__)
CPU = torch.device("cpu")
#: Validation criteria a run can select on (epoch and learning rate).
CRITERIA = ("macro_f1", "auroc")
_ONE_HOT = np.zeros((256, 4), dtype=np.float32)
for _i, _base in enumerate("ACGT"):
    _ONE_HOT[ord(_base)] = _ONE_HOT[ord(_base.lower())] = np.eye(4, dtype=np.float32)[_i]

#: Turns a batch of rows (sequences, or (ref, alt) window pairs) into (n, channels, L) inputs and a mask.
Encoder = Callable[[Sequence], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class CNNSettings:
    """The CNN's architecture, schedule and grid (the `gene_function.cnn` / `disease_risk.cnn` sections).

    Attributes:
        channels: filters of every convolution.
        kernel: width of the first (motif) convolution.
        pool: max-pooling width after it (1: none); the dilated convolutions then cost 1/pool as much.
        dropout: dropout before the linear head.
        epochs: most passes over the train split per learning rate.
        patience: epochs without a better validation score before a run stops (its best epoch is kept).
        batch_size: rows per optimiser step.
        lrs: AdamW peak learning rates (one-cycle schedule) tried; the one best on val is kept.
        weight_decay: AdamW weight decay.
        max_length: bases read per sequence (longer sequences are cut to their first `max_length`).
        seed: initialisation, shuffling, augmentation and dropout seed (the same for every learning rate).
        reverse_complement: train on each row's reverse-complement strand half the time (drawn per row
            and batch) and average the two strands' predictions; off, rows are read as given (the
            workflow turns it off for annotation genes, which keep their coding strand, as for the model
            methods: `genolm.strand.reverse_complement_applies`).
    """

    channels: int = 128
    kernel: int = 15
    pool: int = 4
    dropout: float = 0.2
    epochs: int = 8
    patience: int = 2
    batch_size: int = 64
    lrs: tuple[float, ...] = (1e-3, 3e-3)
    weight_decay: float = 0.01
    max_length: int = 2048
    seed: int = 42
    reverse_complement: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "lrs", tuple(float(lr) for lr in self.lrs))  # a config gives a list


def _codes(sequences: Sequence[str], length: int) -> tuple[np.ndarray, np.ndarray]:
    codes = np.zeros((len(sequences), length), dtype=np.uint8)
    mask = np.zeros((len(sequences), length), dtype=bool)
    for row, seq in enumerate(sequences):
        raw = np.frombuffer(seq[:length].encode("ascii", "replace"), dtype=np.uint8)
        codes[row, : len(raw)] = raw
        mask[row, : len(raw)] = True
    return codes, mask


def one_hot(sequences: Sequence[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences as a (n, 4, L) one-hot batch (N and padding all zero) and a (n, L) validity mask."""
    codes, mask = _codes(sequences, min(max(len(s) for s in sequences), max_length))
    return torch.from_numpy(_ONE_HOT[codes]).transpose(1, 2).contiguous(), torch.from_numpy(mask)


def variant_one_hot(pairs: Sequence[tuple[str, str]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(ref, alt) window pairs as (n, 8, L): the reference one-hot, then alt minus ref.

    The difference channels are zero except at the variant base (-1 at the ref base, +1 at the alt
    base), so the network reads the substitution in its sequence context directly instead of having to
    learn to compare two almost identical windows; two stacked one-hot windows carry the same
    information (the first convolution is linear), this layout only makes it explicit.
    """
    ref, ref_mask = one_hot([r for r, _ in pairs], max(len(r) for r, _ in pairs))
    alt, _ = one_hot([a for _, a in pairs], ref.shape[2])
    return torch.cat([ref, alt - ref], 1), ref_mask


def reverse_complement_one_hot(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The reverse-complement strand of a batch: each ACGT channel group -> TGCA, positions reversed.

    Padding sits at the end of each row, so each row's valid part is rolled back to the start.
    """
    rows, channels, length = x.shape
    flipped = x.reshape(rows, channels // 4, 4, length).flip(2, 3).reshape(rows, channels, length)
    flipped_mask = mask.flip(1)
    shift = (~mask).sum(1)
    index = (torch.arange(length)[None, :] + shift[:, None]) % length
    return flipped.gather(2, index[:, None, :].expand_as(flipped)), flipped_mask.gather(1, index)


def _masked_max_pool(h: torch.Tensor, mask: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Max over windows of `size` positions that ignores padding; a window of padding only becomes 0."""
    if size == 1:
        return h, mask
    h = nn.functional.max_pool1d(h.masked_fill(~mask[:, None, :], float("-inf")), size, ceil_mode=True)
    pooled = nn.functional.max_pool1d(mask[:, None, :].float(), size, ceil_mode=True)[:, 0] > 0
    return h.masked_fill(~pooled[:, None, :], 0.0), pooled


class OneHotCNN(nn.Module):
    """Wide convolution, max pooling, two dilated residual convolutions, masked max+mean pooling, head."""

    def __init__(self, n_outputs: int, settings: CNNSettings, in_channels: int = 4) -> None:
        super().__init__()
        c = settings.channels
        self.stem = nn.Sequential(
            nn.Conv1d(in_channels, c, settings.kernel, padding="same"), nn.BatchNorm1d(c), nn.GELU()
        )
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(c, c, 5, padding="same", dilation=d), nn.BatchNorm1d(c), nn.GELU())
            for d in (2, 4)
        )
        self.head = nn.Sequential(nn.Dropout(settings.dropout), nn.Linear(2 * c, n_outputs))
        self.pool = settings.pool

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h, mask = _masked_max_pool(self.stem(x), mask, self.pool)
        keep = mask[:, None, :].to(h.dtype)
        h = h * keep
        for block in self.blocks:
            h = (h + block(h)) * keep  # padding reads as zeros, exactly like the convolutions' own
        peak = h.masked_fill(~mask[:, None, :], float("-inf")).amax(2)
        mean = h.sum(2) / keep.sum(2).clamp(min=1)
        return self.head(torch.cat([peak, mean], 1))


def _loss(task_type: str, y_train: np.ndarray, n_outputs: int) -> nn.Module:
    """Class-weighted cross-entropy, or BCE with per-label pos_weight for multi-label tasks."""
    if task_type == "multilabel":
        pos = y_train.sum(0)
        weight = (len(y_train) - pos) / np.maximum(pos, 1)
        return nn.BCEWithLogitsLoss(pos_weight=torch.tensor(weight, dtype=torch.float32))
    counts = np.bincount(y_train, minlength=n_outputs).astype(np.float64)
    weights = len(y_train) / (n_outputs * np.maximum(counts, 1))
    return nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))


def _proba(logits: torch.Tensor, task_type: str) -> torch.Tensor:
    return torch.sigmoid(logits) if task_type == "multilabel" else torch.softmax(logits, 1)


@torch.no_grad()
def predict(
    model: OneHotCNN,
    rows: Sequence,
    encode: Encoder,
    task_type: str,
    batch_size: int = 256,
    device: torch.device = CPU,
    both_strands: bool = True,
) -> np.ndarray:
    """Class (or label) probabilities, averaged over the forward and reverse-complement strands (or of
    the rows as given, `both_strands` false)."""
    model.eval()
    out = []
    for i in range(0, len(rows), batch_size):
        x, mask = encode(rows[i : i + batch_size])
        strands = [(x, mask), reverse_complement_one_hot(x, mask)] if both_strands else [(x, mask)]
        probs = [_proba(model(s.to(device), m.to(device)).float(), task_type) for s, m in strands]
        out.append((sum(probs) / len(probs)).cpu().numpy())
    return np.concatenate(out)


def val_score(y: np.ndarray, proba: np.ndarray, task_type: str, criterion: str) -> float:
    """The selection criterion: macro-F1 (multi-label: over labels at p >= 0.5), or binary AUROC."""
    if criterion == "auroc":
        return float(roc_auc_score(y, proba[:, 1])) if len(set(y)) == 2 else 0.5
    if task_type == "multilabel":
        return float(f1_score(y, proba >= MULTILABEL_THRESHOLD, average="macro", zero_division=0))
    return float(f1_score(y, proba.argmax(1), average="macro", zero_division=0))


def _augmented(rows: list, encode: Encoder, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A training batch with each row independently on its reverse-complement strand half the time."""
    x, mask = encode(rows)
    flip = torch.from_numpy(rng.random(len(rows)) < 0.5)
    rc_x, rc_mask = reverse_complement_one_hot(x, mask)
    return torch.where(flip[:, None, None], rc_x, x), torch.where(flip[:, None], rc_mask, mask)


def _train_one(data: dict, lr: float, spec: dict, settings: CNNSettings, device: torch.device):
    """One learning rate: train (with RC augmentation if the settings say so), keep the epoch with the
    best validation score."""
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    model = OneHotCNN(spec["n_outputs"], settings, spec["in_channels"]).to(device)
    loss_fn = _loss(spec["task_type"], data["y_train"], spec["n_outputs"]).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=settings.weight_decay)
    n_batches = -(-len(data["train"]) // settings.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=settings.epochs * n_batches, pct_start=0.1
    )
    best = BestEpoch(settings.patience, floor=-np.inf)
    for epoch in range(1, settings.epochs + 1):
        model.train()
        for batch in np.array_split(rng.permutation(len(data["train"])), n_batches):
            rows = [data["train"][i] for i in batch]
            x, mask = (
                _augmented(rows, spec["encode"], rng) if settings.reverse_complement else spec["encode"](rows)
            )
            target = torch.as_tensor(data["y_train"][batch])
            target = target.float() if spec["task_type"] == "multilabel" else target.long()
            loss = loss_fn(model(x.to(device), mask.to(device)), target.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        proba = predict(
            model,
            data["val"],
            spec["encode"],
            spec["task_type"],
            device=device,
            both_strands=settings.reverse_complement,
        )
        score = val_score(data["y_val"], proba, spec["task_type"], spec["criterion"])
        LOG.info("cnn lr=%g epoch %d: val %s %.4f", lr, epoch, spec["criterion"], score)
        if best.update(model, score, epoch):
            break
    best.restore(model)
    return model, best.score, best.epoch


def fit_cnn(
    train: Sequence,
    y_train: np.ndarray,
    val: Sequence,
    y_val: np.ndarray,
    *,
    task_type: str,
    n_outputs: int,
    settings: CNNSettings = CNNSettings(),
    encode: Encoder | None = None,
    in_channels: int = 4,
    criterion: str = "macro_f1",
    device: torch.device = CPU,
) -> tuple[OneHotCNN, dict]:
    """Train the CNN at each learning rate of the grid and keep the one best on val.

    Args:
        train, val: rows of the train and validation splits (DNA sequences for the default `encode`).
        y_train, y_val: integer class codes, or multi-hot rows for `task_type` "multilabel".
        task_type: "binary", "multiclass" or "multilabel".
        n_outputs: number of classes (labels).
        settings: architecture, schedule and grid.
        encode: rows -> one-hot batch and mask; default `one_hot` cut at `settings.max_length`.
        in_channels: channels `encode` gives (4 per one-hot group).
        criterion: one of `CRITERIA`, the validation score epochs and learning rates are chosen by
            (ties go to the earlier epoch and the earlier grid entry).
        device: where to train.

    Returns:
        The chosen model and a record of the grid: chosen `lr`, `criterion`, `val_scores` and
        `best_epoch` per learning rate, and the network's `parameters`.
    """
    spec = {
        "task_type": task_type,
        "n_outputs": n_outputs,
        "in_channels": in_channels,
        "criterion": criterion,
        "encode": encode or partial(one_hot, max_length=settings.max_length),
    }
    data = {
        "train": list(train),
        "y_train": np.asarray(y_train),
        "val": list(val),
        "y_val": np.asarray(y_val),
    }
    results = {lr: _train_one(data, lr, spec, settings, device) for lr in settings.lrs}
    chosen = first_best({lr: r[1] for lr, r in results.items()})
    model = results[chosen][0]
    return model, {
        "lr": chosen,
        "criterion": criterion,
        "val_scores": {str(lr): r[1] for lr, r in results.items()},
        "best_epoch": {str(lr): r[2] for lr, r in results.items()},
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }


def variant_cnn_proba(
    pairs: dict[str, list[tuple[str, str]]], y: dict[str, np.ndarray], settings: CNNSettings
) -> tuple[np.ndarray, dict]:
    """Pathogenic-class probabilities of the test variants from a CNN on (ref, alt) windows.

    Args:
        pairs: split -> (ref window, alt window) per variant, for train, val and test.
        y: split -> 0/1 labels (train and val are used).
        settings: the CNN's settings; the learning rate and epoch are chosen by validation AUROC.

    Returns:
        (test probabilities of label 1, the grid's record as `fit_cnn` gives it).
    """
    model, record = fit_cnn(
        pairs["train"],
        y["train"],
        pairs["val"],
        y["val"],
        task_type="binary",
        n_outputs=2,
        settings=settings,
        encode=variant_one_hot,
        in_channels=8,
        criterion="auroc",
    )
    test = predict(model, pairs["test"], variant_one_hot, "binary", both_strands=settings.reverse_complement)
    return test[:, 1], record
