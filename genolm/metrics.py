"""Classification metrics with 95% bootstrap confidence intervals, identical for every method."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_recall_fscore_support,
    roc_auc_score,
)
from sklearn.preprocessing import label_binarize


def _auroc(y: np.ndarray, scores: np.ndarray, n_classes: int) -> float:
    if n_classes == 2:
        return roc_auc_score(y, scores[:, 1])
    return roc_auc_score(y, scores, multi_class="ovr", average="macro", labels=list(range(n_classes)))


def _auprc(y: np.ndarray, scores: np.ndarray, n_classes: int) -> float:
    if n_classes == 2:
        return average_precision_score(y, scores[:, 1])
    onehot = label_binarize(y, classes=list(range(n_classes)))
    present = onehot.sum(axis=0) > 0
    return average_precision_score(onehot[:, present], scores[:, present], average="macro")


def metric_functions(n_classes: int) -> dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], float]]:
    """name -> f(y_true, y_pred, scores) for a task with `n_classes` classes."""
    labels = list(range(n_classes))
    funcs = {
        "accuracy": lambda y, p, s: accuracy_score(y, p),
        "macro_f1": lambda y, p, s: f1_score(y, p, average="macro", labels=labels, zero_division=0),
        "mcc": lambda y, p, s: matthews_corrcoef(y, p),
        "auroc": lambda y, p, s: _auroc(y, s, n_classes),
        "auprc": lambda y, p, s: _auprc(y, s, n_classes),
    }
    if n_classes == 2:
        funcs["brier"] = lambda y, p, s: brier_score_loss(y, s[:, 1])
    return funcs


def _safe(func, *args) -> float:
    """A metric that is undefined on this sample (e.g. one class only) is NaN, not an exception."""
    try:
        return float(func(*args))
    except ValueError:
        return float("nan")


def classification_metrics(
    y_true: Sequence[int],
    scores: np.ndarray,
    class_names: Sequence[str],
    *,
    n_boot: int = 1000,
    seed: int = 42,
) -> dict:
    """Point estimates with percentile bootstrap 95% CIs, per-class P/R/F1 and the confusion matrix.

    `scores` is (n, n_classes) of class probabilities (or any monotone scores for AUROC/AUPRC).
    """
    y = np.asarray(y_true, dtype=int)
    scores = np.asarray(scores, dtype=float)
    n_classes = len(class_names)
    pred = scores.argmax(axis=1)
    funcs = metric_functions(n_classes)
    rng = np.random.default_rng(seed)
    boot = {name: [] for name in funcs}
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        for name, f in funcs.items():
            boot[name].append(_safe(f, y[idx], pred[idx], scores[idx]))
    out = {}
    for name, f in funcs.items():
        values = np.asarray(boot[name])
        values = values[np.isfinite(values)]
        lo, hi = np.percentile(values, [2.5, 97.5]) if len(values) else (np.nan, np.nan)
        out[name] = {"value": _safe(f, y, pred, scores), "ci_low": float(lo), "ci_high": float(hi)}
    precision, recall, f1, support = precision_recall_fscore_support(
        y, pred, labels=list(range(n_classes)), zero_division=0
    )
    return {
        "n": int(len(y)),
        "classes": list(map(str, class_names)),
        "metrics": out,
        "per_class": {
            str(c): {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for c, p, r, f, s in zip(class_names, precision, recall, f1, support, strict=True)
        },
        "confusion": confusion_matrix(y, pred, labels=list(range(n_classes))).tolist(),
    }


def binary_scores(score: np.ndarray) -> np.ndarray:
    """Turn one score per row (higher = more pathogenic, 0 = undecided) into (n, 2) probabilities.

    AUROC/AUPRC depend only on the ranking; accuracy, F1, MCC and Brier use a logistic squashing,
    so the class call is `score > 0`.
    """
    p = 1.0 / (1.0 + np.exp(-np.asarray(score, dtype=float)))
    return np.column_stack([1 - p, p])
