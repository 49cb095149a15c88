"""Apply a pretrained GenoLM model: load it with its tokenizer, tokenize, chunk and pool sequences."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from genolm.device import autocast
from genolm.errors import GenolmError
from genolm.models import load_model
from genolm.tokenizers import overlapping_kmers, tokenizer_kind


@dataclass
class Pretrained:
    """A loaded model directory: the LM, its tokenizer, and the window (bases) it was trained on."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    window: int
    objective: str

    @property
    def device(self) -> torch.device:
        """Where the model's weights sit (and so where its inputs must go)."""
        return next(self.model.parameters()).device

    @property
    def grid(self) -> int:
        """The step chunk starts keep to (`token_grid` of the tokenizer)."""
        return token_grid(self.tokenizer)


#: How many times the CPU batch an inference pass takes on a GPU: enough rows to fill the device, while
#: the CPU keeps the small batches its outputs were produced with.
CUDA_BATCH_FACTOR = 8


def inference_batch_size(device: torch.device, cpu_batch: int) -> int:
    """Rows per inference batch on `device`: `cpu_batch` on the CPU, CUDA_BATCH_FACTOR times it on a GPU."""
    return cpu_batch * CUDA_BATCH_FACTOR if device.type == "cuda" else cpu_batch


def load_pretrained(model_dir: str | Path, device: torch.device | None = None) -> Pretrained:
    """Load a directory written by the pretrain stage (safetensors, local files only), in eval mode.

    Args:
        model_dir: the model directory.
        device: where the model goes (default: where it loads, the CPU).

    Returns:
        The model, tokenizer, window and objective.

    Raises:
        GenolmError: not a model directory written by the pretrain stage.
    """
    model_dir = Path(model_dir)
    meta_path = model_dir / "genolm.json"
    if not meta_path.is_file():
        raise GenolmError(
            f"{model_dir}: no genolm.json; expected a model directory written by genolm pretrain"
        )
    meta = json.loads(meta_path.read_text())
    model = load_model(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model.eval()
    if device is not None:
        model.to(device)
    return Pretrained(model, tokenizer, int(meta["window"]), meta["objective"])


def token_grid(tokenizer: PreTrainedTokenizerBase) -> int:
    """k for a non-overlapping "kmer" tokenizer, else 1: the step chunk starts must keep to.

    A "kmer" tokenizer reads a chunk on a grid from the chunk's first base, so a chunk starting off the
    sequence's grid reads it in another frame: codon tokens of a coding sequence would become out-of-frame
    triplets in some chunks and not in others. On the grid, every chunk reads the frame the whole sequence
    is read in.
    """
    kind, k = tokenizer_kind(tokenizer)
    return k if kind == "kmer" else 1


def chunk_starts(length: int, window: int, max_chunks: int, grid: int = 1) -> list[int]:
    """Starts of windows covering a sequence: evenly spread, the last one flush with the end (or as near
    it as the grid allows: starts are multiples of `grid`, see `token_grid`).

    A sequence needing more than `max_chunks` windows is covered by `max_chunks` evenly spaced
    ones (the caller counts such sequences), never cut to its first window.
    """
    if length <= window:
        return [0]
    needed = -(-length // window)
    n = min(needed, max_chunks)
    return [int(round(x)) // grid * grid for x in np.linspace(0, length - window, n)]


def tokenize(tokenizer: PreTrainedTokenizerBase, seqs: list[str], **kwargs) -> dict[str, torch.Tensor]:
    """[CLS] tokens [SEP] with padding, via the tokenizer's own batch call (k-mer text for kmer_overlap)."""
    kind, k = tokenizer_kind(tokenizer)
    if kind == "kmer_overlap":
        seqs = [overlapping_kmers(s, k) for s in seqs]
    return tokenizer(seqs, padding=True, return_tensors="pt", return_token_type_ids=False, **kwargs)


def mean_pool(hidden: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """Average the token states of each row over its real (non-pad) tokens."""
    mask = attention.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)


def pooled_chunks(encoder: torch.nn.Module, batch: dict[str, torch.Tensor], owner: torch.Tensor, n: int):
    """Embed chunks, then average the chunks of each of the `n` sequences (owner[i] = its sequence)."""
    hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    chunks = mean_pool(hidden, batch["attention_mask"])
    owner = owner.to(chunks.device)
    sums = torch.zeros(n, chunks.shape[1], dtype=chunks.dtype, device=chunks.device).index_add_(
        0, owner, chunks
    )
    counts = torch.bincount(owner, minlength=n).clamp(min=1).unsqueeze(1)
    return sums / counts


def chunk_batch(
    seqs: list[str], window: int, max_chunks: int, grid: int = 1
) -> tuple[list[str], torch.Tensor, int]:
    """Flatten sequences into chunks (starts as `chunk_starts` puts them); returns chunks, their owner
    index and how many were subsampled."""
    chunks, owner, subsampled = [], [], 0
    for i, seq in enumerate(seqs):
        starts = chunk_starts(len(seq), window, max_chunks, grid)
        subsampled += int(len(starts) * window < len(seq))
        chunks.extend(seq[s : s + window] for s in starts)
        owner.extend([i] * len(starts))
    return chunks, torch.tensor(owner), subsampled


@torch.no_grad()
def embed(
    pre: Pretrained, seqs: list[str], *, batch_size: int | None = None, max_chunks: int = 8
) -> np.ndarray:
    """Mean-pooled final-layer embeddings of whole sequences (chunked to the model's window), computed on
    the model's device (bf16 autocast on a GPU that supports it); `batch_size` sequences at a time
    (default: 32 on the CPU, more on a GPU, see `inference_batch_size`)."""
    encoder, device = pre.model.base_model, pre.device
    batch_size = batch_size or inference_batch_size(device, 32)
    out = []
    for i in range(0, len(seqs), batch_size):
        part = seqs[i : i + batch_size]
        chunks, owner, _ = chunk_batch(part, pre.window, max_chunks, pre.grid)
        batch = tokenize(pre.tokenizer, chunks).to(device)
        with autocast(device):
            pooled = pooled_chunks(encoder, batch, owner, len(part))
        out.append(pooled.float().cpu().numpy())
    return np.concatenate(out) if out else np.empty((0, pre.model.config.hidden_size))
