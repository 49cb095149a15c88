"""Train one seed of a gene-function method: the fine-tuning loop, and the frozen-encoder probe."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import f1_score

from genolm.baselines import fit_logistic, linear_head, predict_proba
from genolm.device import autocast
from genolm.early_stopping import BestEpoch
from genolm.finetune.adapters import adapt_encoder
from genolm.finetune.classifier import Classifier, PooledClassifier
from genolm.finetune.random_init import reinitialised
from genolm.finetune.settings import FinetuneSettings
from genolm.finetune.table import targets
from genolm.inference import embed, load_pretrained
from genolm.metrics import MULTILABEL_THRESHOLD

LOG = logging.getLogger(__name__)
CPU = torch.device("cpu")


def imbalance_loss(y_train: np.ndarray, n_classes: int, task_type: str) -> torch.nn.Module:
    """Imbalance-weighted loss: BCE with pos_weight = negatives/positives per label, or balanced CE."""
    if task_type == "multilabel":
        positives = y_train.sum(0)
        pos_weight = (len(y_train) - positives) / positives.clip(1)
        return torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, dtype=torch.float32))
    weights = len(y_train) / (n_classes * np.bincount(y_train, minlength=n_classes).clip(1))
    return torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))


def _macro_f1(y: np.ndarray, proba: np.ndarray, task_type: str) -> float:
    if task_type == "multilabel":
        return float(f1_score(y, proba >= MULTILABEL_THRESHOLD, average="macro", zero_division=0))
    return float(f1_score(y, proba.argmax(1), average="macro"))


def _train_epoch(classifier, optimizer, trainable, seqs, order, batch_loss, settings) -> float:
    """One pass over the train genes in `order`; returns the summed loss (times genes per batch)."""
    total = 0.0
    for i in range(0, len(order), settings.batch_size):
        idx = order[i : i + settings.batch_size]
        logits = classifier.logits([seqs[j] for j in idx], settings.max_chunks).float()
        loss = batch_loss(logits, idx)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        total += loss.item() * len(idx)
    return total


def fit_classifier(
    classifier: Classifier,
    parts: dict[str, pd.DataFrame],
    batch_loss: Callable[[torch.Tensor, np.ndarray], torch.Tensor],
    settings: FinetuneSettings,
    lr: float,
) -> dict:
    """Train `classifier.module`'s trainable weights with AdamW on `batch_loss(logits, train_rows)`.

    Keeps the epoch with the best validation macro-F1 and stops after `settings.patience` epochs without
    a better one. Runs on `classifier.device`.

    Args:
        classifier: the classifier to train (in place).
        parts: train and val rows.
        batch_loss: the loss of a batch's float32 logits given the batch's train row indices.
        settings: epochs, batch size, chunks, patience and seed.
        lr: the AdamW learning rate.

    Returns:
        The history (train loss and val macro-F1 per epoch), best epoch and parameter counts.
    """
    model, task_type = classifier.module, classifier.task_type
    model.train()  # dropout on from the first epoch (a loaded encoder comes in eval mode)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.01)
    seqs = parts["train"]["sequence"].tolist()
    rng = np.random.default_rng(settings.seed)
    best, history = BestEpoch(settings.patience, floor=-1.0), []
    for epoch in range(1, settings.epochs + 1):
        order = rng.permutation(len(seqs))
        train_loss = _train_epoch(classifier, optimizer, trainable, seqs, order, batch_loss, settings) / len(
            seqs
        )
        val_proba = classifier.predict_proba(parts["val"]["sequence"].tolist())
        val_f1 = _macro_f1(targets(parts["val"]), val_proba, task_type)
        history.append({"epoch": epoch, "train_loss": train_loss, "val_macro_f1": val_f1})
        LOG.info(
            "seed %d epoch %d: train loss %.4f, val macro-F1 %.4f", settings.seed, epoch, train_loss, val_f1
        )
        if best.update(model, val_f1, epoch):
            break
    best.restore(model)
    return {
        "best_epoch": best.epoch,
        "history": history,
        "trainable_parameters": int(sum(p.numel() for p in trainable)),
        "total_parameters": int(sum(p.numel() for p in model.parameters())),
    }


def train_classifier(
    parts: dict[str, pd.DataFrame],
    classes: list[str],
    task_type: str,
    model_dir: str | Path,
    method: str,
    settings: FinetuneSettings,
    device: torch.device = CPU,
) -> tuple[Classifier, np.ndarray, dict]:
    """Train one seed of a fine-tuning `method` on `device`.

    Args:
        parts: train, val and test rows.
        classes: class names.
        task_type: the task type.
        model_dir: the pretrained model directory.
        method: a fine-tuning method (not `probe`), or the `random_init` control (`finetune_full` on
            an encoder re-initialised from the pretrained config, seeded by `settings.seed`).
        settings: the run's settings; `lr` for `finetune_full` and `random_init`, `adapter_lr` for the
            others.
        device: where training and prediction run.

    Returns:
        The classifier (LoRA/IA3 adapters merged; a soft prompt stays a `PromptedEncoder`), its test
        probabilities and training info (history, best epoch, parameter counts).
    """
    torch.manual_seed(settings.seed)
    pre = load_pretrained(model_dir)
    if method == "random_init":  # the pretraining control: finetune_full's recipe on fresh weights
        pre, method = reinitialised(pre, settings.seed), "finetune_full"
    encoder = adapt_encoder(pre.model.base_model, method, settings)
    model = PooledClassifier(encoder, pre.model.config.hidden_size, len(classes))
    classifier = Classifier(model, pre, classes, task_type, settings.max_chunks, settings.batch_size).to(
        device
    )
    y_train = targets(parts["train"])
    loss_fn = imbalance_loss(y_train, len(classes), task_type).to(device)

    def batch_loss(logits: torch.Tensor, idx: np.ndarray) -> torch.Tensor:
        target = torch.from_numpy(y_train[idx]).to(device)
        return loss_fn(logits, target.float() if task_type == "multilabel" else target)

    lr = settings.lr if method == "finetune_full" else settings.adapter_lr
    info = fit_classifier(classifier, parts, batch_loss, settings, lr)
    if method in ("finetune_lora", "finetune_ia3"):
        # Fold the adapters into the weights (in place, so pre.model holds them too): a plain encoder.
        model.encoder = model.encoder.merge_and_unload()
    return classifier, classifier.predict_proba(parts["test"]["sequence"].tolist()), info


def probe_classifier(
    parts: dict[str, pd.DataFrame],
    classes: list[str],
    task_type: str,
    model_dir: str | Path,
    settings: FinetuneSettings,
    device: torch.device = CPU,
) -> tuple[Classifier, np.ndarray, dict]:
    """Frozen encoder: logistic regression (C chosen on val; one-vs-rest for multi-label) on mean-pooled
    embeddings computed on `device`.

    Args:
        parts: train, val and test rows.
        classes: class names.
        task_type: the task type.
        model_dir: the pretrained model directory.
        settings: batch size, chunks and the regression's seed.
        device: where the embeddings are computed.

    Returns:
        The classifier (the regression as its linear head, scaler folded in), the regression's test
        probabilities and info (trainable parameters).
    """
    pre = load_pretrained(model_dir)
    pre.model.to(device)
    with autocast(device):
        x = {
            s: embed(
                pre, p["sequence"].tolist(), batch_size=settings.batch_size, max_chunks=settings.max_chunks
            )
            for s, p in parts.items()
        }
    y = {s: targets(p) for s, p in parts.items()}
    n = len(classes)
    model = fit_logistic(x["train"], y["train"], x["val"], y["val"], n_classes=n, seed=settings.seed)
    module = PooledClassifier(pre.model.base_model, pre.model.config.hidden_size, n)
    weight, bias = linear_head(model, n)
    module.head.load_state_dict(
        {"weight": torch.tensor(weight, dtype=torch.float32), "bias": torch.tensor(bias, dtype=torch.float32)}
    )
    classifier = Classifier(module, pre, classes, task_type, settings.max_chunks, settings.batch_size).to(
        device
    )
    info = {"trainable_parameters": int(x["train"].shape[1] + 1)}
    return classifier, predict_proba(model, x["test"], n), info
