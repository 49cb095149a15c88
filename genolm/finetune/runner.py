"""One gene-function task and model method end to end: every seed, the saved classifier, the results."""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd
import torch

from genolm.device import resolve_device
from genolm.errors import GenolmError
from genolm.finetune.classifier import save_classifier
from genolm.finetune.fit import probe_classifier, train_classifier
from genolm.finetune.settings import FinetuneSettings
from genolm.finetune.table import (
    load_table,
    resolve_task_type,
    split_parts,
    targets,
    task_metrics,
    write_results,
)
from genolm.inference import chunk_batch, load_pretrained
from genolm.metrics import seed_summary
from genolm.names import GENE_CONTROLS, GENE_MODEL_METHODS

LOG = logging.getLogger(__name__)


def run_finetune(
    table_tsv: str | Path,
    model_dir: str | Path,
    predictions_tsv: str | Path,
    metrics_json: str | Path,
    settings: FinetuneSettings,
    *,
    method: str = "finetune_full",
    seeds: int = 1,
    task_type: str | None = None,
    classifier_dir: str | Path | None = None,
    gpus: int = 0,
) -> dict:
    """Train `method` with `seeds` seeds (settings.seed, +1, ...), keeping each seed's best epoch.

    The probe is deterministic given the embeddings, so it runs once whatever `seeds` says; its control,
    `probe_random_init`, runs every seed (each seed draws another untrained encoder). Predictions
    and CIs come from the first seed; metrics.json adds every seed's point estimates and their mean and
    standard deviation.

    Args:
        table_tsv: the task's gene label table.
        model_dir: the pretrained model directory.
        predictions_tsv: where the first seed's test predictions go.
        metrics_json: where the metrics go.
        settings: the run's settings (recorded in metrics.json).
        method: one of `GENE_MODEL_METHODS`, or a control: `random_init` (see `train_classifier`) or
            `probe_random_init` (see `probe_classifier`).
        seeds: training seeds per fine-tuning method.
        task_type: the task type, or None for binary/multiclass by the number of classes.
        classifier_dir: where the first seed's classifier is saved, when given.
        gpus: GPUs the job holds (`gene_function.finetune.gpus`); 0 computes on the CPU.

    Returns:
        The metrics as written (with `device` when not the CPU).

    Raises:
        GenolmError: an unknown method, a malformed table, or `gpus` > 0 without a visible GPU.
    """
    if method not in GENE_MODEL_METHODS + GENE_CONTROLS:
        raise GenolmError(
            f"gene_function method: got {method!r}, "
            f"expected one of {', '.join(GENE_MODEL_METHODS + GENE_CONTROLS)}"
        )
    device = resolve_device(gpus, "gene_function.finetune.gpus")
    torch.set_num_threads(settings.threads)
    table, classes = load_table(table_tsv, task_type)
    task_type = resolve_task_type(task_type, classes)
    parts = split_parts(table)
    subsampled = _count_subsampled(table, load_pretrained(model_dir).window, settings.max_chunks)
    seed_list = [settings.seed + i for i in range(1 if method == "probe" else seeds)]
    runs, first = [], None
    for seed in seed_list:
        run_settings = replace(settings, seed=seed)
        if method in ("probe", "probe_random_init"):
            classifier, proba, info = probe_classifier(
                parts,
                classes,
                task_type,
                model_dir,
                run_settings,
                device,
                random_init=method == "probe_random_init",
            )
        else:
            classifier, proba, info = train_classifier(
                parts, classes, task_type, model_dir, method, run_settings, device
            )
        first = first or classifier
        runs.append((proba, info))
    if classifier_dir is not None:
        save_classifier(first, classifier_dir, method=method, seed=settings.seed)
    y_test = targets(parts["test"])
    per_seed = [task_metrics(y_test, proba, classes, task_type, n_boot=0) for proba, _ in runs]
    info = {
        "family": "gene_function",
        "method": method,
        "n_train": len(parts["train"]),
        **runs[0][1],
        "settings": asdict(settings),
        "genes_subsampled": int(subsampled),
        **seed_summary(seed_list, per_seed),
        **({} if device.type == "cpu" else {"device": str(device)}),  # CPU runs keep their metrics' bytes
    }
    return write_results(
        parts["test"], runs[0][0], classes, task_type, predictions_tsv, metrics_json, info, settings.seed
    )


def _count_subsampled(table: pd.DataFrame, window: int, max_chunks: int) -> int:
    """Genes longer than `max_chunks` windows (pooled over spread windows, not all of them), logged."""
    subsampled = sum(chunk_batch([s], window, max_chunks)[2] for s in table["sequence"])
    if subsampled:
        LOG.warning(
            "%d genes are longer than %d windows: pooled over %d spread windows",
            subsampled,
            max_chunks,
            max_chunks,
        )
    return subsampled
