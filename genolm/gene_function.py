"""Gene-function tasks: adapt the pretrained model with a pooled classification head, or run a baseline.

Model methods: `finetune_full` (every weight trained), `finetune_lora` (LoRA adapters on the attention
projections, via peft), `finetune_ia3` (IA3 rescaling vectors, via peft) and `probe` (frozen encoder,
logistic regression on pooled embeddings). Every method reads the same labelled table, trains on its
train split, selects on val and writes predictions and metrics for exactly the same test rows.
With several seeds, predictions and CIs come from the first seed; metrics.json adds every seed's
point estimates and their mean and standard deviation.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import f1_score

from genolm.atomic import atomic_path, write_json
from genolm.baselines import fit_logistic, kmer_matrix, majority_proba, predict_proba
from genolm.errors import GenolmError
from genolm.inference import chunk_batch, embed, load_pretrained, pooled_chunks, tokenize
from genolm.metrics import classification_metrics, seed_summary

LOG = logging.getLogger(__name__)
BASELINES = ("kmer_lr", "majority")
MODEL_METHODS = ("finetune_full", "finetune_lora", "finetune_ia3", "probe")
#: LoRA targets: the attention projections of each family (module names from transformers' modeling files).
LORA_TARGETS = {
    "bert": ["query", "key", "value"],
    "roberta": ["query", "key", "value"],
    "gpt2": ["c_attn"],
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj"],
}


@dataclass(frozen=True)
class FinetuneSettings:
    epochs: int = 5
    lr: float = 5e-4
    batch_size: int = 16
    max_chunks: int = 8
    patience: int = 2
    seed: int = 42
    threads: int = 2
    lora_rank: int = 8
    lora_alpha: int = 16
    adapter_lr: float = 2e-3


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


def adapt_encoder(encoder: torch.nn.Module, method: str, settings: FinetuneSettings) -> torch.nn.Module:
    """The encoder as trained by `method`: itself (full) or wrapped by peft with only adapters trainable."""
    if method == "finetune_full":
        return encoder
    from peft import IA3Config, LoraConfig, get_peft_model

    model_type = encoder.config.model_type
    if method == "finetune_lora":
        if model_type not in LORA_TARGETS:
            raise GenolmError(f"finetune_lora: no LoRA targets known for model type {model_type!r}")
        config = LoraConfig(
            r=settings.lora_rank,
            lora_alpha=settings.lora_alpha,
            lora_dropout=0.1,
            target_modules=LORA_TARGETS[model_type],
        )
    elif method == "finetune_ia3":
        config = IA3Config()  # peft's per-family defaults: key/value and the feed-forward output
    else:
        raise GenolmError(f"gene_function method: got {method!r}, expected one of {', '.join(MODEL_METHODS)}")
    return get_peft_model(encoder, config)


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


def train_classifier(
    parts: dict[str, pd.DataFrame],
    n_classes: int,
    model_dir: str | Path,
    method: str,
    settings: FinetuneSettings,
) -> tuple[np.ndarray, dict]:
    """Train one seed of `method`; returns test probabilities and training info (history, best epoch)."""
    torch.manual_seed(settings.seed)
    pre = load_pretrained(model_dir)
    encoder = adapt_encoder(pre.model.base_model, method, settings)
    model = PooledClassifier(encoder, pre.model.config.hidden_size, n_classes)
    y_train = parts["train"]["y"].to_numpy()
    weights = torch.tensor(len(y_train) / (n_classes * np.bincount(y_train, minlength=n_classes).clip(1)))
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights.float())
    trainable = [p for p in model.parameters() if p.requires_grad]
    lr = settings.lr if method == "finetune_full" else settings.adapter_lr
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.01)
    seqs = parts["train"]["sequence"].tolist()
    rng = np.random.default_rng(settings.seed)
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
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            total += loss.item() * len(idx)
        val_proba = _predict(model, pre.tokenizer, parts["val"]["sequence"].tolist(), pre.window, settings)
        val_f1 = f1_score(parts["val"]["y"], val_proba.argmax(1), average="macro")
        history.append({"epoch": epoch, "train_loss": total / len(seqs), "val_macro_f1": float(val_f1)})
        LOG.info(
            "seed %d epoch %d: train loss %.4f, val macro-F1 %.4f",
            settings.seed,
            epoch,
            total / len(seqs),
            val_f1,
        )
        if val_f1 > best_f1:
            best_f1, best_epoch, stale = val_f1, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= settings.patience:
                break
    model.load_state_dict(best_state)
    proba = _predict(model, pre.tokenizer, parts["test"]["sequence"].tolist(), pre.window, settings)
    info = {
        "best_epoch": best_epoch,
        "history": history,
        "trainable_parameters": int(sum(p.numel() for p in trainable)),
        "total_parameters": int(sum(p.numel() for p in model.parameters())),
    }
    return proba, info


def probe_classifier(
    parts: dict[str, pd.DataFrame], n_classes: int, model_dir: str | Path, settings: FinetuneSettings
) -> tuple[np.ndarray, dict]:
    """Frozen encoder: logistic regression (C chosen on val) on mean-pooled embeddings."""
    pre = load_pretrained(model_dir)
    x = {
        s: embed(pre, p["sequence"].tolist(), batch_size=settings.batch_size, max_chunks=settings.max_chunks)
        for s, p in parts.items()
    }
    y = {s: p["y"].to_numpy() for s, p in parts.items()}
    model = fit_logistic(x["train"], y["train"], x["val"], y["val"], n_classes=n_classes, seed=settings.seed)
    return predict_proba(model, x["test"], n_classes), {"trainable_parameters": int(x["train"].shape[1] + 1)}


def run_finetune(
    table_tsv: str | Path,
    model_dir: str | Path,
    predictions_tsv: str | Path,
    metrics_json: str | Path,
    settings: FinetuneSettings,
    *,
    method: str = "finetune_full",
    seeds: int = 1,
) -> dict:
    """Train `method` with `seeds` seeds (settings.seed, +1, ...); the epoch with best val macro-F1 is kept.

    The probe is deterministic given the embeddings, so it runs once whatever `seeds` says.
    """
    if method not in MODEL_METHODS:
        raise GenolmError(f"gene_function method: got {method!r}, expected one of {', '.join(MODEL_METHODS)}")
    torch.set_num_threads(settings.threads)
    table, classes = load_table(table_tsv)
    parts = {s: table[table["split"] == s] for s in ("train", "val", "test")}
    window = load_pretrained(model_dir).window
    subsampled = sum(chunk_batch([s], window, settings.max_chunks)[2] for s in table["sequence"])
    if subsampled:
        LOG.warning(
            "%d genes are longer than %d windows: pooled over %d spread windows",
            subsampled,
            settings.max_chunks,
            settings.max_chunks,
        )
    seed_list = [settings.seed + i for i in range(1 if method == "probe" else seeds)]
    runs = []
    for seed in seed_list:
        run_settings = replace(settings, seed=seed)
        if method == "probe":
            runs.append(probe_classifier(parts, len(classes), model_dir, run_settings))
        else:
            runs.append(train_classifier(parts, len(classes), model_dir, method, run_settings))
    y_test = parts["test"]["y"].to_numpy()
    per_seed = [classification_metrics(y_test, proba, classes, n_boot=0) for proba, _ in runs]
    info = {
        "family": "gene_function",
        "method": method,
        "n_train": len(parts["train"]),
        **runs[0][1],
        "settings": asdict(settings),
        "genes_subsampled": int(subsampled),
        **seed_summary(seed_list, per_seed),
    }
    return write_results(
        parts["test"], runs[0][0], classes, predictions_tsv, metrics_json, info, settings.seed
    )
