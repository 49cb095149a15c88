"""Gene-function baselines on a label table: k-mer logistic regression and the majority floor."""

from __future__ import annotations

from pathlib import Path

from genolm.baselines.linear import fit_logistic, kmer_matrix, majority_proba, predict_proba
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
) -> dict:
    """Score a baseline on the table's test rows, trained on its train rows (C chosen on val).

    Args:
        table_tsv: the task's gene label table.
        method: `kmer_lr` (k=1..4 frequency logistic regression, one-vs-rest for multi-label) or
            `majority` (training class frequencies; multi-label: each label's training prevalence).
        predictions_tsv: where test predictions go.
        metrics_json: where metrics go.
        task_type: the task type, or None for binary/multiclass by the number of classes.
        seed: regression and bootstrap seed.

    Returns:
        The metrics as written.

    Raises:
        GenolmError: an unknown baseline or a malformed table.
    """
    table, classes = load_table(table_tsv, task_type)
    parts = split_parts(table)
    y = {s: targets(p) for s, p in parts.items()}
    if method == "kmer_lr":
        x = {s: kmer_matrix(p["sequence"].tolist()) for s, p in parts.items()}
        model = fit_logistic(x["train"], y["train"], x["val"], y["val"], n_classes=len(classes), seed=seed)
        proba = predict_proba(model, x["test"], len(classes))
    elif method == "majority":
        proba = majority_proba(y["train"], len(parts["test"]), len(classes))
    else:
        raise GenolmError(
            f"gene_function baseline: got {method!r}, expected one of {', '.join(GENE_BASELINES)}"
        )
    info = {"family": "gene_function", "method": method, "n_train": len(parts["train"])}
    task_type = resolve_task_type(task_type, classes)
    return write_results(parts["test"], proba, classes, task_type, predictions_tsv, metrics_json, info, seed)
