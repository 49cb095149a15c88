"""The gene label-table contract every gene-function method shares: read it, split it, score and write
predictions for exactly its test rows."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from genolm.atomic import write_json, write_tsv
from genolm.errors import GenolmError
from genolm.io.tables import read_table
from genolm.metrics import MULTILABEL_THRESHOLD, classification_metrics, multilabel_metrics
from genolm.names import GENE_COLUMNS, GENE_TASK_TYPES, LABEL_SEP, SPLITS

LOG = logging.getLogger(__name__)


def load_table(path: str | Path, task_type: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """A labelled gene table and its sorted class names, with targets in `y`.

    Args:
        path: a table with the `GENE_COLUMNS` (labels or csv_labels wrote it).
        task_type: `binary`, `multiclass`, `multilabel` or None (single-label).

    Returns:
        (table, classes). Single-label tasks: `y` holds integer class codes. `multilabel`: `label` holds
        a gene's labels joined by ";" and `y` a multi-hot row (one 0/1 per class) per gene; `targets`
        stacks either into an array.

    Raises:
        GenolmError: an unknown task type, a malformed table, or an empty part of a multi-label label.
    """
    if task_type not in (None, *GENE_TASK_TYPES):
        raise GenolmError(f"{path}: task type {task_type!r}, expected one of {', '.join(GENE_TASK_TYPES)}")
    table = read_table(path, GENE_COLUMNS)
    if task_type != "multilabel":
        classes = sorted(table["label"].unique())
        table["y"] = table["label"].map({c: i for i, c in enumerate(classes)})
        return table, classes
    label_sets = table["label"].str.split(LABEL_SEP)
    empty = label_sets.map(lambda labels: "" in labels).to_numpy()
    if empty.any():
        line = int(empty.argmax()) + 2
        raise GenolmError(
            f"{path}:{line}: label {table['label'].iloc[line - 2]!r} has an empty part; "
            f"expected labels joined by {LABEL_SEP!r}"
        )
    classes = sorted(set().union(*label_sets))
    index = {c: i for i, c in enumerate(classes)}
    multi_hot = np.zeros((len(table), len(classes)), dtype=np.int64)
    for row, labels in enumerate(label_sets):
        multi_hot[row, [index[c] for c in labels]] = 1
    table["y"] = list(multi_hot)
    return table, classes


def split_parts(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The table's train, val and test rows, in that order."""
    return {s: table[table["split"] == s] for s in SPLITS}


def resolve_task_type(task_type: str | None, classes: list[str]) -> str:
    """The configured task type, or binary/multiclass by the number of classes when none was given."""
    return task_type or ("binary" if len(classes) == 2 else "multiclass")


def targets(part: pd.DataFrame) -> np.ndarray:
    """The `y` of (part of) a table as an array: (n,) class codes or (n, classes) multi-hot."""
    return np.stack(list(part["y"]))


def task_metrics(y: np.ndarray, proba: np.ndarray, classes: list[str], task_type: str, **kwargs) -> dict:
    """`multilabel_metrics` for multi-label tasks, `classification_metrics` otherwise (`kwargs` go on)."""
    if task_type == "multilabel":
        return multilabel_metrics(y, proba, classes, **kwargs)
    return classification_metrics(y, proba, classes, **kwargs)


def prediction_table(ids, proba: np.ndarray, classes: list[str], task_type: str) -> pd.DataFrame:
    """id, prediction, p_<class> per row.

    Args:
        ids: row ids, in the order of `proba`'s rows.
        proba: (n, classes) probabilities.
        classes: class names, in `proba`'s column order.
        task_type: `multilabel` predicts every label with p >= 0.5 joined by ";" (empty when none);
            the others the argmax class.

    Returns:
        The table, probabilities rounded to 6 decimals.
    """
    table = pd.DataFrame({"id": list(ids)})
    if task_type == "multilabel":
        table["prediction"] = [
            LABEL_SEP.join(c for c, hit in zip(classes, row, strict=True) if hit)
            for row in proba >= MULTILABEL_THRESHOLD
        ]
    else:
        table["prediction"] = [classes[i] for i in proba.argmax(1)]
    for i, c in enumerate(classes):
        table[f"p_{c}"] = np.round(proba[:, i], 6)
    return table


def write_results(
    test: pd.DataFrame,
    proba: np.ndarray,
    classes: list[str],
    task_type: str,
    predictions_tsv: str | Path,
    metrics_json: str | Path,
    info: dict,
    seed: int,
) -> dict:
    """Write per-row predictions (with class probabilities and true labels) and metrics with bootstrap CIs.

    Args:
        test: the test rows (`id`, `label`, `y`).
        proba: (len(test), classes) probabilities.
        classes: class names.
        task_type: the task type (see `task_metrics`).
        predictions_tsv: where predictions go.
        metrics_json: where metrics go, after the entries of `info`.
        info: method, family and anything else metrics.json records.
        seed: bootstrap seed.

    Returns:
        The metrics as written.
    """
    pred = prediction_table(test["id"].to_numpy(), proba, classes, task_type)
    pred.insert(1, "label", test["label"].to_numpy())
    write_tsv(predictions_tsv, pred)
    metrics = {**info, **task_metrics(targets(test), proba, classes, task_type, seed=seed)}
    write_json(metrics_json, metrics)
    LOG.info("%s: %s", info.get("method"), {k: round(v["value"], 4) for k, v in metrics["metrics"].items()})
    return metrics
