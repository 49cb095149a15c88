"""A gene-function classifier (encoder, pooling, linear head) that predicts, saves and reloads itself."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import PreTrainedTokenizerBase

from genolm.atomic import atomic_path, write_tsv
from genolm.device import autocast
from genolm.errors import GenolmError
from genolm.finetune.adapters import PromptedEncoder, load_prompt
from genolm.finetune.table import prediction_table
from genolm.inference import (
    Pretrained,
    chunk_batch,
    inference_batch_size,
    load_pretrained,
    pooled_chunks,
    tokenize,
)
from genolm.io.fasta import decode, iter_fasta
from genolm.names import GENE_TASK_TYPES
from genolm.sequence import reverse_complement

LOG = logging.getLogger(__name__)
#: How a classifier reads the two strands: `forward` only; `probabilities`, the mean of the forward and
#: reverse-complement probabilities (fine-tuned methods); `embeddings`, the linear head on the mean of the
#: two strands' pooled embeddings (the probe, whose regression was fit on those means).
STRANDS = ("forward", "probabilities", "embeddings")


class PooledClassifier(torch.nn.Module):
    """The pretrained encoder, mean-pooled over tokens and chunks, then a linear head."""

    def __init__(self, encoder: torch.nn.Module, hidden: int, n_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(hidden, n_classes)

    def forward(self, batch: dict[str, torch.Tensor], owner: torch.Tensor, n: int) -> torch.Tensor:
        return self.head(self.dropout(self.pooled(batch, owner, n)))

    def pooled(self, batch: dict[str, torch.Tensor], owner: torch.Tensor, n: int) -> torch.Tensor:
        """(n, hidden) embeddings: mean over each chunk's tokens, then over each gene's chunks."""
        return pooled_chunks(self.encoder, batch, owner, n)


@dataclass
class Classifier:
    """A gene-function classifier: `module` (encoder + pooled linear head) with what predicting needs.

    `pretrained` holds the whole language model whose base model is `module.encoder` (it is what
    `save_classifier` writes as encoder/) and its tokenizer and window; `device` is where both sit;
    `strands` (one of `STRANDS`) how `predict_proba` reads the two strands of a sequence.
    """

    module: PooledClassifier
    pretrained: Pretrained
    classes: list[str]
    task_type: str
    max_chunks: int
    batch_size: int = 16
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    strands: str = "forward"

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self.pretrained.tokenizer

    @property
    def window(self) -> int:
        return self.pretrained.window

    @property
    def grid(self) -> int:
        return self.pretrained.grid

    def to(self, device: torch.device) -> Classifier:
        """Move the language model and the head to `device` (in place); returns the classifier."""
        self.pretrained.model.to(device)
        self.module.to(device)
        self.device = device
        return self

    def _chunked(self, seqs: list[str], max_chunks: int | None = None) -> tuple[dict, torch.Tensor]:
        """Whole genes as tokenised chunks (`max_chunks` windows, default the classifier's) and the gene
        each chunk belongs to, on the classifier's device."""
        chunks, owner, _ = chunk_batch(seqs, self.window, max_chunks or self.max_chunks, self.grid)
        return tokenize(self.tokenizer, chunks).to(self.device), owner.to(self.device)

    def logits(self, seqs: list[str], max_chunks: int | None = None) -> torch.Tensor:
        """(len(seqs), classes) logits of whole genes, chunked and pooled, computed on the classifier's
        device (mixed precision on a GPU)."""
        batch, owner = self._chunked(seqs, max_chunks)
        with autocast(self.device):
            return self.module(batch, owner, len(seqs))

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Sigmoid per label (multi-label) or softmax over classes."""
        return torch.sigmoid(logits) if self.task_type == "multilabel" else torch.softmax(logits, -1)

    def _embedding_logits(self, seqs: list[str]) -> torch.Tensor:
        """Logits of the head on the mean of the forward and reverse-complement pooled embeddings."""
        pooled = []
        for strand in (seqs, [reverse_complement(s) for s in seqs]):
            batch, owner = self._chunked(strand)
            with autocast(self.device):
                pooled.append(self.module.pooled(batch, owner, len(seqs)).float())
        return self.module.head((pooled[0] + pooled[1]) / 2)

    def _batch_proba(self, seqs: list[str]) -> torch.Tensor:
        """Probabilities of one batch, the strands read as `strands` says."""
        if self.strands == "embeddings":
            return self.probabilities(self._embedding_logits(seqs).float())
        forward = self.probabilities(self.logits(seqs).float())
        if self.strands == "forward":
            return forward
        reverse = self.probabilities(self.logits([reverse_complement(s) for s in seqs]).float())
        return (forward + reverse) / 2

    @torch.no_grad()
    def predict_proba(self, seqs: list[str]) -> np.ndarray:
        """(n, classes) probabilities; genes are chunked into windows and pooled as in training, and
        the reverse-complement strand is averaged in unless `strands` is `forward`."""
        training = self.module.training
        self.module.eval()
        out = []
        for i in range(0, len(seqs), self.batch_size):
            out.append(self._batch_proba(seqs[i : i + self.batch_size]).cpu().numpy())
        self.module.train(training)
        return np.concatenate(out) if out else np.empty((0, len(self.classes)), dtype=np.float32)


def save_classifier(classifier: Classifier, out_dir: str | Path, *, method: str, seed: int) -> None:
    """Write a classifier atomically as a directory that `load_classifier` reads.

    The directory holds encoder/ (the language model with the tuned encoder, adapters merged,
    safetensors + tokenizer + genolm.json: a pretrain-style model directory), head.safetensors (the
    linear head's weight and bias) and classifier.json (classes, task type, window, chunking, pooling,
    method, seed, strands: how the two strands are read, see `STRANDS`). A soft prompt cannot be merged
    into weights: it is saved as a peft adapter directory prompt/ (adapter_config.json +
    adapter_model.safetensors) next to the untouched encoder/, and classifier.json adds `prompt_tokens`.

    Args:
        classifier: what to save.
        out_dir: the directory (replaced whole).
        method: the method that trained it, recorded in classifier.json.
        seed: the seed that trained it, recorded in classifier.json.
    """
    pre = classifier.pretrained
    encoder_module = classifier.module.encoder
    prompt = encoder_module if isinstance(encoder_module, PromptedEncoder) else None
    with atomic_path(out_dir) as tmp:
        encoder = tmp / "encoder"
        pre.model.save_pretrained(encoder)
        pre.tokenizer.save_pretrained(encoder)
        (encoder / "genolm.json").write_text(json.dumps({"window": pre.window, "objective": pre.objective}))
        head = {k: v.detach().cpu().contiguous() for k, v in classifier.module.head.state_dict().items()}
        save_file(head, tmp / "head.safetensors")
        meta = {
            "classes": classifier.classes,
            "task_type": classifier.task_type,
            "window": pre.window,
            "max_chunks": classifier.max_chunks,
            "batch_size": classifier.batch_size,
            "pooling": "mean over tokens, then over a gene's chunks",
            "output": "sigmoid per label, p >= 0.5" if classifier.task_type == "multilabel" else "softmax",
            "method": method,
            "seed": seed,
            "strands": classifier.strands,
        }
        if prompt is not None:
            prompt.peft.save_pretrained(tmp / "prompt")
            (tmp / "prompt" / "README.md").unlink(missing_ok=True)  # peft's empty model-card template
            meta["prompt_tokens"] = prompt.n_virtual
            meta["pooling"] += " (the prompt's virtual tokens left out)"
        (tmp / "classifier.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def load_classifier(model_dir: str | Path) -> Classifier:
    """Reload a directory written by `save_classifier` (safetensors only, local files only).

    Args:
        model_dir: results/<run>/gene_function/<task>/<method>/model or a copy of it.

    Returns:
        The classifier, on the CPU, in eval mode.

    Raises:
        GenolmError: a missing or malformed classifier.json, head or soft prompt.
    """
    model_dir = Path(model_dir)
    meta = _read_meta(model_dir / "classifier.json", model_dir)
    classes = list(meta["classes"])
    pre = load_pretrained(model_dir / "encoder")
    try:
        head = load_file(model_dir / "head.safetensors")
    except (OSError, SafetensorError) as err:
        raise GenolmError(f"{model_dir}/head.safetensors: cannot read ({err})") from None
    hidden = pre.model.config.hidden_size
    if set(head) != {"weight", "bias"} or tuple(head["weight"].shape) != (len(classes), hidden):
        raise GenolmError(
            f"{model_dir}/head.safetensors: expected weight ({len(classes)}, {hidden}) and bias for "
            f"{len(classes)} classes"
        )
    encoder = pre.model.base_model
    if meta["prompt_tokens"]:
        encoder = load_prompt(encoder, model_dir / "prompt", meta["prompt_tokens"])
    module = PooledClassifier(encoder, hidden, len(classes))
    module.head.load_state_dict(head)
    module.eval()
    return Classifier(
        module,
        pre,
        classes,
        meta["task_type"],
        meta["max_chunks"],
        meta["batch_size"],
        strands=meta["strands"],
    )


def _read_meta(meta_path: Path, model_dir: Path) -> dict:
    """classifier.json's classes, task type, chunking, batch size and prompt length, checked."""
    if not meta_path.is_file():
        raise GenolmError(
            f"{model_dir}: no classifier.json; expected a directory written by the finetune rule "
            "(results/<run>/gene_function/<task>/<method>/model)"
        )
    try:
        meta = json.loads(meta_path.read_text())
        out = {
            "classes": list(meta["classes"]),
            "task_type": meta["task_type"],
            "max_chunks": int(meta["max_chunks"]),
            "batch_size": int(meta["batch_size"]),
            "prompt_tokens": int(meta.get("prompt_tokens", 0)),
            "strands": meta.get("strands", "forward"),  # classifiers saved before it read one strand
        }
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise GenolmError(
            f"{meta_path}: not a valid classifier description ({type(err).__name__}: {err})"
        ) from None
    if out["strands"] not in STRANDS:
        raise GenolmError(f"{meta_path}: strands {out['strands']!r}, expected one of {', '.join(STRANDS)}")
    if out["task_type"] not in GENE_TASK_TYPES:
        raise GenolmError(
            f"{meta_path}: task_type {out['task_type']!r}, expected one of {', '.join(GENE_TASK_TYPES)}"
        )
    return out


def predict_fasta(
    model_dir: str | Path, fasta: str | Path, out_tsv: str | Path, *, device: torch.device | None = None
) -> pd.DataFrame:
    """Classify every record of a FASTA (plain or gzipped) with a saved classifier (`genolm predict`).

    Args:
        model_dir: a directory written by `save_classifier`.
        fasta: the records to classify.
        out_tsv: where id, prediction, p_<class> per record go, in FASTA order.
        device: where the classifier computes (default the CPU; on a GPU with larger batches).

    Returns:
        The table written.

    Raises:
        GenolmError: an unreadable classifier or FASTA.
    """
    classifier = load_classifier(model_dir)
    if device is not None:
        classifier.to(device).batch_size = inference_batch_size(device, classifier.batch_size)
    records = [(name, decode(codes)) for name, codes in iter_fasta(fasta)]
    proba = classifier.predict_proba([seq for _, seq in records])
    table = prediction_table([name for name, _ in records], proba, classifier.classes, classifier.task_type)
    write_tsv(out_tsv, table)
    LOG.info("%s: classified %d records with %s", fasta, len(table), model_dir)
    return table
