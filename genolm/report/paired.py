"""Two methods' predictions on the same test rows, and the paired difference of a metric between them.

The overview's two questions — does the best model method beat the best baseline, and does pretraining
beat a randomly initialised encoder — are answered on the rows both methods scored, with a paired
bootstrap CI (`genolm.metrics.paired_difference`), which is tighter and more honest than comparing two
marginal CIs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genolm.metrics import binary_scores, paired_difference
from genolm.names import LABEL_SEP
from genolm.report.load import read_table

PROBA_PREFIX = "p_"


def _gene_predictions(path: Path, multilabel: bool) -> tuple[pd.Series, np.ndarray, np.ndarray] | None:
    """(ids, targets, probabilities) of a gene-function predictions.tsv, or None if absent."""
    table = read_table(path, dtype={"id": str, "label": str})
    if table is None:
        return None
    columns = [c for c in table.columns if c.startswith(PROBA_PREFIX)]
    classes = [c[len(PROBA_PREFIX) :] for c in columns]
    if multilabel:
        labels = table["label"].fillna("").str.split(LABEL_SEP)
        y = np.array([[c in set(row) for c in classes] for row in labels], dtype=int)
    else:
        y = table["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    return table["id"], y, table[columns].to_numpy(float)


def _variant_predictions(
    path: Path, multilabel: bool = False
) -> tuple[pd.Series, np.ndarray, np.ndarray] | None:
    """(ids, targets, two-column scores) of a disease-risk scores.tsv, or None if absent."""
    table = read_table(path, dtype={"id": str})
    if table is None:
        return None
    y = (table["label"] == "pathogenic").astype(int).to_numpy()
    return table["id"], y, binary_scores(table["score"].to_numpy(float))


def compare(
    task_dir: Path, family: str, a: str, b: str, metric: str, multilabel: bool = False
) -> dict | None:
    """Method `a` minus method `b` on `metric` over the test rows both scored, with a paired 95% CI.

    Returns None when either method's predictions are missing, their label sets differ, or the two
    share fewer than 2 rows.
    """
    name, read = (
        ("predictions.tsv", _gene_predictions)
        if family == "gene_function"
        else ("scores.tsv", _variant_predictions)
    )
    first, second = read(task_dir / a / name, multilabel), read(task_dir / b / name, multilabel)
    if first is None or second is None:
        return None
    ids_a, y_a, s_a = first
    position = {i: k for k, i in enumerate(second[0])}
    rows = [(k, position[i]) for k, i in enumerate(ids_a) if i in position]
    if len(rows) < 2:
        return None
    keep_a, keep_b = (np.array(r) for r in zip(*rows, strict=True))
    if s_a.shape[1] != second[2].shape[1] or not np.array_equal(y_a[keep_a], second[1][keep_b]):
        return None  # not the same task rows: different classes, or the same ids with other labels
    return {
        "n": len(rows),
        **paired_difference(y_a[keep_a], s_a[keep_a], second[2][keep_b], metric, multilabel=multilabel),
    }
