"""Tiny randomly initialised model directories laid out as the pretrain stage writes them (fast tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from genolm.models import build_config, build_model, objective
from genolm.tokenizers import build_tokenizer


def random_dna(rng: np.random.Generator, n: int, length: int) -> list[str]:
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]


def tiny_model_dir(
    path: Path, *, kind: str = "char", family: str = "bert", window: int = 64, k: int = 3
) -> Path:
    """Save a seeded 1-layer, 16-wide model of `family` with a `kind` tokenizer to `path`."""
    torch.manual_seed(0)
    seqs = random_dna(np.random.default_rng(0), 50, window) if kind == "bpe" else None
    tokenizer = build_tokenizer(
        kind, k=k, vocab_size=40, training_sequences=seqs, model_max_length=window + 2
    )
    size = {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32}
    model = build_model(build_config(family, size, tokenizer, window + 2), family)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    (path / "genolm.json").write_text(json.dumps({"window": window, "objective": objective(family)}))
    return path


def gc_class_table(path: Path, n_per_split: tuple[int, int, int], length: int, seed: int) -> Path:
    """A gene table (the finetune contract) whose class is GC richness: learnable from composition alone,
    and strand-symmetric (a reverse complement keeps its class). Alternate rows are gc_rich / at_rich."""
    rng = np.random.default_rng(seed)
    rows = []
    for split, n in zip(("train", "val", "test"), n_per_split, strict=True):
        for i in range(n):
            label = "gc_rich" if i % 2 else "at_rich"
            p = [0.1, 0.4, 0.4, 0.1] if label == "gc_rich" else [0.4, 0.1, 0.1, 0.4]
            seq = "".join(rng.choice(list("ACGT"), length, p=p))
            rows.append((f"{split}{i}", "c1", i, i + length, "+", label, split, seq))
    columns = ["id", "contig", "start", "end", "strand", "label", "split", "sequence"]
    pd.DataFrame(rows, columns=columns).to_csv(path, sep="\t", index=False)
    return path
