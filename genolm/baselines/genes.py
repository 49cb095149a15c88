"""Gene-function baselines on a label table: k-mer and codon-usage logistic regressions, a one-hot CNN, the
majority floor."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np
import torch

from genolm.baselines.cnn import CNNSettings, fit_cnn, one_hot, predict
from genolm.baselines.linear import codon_matrix, fit_logistic, kmer_matrix, majority_proba, predict_proba
from genolm.errors import GenolmError
from genolm.finetune.table import load_table, resolve_task_type, split_parts, targets, write_results
from genolm.names import GENE_BASELINES


def run_baseline(
    table_tsv: str | Path,
    method: str,
    predictions_tsv: str | Path,
    metrics_json: str | Path,
    *,
    task_type: str | None = None,
    seed: int = 42,
    cnn: dict | None = None,
    threads: int = 1,
    flank: int = 0,
) -> dict:
    """Score a baseline on the table's test rows, trained on its train rows (hyper-parameters chosen on val).

    Args:
        table_tsv: the task's gene label table.
        method: `kmer_lr` (k=1..4 frequency logistic regression, C chosen on val; one-vs-rest for
            multi-label), `codon_lr` (the same regression on the 64 in-frame codon frequencies of annotation
            genes: what codon usage alone tells; see `codon_profile`), `majority` (training class
            frequencies; multi-label: each label's training prevalence) or `cnn` (a one-hot CNN trained
            from scratch, learning rate chosen on val; see `genolm.baselines.cnn`).
        predictions_tsv: where test predictions go.
        metrics_json: where metrics go.
        task_type: the task type, or None for binary/multiclass by the number of classes.
        seed: regression, network and bootstrap seed.
        cnn: `CNNSettings` fields other than the seed (the `gene_function.cnn` section); defaults if None.
        threads: torch CPU threads of the CNN.
        flank: `codon_lr`: the task's upstream bases before each CDS (`flank`), left out of the codons.

    Returns:
        The metrics as written (the CNN's add `cnn`: chosen learning rate, val scores of the grid).

    Raises:
        GenolmError: an unknown baseline, a malformed table, or `codon_lr` on a table of rows without a
            reading frame (no `strand` column: not genes from an annotation).
    """
    table, classes = load_table(table_tsv, task_type)
    task_type = resolve_task_type(task_type, classes)
    parts = split_parts(table)
    y = {s: targets(p) for s, p in parts.items()}
    info = {"family": "gene_function", "method": method, "n_train": len(parts["train"])}
    if method == "codon_lr" and "strand" not in table.columns:
        raise GenolmError(
            f"{table_tsv}: codon_lr needs genes from an annotation (coding-strand CDS in their frame); "
            "this table has no strand column"
        )
    if method in ("kmer_lr", "codon_lr"):
        featurise = kmer_matrix if method == "kmer_lr" else partial(codon_matrix, flank=flank)
        x = {s: featurise(p["sequence"].tolist()) for s, p in parts.items()}
        model = fit_logistic(x["train"], y["train"], x["val"], y["val"], n_classes=len(classes), seed=seed)
        proba = predict_proba(model, x["test"], len(classes))
    elif method == "majority":
        proba = majority_proba(y["train"], len(parts["test"]), len(classes))
    elif method == "cnn":
        proba, info["cnn"] = _cnn_proba(
            parts, y, task_type, len(classes), {**(cnn or {}), "seed": seed}, threads
        )
    else:
        raise GenolmError(
            f"gene_function baseline: got {method!r}, expected one of {', '.join(GENE_BASELINES)}"
        )
    return write_results(parts["test"], proba, classes, task_type, predictions_tsv, metrics_json, info, seed)


def _cnn_proba(
    parts, y, task_type: str, n_outputs: int, settings: dict, threads: int
) -> tuple[np.ndarray, dict]:
    """Test probabilities of the CNN chosen on val, and its record (grid, settings)."""
    torch.set_num_threads(threads)
    cnn = CNNSettings(**settings)
    seqs = {s: p["sequence"].tolist() for s, p in parts.items()}
    model, record = fit_cnn(
        seqs["train"],
        y["train"],
        seqs["val"],
        y["val"],
        task_type=task_type,
        n_outputs=n_outputs,
        settings=cnn,
    )
    proba = predict(
        model,
        seqs["test"],
        lambda rows: one_hot(rows, cnn.max_length),
        task_type,
        both_strands=cnn.reverse_complement,
    )
    return proba, {**record, "settings": asdict(cnn)}
