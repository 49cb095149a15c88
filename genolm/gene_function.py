"""Gene-function tasks: fine-tune a pooled classification head on the pretrained model, or run a baseline.

Every method reads the same labelled table, trains on its train split, selects on val and writes
predictions and metrics for exactly the same test rows.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import f1_score

from genolm.atomic import atomic_path, write_json
from genolm.baselines import fit_logistic, kmer_matrix, majority_proba, predict_proba
from genolm.errors import GenolmError
from genolm.inference import chunk_batch, load_pretrained, pooled_chunks, tokenize
from genolm.metrics import classification_metrics

LOG = logging.getLogger(__name__)
BASELINES = ("kmer_lr", "majority")


@dataclass(frozen=True)
class FinetuneSettings:
    epochs: int = 5
    lr: float = 5e-4
    batch_size: int = 16
    max_chunks: int = 8
    patience: int = 2
    seed: int = 42
    threads: int = 2


def load_table(path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """A labelled table and its sorted class names; labels become integer codes in `y`."""
    table = pd.read_csv(path, sep="\t", dtype={"label": str, "contig": str})
    for column in ("label", "split", "sequence"):
        if column not in table.columns:
            raise GenolmError(f"{path}: missing column {column!r}")
    classes = sorted(table["label"].unique())
    table["y"] = table["label"].map({c: i for i, c in enumerate(classes)})
    return table, classes


def write_results(
    test: pd.DataFrame,
    proba: np.ndarray,
    classes: list[str],
    predictions_tsv: str | Path,
    metrics_json: str | Path,
    info: dict,
    seed: int,
) -> dict:
    """Per-row predictions (with class probabilities) and metrics with bootstrap CIs."""
    pred = pd.DataFrame({"id": test["id"].to_numpy(), "label": test["label"].to_numpy()})
    pred["prediction"] = [classes[i] for i in proba.argmax(1)]
    for i, c in enumerate(classes):
        pred[f"p_{c}"] = np.round(proba[:, i], 6)
    with atomic_path(predictions_tsv) as tmp:
        pred.to_csv(tmp, sep="\t", index=False)
    metrics = {**info, **classification_metrics(test["y"].to_numpy(), proba, classes, seed=seed)}
    write_json(metrics_json, metrics)
    LOG.info("%s: %s", info.get("method"), {k: round(v["value"], 4) for k, v in metrics["metrics"].items()})
    return metrics


def run_baseline(
    table_tsv: str | Path,
    method: str,
    predictions_tsv: str | Path,
    metrics_json: str | Path,
    *,
    seed: int = 42,
) -> dict:
    """k-mer (k=1..4) frequency logistic regression, or the majority-class floor."""
    table, classes = load_table(table_tsv)
    parts = {s: table[table["split"] == s] for s in ("train", "val", "test")}
    if method == "kmer_lr":
        x = {s: kmer_matrix(p["sequence"].tolist()) for s, p in parts.items()}
        model = fit_logistic(
            x["train"],
            parts["train"]["y"].to_numpy(),
            x["val"],
            parts["val"]["y"].to_numpy(),
            n_classes=len(classes),
            seed=seed,
        )
        proba = predict_proba(model, x["test"], len(classes))
    elif method == "majority":
        proba = majority_proba(parts["train"]["y"].to_numpy(), len(parts["test"]), len(classes))
    else:
        raise GenolmError(f"gene_function baseline: got {method!r}, expected one of {', '.join(BASELINES)}")
    info = {"family": "gene_function", "method": method, "n_train": len(parts["train"])}
    return write_results(parts["test"], proba, classes, predictions_tsv, metrics_json, info, seed)


class PooledClassifier(torch.nn.Module):
    """The pretrained encoder, mean-pooled over tokens and chunks, then a linear head."""

    def __init__(self, encoder: torch.nn.Module, hidden: int, n_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(hidden, n_classes)

    def forward(self, batch: dict[str, torch.Tensor], owner: torch.Tensor, n: int) -> torch.Tensor:
        return self.head(self.dropout(pooled_chunks(self.encoder, batch, owner, n)))


def _predict(model: PooledClassifier, tokenizer, seqs: list[str], window: int, settings: FinetuneSettings):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(seqs), settings.batch_size):
            part = seqs[i : i + settings.batch_size]
            chunks, owner, _ = chunk_batch(part, window, settings.max_chunks)
            out.append(torch.softmax(model(tokenize(tokenizer, chunks), owner, len(part)), -1).numpy())
    model.train()
    return np.concatenate(out)


def run_finetune(
    table_tsv: str | Path,
    model_dir: str | Path,
    predictions_tsv: str | Path,
    metrics_json: str | Path,
    settings: FinetuneSettings,
) -> dict:
    """Full fine-tuning with class-weighted loss; the epoch with the best validation macro-F1 is kept."""
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    table, classes = load_table(table_tsv)
    parts = {s: table[table["split"] == s] for s in ("train", "val", "test")}
    pre = load_pretrained(model_dir)
    model = PooledClassifier(pre.model.base_model, pre.model.config.hidden_size, len(classes))
    y_train = parts["train"]["y"].to_numpy()
    weights = torch.tensor(
        len(y_train) / (len(classes) * np.bincount(y_train, minlength=len(classes)).clip(1))
    )
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights.float())
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.01)
    seqs = parts["train"]["sequence"].tolist()
    rng = np.random.default_rng(settings.seed)
    subsampled = sum(chunk_batch([s], pre.window, settings.max_chunks)[2] for s in table["sequence"])
    if subsampled:
        LOG.warning(
            "%d genes are longer than %d windows: pooled over %d spread windows",
            subsampled,
            settings.max_chunks,
            settings.max_chunks,
        )
    best_f1, best_state, best_epoch, stale, history = -1.0, None, 0, 0, []
    for epoch in range(1, settings.epochs + 1):
        order = rng.permutation(len(seqs))
        total = 0.0
        for i in range(0, len(order), settings.batch_size):
            idx = order[i : i + settings.batch_size]
            chunks, owner, _ = chunk_batch([seqs[j] for j in idx], pre.window, settings.max_chunks)
            logits = model(tokenize(pre.tokenizer, chunks), owner, len(idx))
            loss = loss_fn(logits, torch.from_numpy(y_train[idx]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += loss.item() * len(idx)
        val_proba = _predict(model, pre.tokenizer, parts["val"]["sequence"].tolist(), pre.window, settings)
        val_f1 = f1_score(parts["val"]["y"], val_proba.argmax(1), average="macro")
        history.append({"epoch": epoch, "train_loss": total / len(seqs), "val_macro_f1": float(val_f1)})
        LOG.info("epoch %d: train loss %.4f, val macro-F1 %.4f", epoch, total / len(seqs), val_f1)
        if val_f1 > best_f1:
            best_f1, best_state, best_epoch, stale = val_f1, copy.deepcopy(model.state_dict()), epoch, 0
        else:
            stale += 1
            if stale >= settings.patience:
                break
    model.load_state_dict(best_state)
    proba = _predict(model, pre.tokenizer, parts["test"]["sequence"].tolist(), pre.window, settings)
    info = {
        "family": "gene_function",
        "method": "finetune",
        "n_train": len(seqs),
        "best_epoch": best_epoch,
        "history": history,
        "settings": asdict(settings),
        "genes_subsampled": int(subsampled),
    }
    return write_results(parts["test"], proba, classes, predictions_tsv, metrics_json, info, settings.seed)
