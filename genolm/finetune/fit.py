"""Train one seed of a gene-function method: the fine-tuning loop, and the frozen-encoder probe.

The recipe: AdamW with a linear warm-up over the first `warmup_fraction` of the steps and a linear (or
cosine) decay after it (transformers' `get_scheduler`); the peak learning rate is chosen on val from
`FinetuneSettings.learning_rates` (each grid point trained on train alone, from the same start and seed,
on at most `grid_rows` of its rows; the chosen rate then trains on all of them) and the epoch by early
stopping (`BestEpoch`); the test split is predicted once, by the chosen model. With
`reverse_complement` every train gene is read on its reverse-complement strand half the time (drawn
per gene and epoch) and predictions average both strands.
"""

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
from genolm.early_stopping import BestEpoch, improves
from genolm.finetune.adapters import adapt_encoder
from genolm.finetune.classifier import Classifier, PooledClassifier
from genolm.finetune.random_init import reinitialised
from genolm.finetune.settings import SCHEDULES, FinetuneSettings
from genolm.finetune.table import targets
from genolm.inference import embed, load_pretrained
from genolm.metrics import MULTILABEL_THRESHOLD
from genolm.sequence import reverse_complement

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


def lr_schedule(
    optimizer: torch.optim.Optimizer, settings: FinetuneSettings, steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning-rate schedule over `steps` optimiser steps: linear warm-up, then `settings.schedule`.

    Args:
        optimizer: the optimizer, its learning rate set to the peak.
        settings: `warmup_fraction` (of `steps`, rounded) and `schedule` (one of `SCHEDULES`).
        steps: optimiser steps of the whole run (`epochs` x batches per epoch).

    Returns:
        transformers' scheduler, to be stepped once after every optimiser step.

    Raises:
        ValueError: an unknown schedule.
    """
    from transformers import get_scheduler

    if settings.schedule not in SCHEDULES:
        raise ValueError(f"schedule {settings.schedule!r}, expected one of {', '.join(SCHEDULES)}")
    warmup = round(settings.warmup_fraction * steps)
    name = "constant_with_warmup" if settings.schedule == "constant" else settings.schedule
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=steps)


def strand_draws(seqs: list[str], rng: np.random.Generator) -> list[str]:
    """`seqs` with each one replaced by its reverse complement with probability 0.5 (one draw per gene).

    Args:
        seqs: the train sequences.
        rng: the run's generator (an epoch's draws follow its shuffle).

    Returns:
        The sequences of this epoch, in the same order.
    """
    flip = rng.random(len(seqs)) < 0.5
    return [reverse_complement(s) if f else s for s, f in zip(seqs, flip, strict=True)]


def _train_epoch(classifier, optimizer, schedule, trainable, seqs, order, batch_loss, settings) -> float:
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
        schedule.step()
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

    The learning rate warms up and decays as `lr_schedule` says. A classifier that reads both strands
    (`strands` not `forward`) trains on each gene's reverse complement half the time (`strand_draws`).
    Keeps the epoch with the best validation macro-F1 and stops after `settings.patience` epochs without
    a better one. Runs on `classifier.device`.

    Args:
        classifier: the classifier to train (in place).
        parts: train and val rows.
        batch_loss: the loss of a batch's float32 logits given the batch's train row indices.
        settings: epochs, batch size, chunks, patience, schedule and seed.
        lr: the AdamW peak learning rate.

    Returns:
        The history (train loss and val macro-F1 per epoch), best epoch and parameter counts.
    """
    model, task_type = classifier.module, classifier.task_type
    model.train()  # dropout on from the first epoch (a loaded encoder comes in eval mode)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.01)
    seqs = parts["train"]["sequence"].tolist()
    schedule = lr_schedule(optimizer, settings, settings.epochs * -(-len(seqs) // settings.batch_size))
    rng = np.random.default_rng(settings.seed)
    best, history = BestEpoch(settings.patience, floor=-1.0), []
    for epoch in range(1, settings.epochs + 1):
        order = rng.permutation(len(seqs))
        epoch_seqs = seqs if classifier.strands == "forward" else strand_draws(seqs, rng)
        args = (classifier, optimizer, schedule, trainable, epoch_seqs, order, batch_loss, settings)
        train_loss = _train_epoch(*args) / len(seqs)
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
    """Train one seed of a fine-tuning `method` on `device` at every learning rate of its grid, keep the
    one with the best validation macro-F1 and predict the test rows with it (once). A train split over
    `settings.grid_rows` rows runs the grid on a sample of it (`grid_sample`) and then the chosen rate on
    all of it.

    Args:
        parts: train, val and test rows.
        classes: class names.
        task_type: the task type.
        model_dir: the pretrained model directory.
        method: a fine-tuning method (not `probe`), or the `random_init` control (`finetune_full` on
            an encoder re-initialised from the pretrained config, seeded by `settings.seed`).
        settings: the run's settings; the grid is `settings.learning_rates(method)`.
        device: where training and prediction run.

    Returns:
        The chosen classifier (LoRA/IA3 adapters merged; a soft prompt stays a `PromptedEncoder`), its
        test probabilities and training info: its history, best epoch and parameter counts, the chosen
        `lr`, and `lr_grid` (the grid, its criterion, the train rows each point saw, and per learning
        rate the best validation score and epoch).
    """
    grid = settings.learning_rates(method)
    grid_parts = grid_sample(parts, settings) if len(grid) > 1 else parts
    chosen, scores, epochs = None, {}, {}
    for lr in grid:
        classifier, info = _train_at(grid_parts, classes, task_type, model_dir, method, settings, device, lr)
        scores[str(lr)] = info["history"][info["best_epoch"] - 1]["val_macro_f1"]
        epochs[str(lr)] = info["best_epoch"]
        LOG.info(
            "%s lr %g: best val macro-F1 %.4f (epoch %d)", method, lr, scores[str(lr)], info["best_epoch"]
        )
        if chosen is None or improves(scores[str(lr)], chosen[0]):  # ties keep the earlier grid entry
            chosen = (scores[str(lr)], lr, classifier, info)
        del classifier
    _, lr, classifier, info = chosen
    if grid_parts is not parts:  # the grid saw a sample: the chosen lr trains on every train row
        del chosen, classifier
        classifier, info = _train_at(parts, classes, task_type, model_dir, method, settings, device, lr)
    if method in ("finetune_lora", "finetune_ia3"):
        # Fold the adapters into the weights (in place, so pre.model holds them too): a plain encoder.
        classifier.module.encoder = classifier.module.encoder.merge_and_unload()
    record = {"lrs": grid, "criterion": "macro_f1", "val_scores": scores, "best_epoch": epochs}
    record["train_rows"] = len(grid_parts["train"])
    info = {**info, "lr": lr, "lr_grid": record}
    return classifier, classifier.predict_proba(parts["test"]["sequence"].tolist()), info


def grid_sample(parts: dict[str, pd.DataFrame], settings: FinetuneSettings) -> dict[str, pd.DataFrame]:
    """`parts` with train cut to a seeded sample of `settings.grid_rows` rows (in table order) when it is
    larger: the learning-rate grid compares its points on it, since the best rate of a recipe moves little
    between a few thousand rows and many more, while the grid's cost grows with every row.

    Args:
        parts: train, val and test rows.
        settings: `grid_rows` (0: no sampling) and `seed`.

    Returns:
        `parts` itself when nothing is cut, else a new dict sharing val and test.
    """
    train = parts["train"]
    if not settings.grid_rows or len(train) <= settings.grid_rows:
        return parts
    sample = train.sample(n=settings.grid_rows, random_state=settings.seed).sort_index()
    return {**parts, "train": sample}


def _train_at(parts, classes, task_type, model_dir, method, settings, device, lr) -> tuple[Classifier, dict]:
    """One grid point: a fresh classifier from the pretrained (or re-initialised) model, trained at `lr`."""
    torch.manual_seed(settings.seed)
    pre = load_pretrained(model_dir)
    if method == "random_init":  # the pretraining control: finetune_full's recipe on fresh weights
        pre, method = reinitialised(pre, settings.seed), "finetune_full"
    encoder = adapt_encoder(pre.model.base_model, method, settings)
    model = PooledClassifier(encoder, pre.model.config.hidden_size, len(classes))
    strands = "probabilities" if settings.reverse_complement else "forward"
    classifier = Classifier(
        model, pre, classes, task_type, settings.max_chunks, settings.batch_size, strands=strands
    ).to(device)
    y_train = targets(parts["train"])
    loss_fn = imbalance_loss(y_train, len(classes), task_type).to(device)

    def batch_loss(logits: torch.Tensor, idx: np.ndarray) -> torch.Tensor:
        target = torch.from_numpy(y_train[idx]).to(device)
        return loss_fn(logits, target.float() if task_type == "multilabel" else target)

    return classifier, fit_classifier(classifier, parts, batch_loss, settings, lr)


def probe_classifier(
    parts: dict[str, pd.DataFrame],
    classes: list[str],
    task_type: str,
    model_dir: str | Path,
    settings: FinetuneSettings,
    device: torch.device = CPU,
    *,
    random_init: bool = False,
) -> tuple[Classifier, np.ndarray, dict]:
    """Frozen encoder: logistic regression (C chosen on val; one-vs-rest for multi-label) on mean-pooled
    embeddings computed on `device`.

    With `random_init` (the `probe_random_init` control) the encoder is re-initialised from the pretrained
    config, seeded by `settings.seed`: what the same probe reads from an untrained encoder of the same
    architecture and tokenizer, so the report can tell what pretraining added to the probe.

    With `settings.reverse_complement` a gene's features are the mean of its forward and reverse-complement
    embeddings (`strand_embeddings`), rather than the two strands as two training rows whose predicted
    probabilities are averaged: each gene stays one row, so the regularisation chosen on val is not
    loosened by near-duplicate rows, the features are strand-symmetric by construction, and the saved
    classifier reproduces the regression exactly (its head is linear in the averaged embedding); both
    cost the same two embeddings per gene.

    Args:
        parts: train, val and test rows.
        classes: class names.
        task_type: the task type.
        model_dir: the pretrained model directory.
        settings: batch size, chunks and the regression's seed (and the re-initialisation's).
        device: where the embeddings are computed.
        random_init: probe a re-initialised encoder instead of the pretrained one.

    Returns:
        The classifier (the regression as its linear head, scaler folded in), the regression's test
        probabilities and info (trainable parameters).
    """
    pre = load_pretrained(model_dir)
    if random_init:
        pre = reinitialised(pre, settings.seed)
    pre.model.to(device)
    with autocast(device):
        x = {s: strand_embeddings(pre, p["sequence"].tolist(), settings) for s, p in parts.items()}
    y = {s: targets(p) for s, p in parts.items()}
    n = len(classes)
    model = fit_logistic(x["train"], y["train"], x["val"], y["val"], n_classes=n, seed=settings.seed)
    module = PooledClassifier(pre.model.base_model, pre.model.config.hidden_size, n)
    weight, bias = linear_head(model, n)
    module.head.load_state_dict(
        {"weight": torch.tensor(weight, dtype=torch.float32), "bias": torch.tensor(bias, dtype=torch.float32)}
    )
    strands = "embeddings" if settings.reverse_complement else "forward"
    classifier = Classifier(
        module, pre, classes, task_type, settings.max_chunks, settings.batch_size, strands=strands
    ).to(device)
    info = {"trainable_parameters": int(x["train"].shape[1] + 1)}
    return classifier, predict_proba(model, x["test"], n), info


def strand_embeddings(pre, seqs: list[str], settings: FinetuneSettings) -> np.ndarray:
    """The probe's features: mean-pooled embeddings, averaged with the reverse complement's when
    `settings.reverse_complement` is on.

    Args:
        pre: the loaded pretrained model.
        seqs: whole sequences (chunked to the model's window).
        settings: batch size, chunks and the strand switch.

    Returns:
        (len(seqs), hidden) features.
    """
    kwargs = {"batch_size": settings.batch_size, "max_chunks": settings.max_chunks}
    forward = embed(pre, seqs, **kwargs)
    if not settings.reverse_complement:
        return forward
    return (forward + embed(pre, [reverse_complement(s) for s in seqs], **kwargs)) / 2
