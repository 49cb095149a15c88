"""Simple baselines every model is compared with on the same rows: k-mer logistic regression, majority."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from genolm.io.fasta import N as N_CODE
from genolm.io.fasta import encode


def kmer_profile(seq: str, ks: Sequence[int] = (1, 2, 3, 4)) -> np.ndarray:
    """Concatenated normalised k-mer frequencies of one sequence; k-mers containing N are skipped."""
    codes = encode(seq).astype(np.int64)
    parts = []
    for k in ks:
        if len(codes) < k:
            parts.append(np.zeros(4**k))
            continue
        view = np.lib.stride_tricks.sliding_window_view(codes, k)
        valid = (view != N_CODE).all(axis=1)
        index = (view[valid] * (4 ** np.arange(k - 1, -1, -1))).sum(axis=1)
        counts = np.bincount(index, minlength=4**k).astype(float)
        parts.append(counts / max(1.0, counts.sum()))
    return np.concatenate(parts)


def kmer_matrix(seqs: Sequence[str], ks: Sequence[int] = (1, 2, 3, 4)) -> np.ndarray:
    return np.stack([kmer_profile(s, ks) for s in seqs])


def fit_logistic(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    n_classes: int,
    seed: int = 42,
    grid: Sequence[float] = (0.01, 0.1, 1.0, 10.0),
):
    """Standardised, class-balanced logistic regression; C chosen by validation log-loss."""
    best, best_loss = None, np.inf
    for c in grid:
        model = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed),
        )
        model.fit(x_train, y_train)
        loss = log_loss(y_val, predict_proba(model, x_val, n_classes), labels=list(range(n_classes)))
        if loss < best_loss:
            best, best_loss = model, loss
    return best


def predict_proba(model, x: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities over all `n_classes`, including classes the model never saw."""
    proba = np.zeros((len(x), n_classes))
    proba[:, model.classes_] = model.predict_proba(x)
    return proba


def majority_proba(y_train: np.ndarray, n: int, n_classes: int) -> np.ndarray:
    """Every row gets the training class frequencies: the floor any model must clear."""
    freq = np.bincount(y_train, minlength=n_classes) / len(y_train)
    return np.tile(freq, (n, 1))
