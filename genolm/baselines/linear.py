"""The models behind the baselines: k-mer and codon profiles, a class-balanced logistic regression chosen on
val (also the probe's and the supervised variant score's classifier), its folding into a linear head, and the
majority floor."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.multiclass import OneVsRestClassifier
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
    """(len(seqs), sum of 4**k) k-mer profiles, one row per sequence (see `kmer_profile`)."""
    return np.stack([kmer_profile(s, ks) for s in seqs])


def codon_profile(seq: str, flank: int = 0) -> np.ndarray:
    """Normalised frequencies of the 64 codons of a gene's coding sequence, read in its reading frame.

    A gene row's sequence is its joined CDS on the coding strand, ending with the stop codon, after up to
    `flank` upstream bases (fewer at a contig's end). The frame is therefore counted back from the last
    base: it holds whatever the flank's real length, and for a CDS whose annotated length is not a
    multiple of 3 it holds at the 3' end. Codons containing N are skipped.
    """
    codes = encode(seq[flank:]).astype(np.int64)
    n = len(codes) // 3 * 3
    codons = codes[len(codes) - n :].reshape(-1, 3)
    codons = codons[(codons != N_CODE).all(axis=1)]
    counts = np.bincount(codons @ np.array([16, 4, 1]), minlength=64).astype(float)
    return counts / max(1.0, counts.sum())


def codon_matrix(seqs: Sequence[str], flank: int = 0) -> np.ndarray:
    """(len(seqs), 64) in-frame codon profiles, one row per gene (see `codon_profile`)."""
    return np.stack([codon_profile(s, flank) for s in seqs])


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
    """Standardised, class-balanced logistic regression; C chosen by validation log-loss.

    A 2-D multi-hot `y_train` (multi-label) gets one-vs-rest: one balanced binary regression per label,
    C chosen by the mean binary log-loss over labels.
    """
    multilabel = np.ndim(y_train) == 2
    best, best_loss = None, np.inf
    for c in grid:
        logistic = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed)
        model = make_pipeline(StandardScaler(), OneVsRestClassifier(logistic) if multilabel else logistic)
        model.fit(x_train, y_train)
        proba = predict_proba(model, x_val, n_classes)
        loss = (
            _binary_log_loss(y_val, proba)
            if multilabel
            else log_loss(y_val, proba, labels=list(range(n_classes)))
        )
        if loss < best_loss:
            best, best_loss = model, loss
    return best


def _binary_log_loss(y: np.ndarray, proba: np.ndarray, eps: float = 1e-15) -> float:
    """Mean binary cross-entropy over every (row, label) of multi-hot `y`."""
    p = np.clip(proba, eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def predict_proba(model, x: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities over all `n_classes`, including classes the model never saw.

    One-vs-rest (multi-label) models give one independent probability per label.
    """
    if isinstance(model[-1], OneVsRestClassifier):
        return model.predict_proba(x)
    proba = np.zeros((len(x), n_classes))
    proba[:, model.classes_] = model.predict_proba(x)
    return proba


def linear_head(model, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(weight (n_classes, d), bias) of logits over raw features that reproduce `predict_proba(model, x)`.

    The scaler is folded in. Single-label: softmax of the logits (a binary regression becomes logits
    [0, z]; classes it never saw get -inf). Multi-label: sigmoid per label (a label constant in training
    gets weight 0 and bias +-inf, its constant probability).
    """
    scaler, last = model[0], model[-1]
    d = len(scaler.mean_)
    weight, bias = np.zeros((n_classes, d)), np.full(n_classes, -np.inf)
    if isinstance(last, OneVsRestClassifier):
        for j, est in enumerate(last.estimators_):
            if hasattr(est, "coef_"):
                weight[j], bias[j] = est.coef_[0], est.intercept_[0]
            else:  # scikit-learn's constant predictor for a label with one class in training
                bias[j] = np.inf if est.y_[0] else -np.inf
    else:
        coef, intercept = last.coef_, last.intercept_
        if len(last.classes_) == 2:
            coef, intercept = np.vstack([np.zeros(d), coef[0]]), np.array([0.0, intercept[0]])
        weight[last.classes_], bias[last.classes_] = coef, intercept
    # standardised z = (x - mean) / scale, so w.z + b = (w / scale).x + (b - w.(mean / scale))
    folded = weight / scaler.scale_
    return folded, np.where(np.isfinite(bias), bias - weight @ (scaler.mean_ / scaler.scale_), bias)


def majority_proba(y_train: np.ndarray, n: int, n_classes: int) -> np.ndarray:
    """Every row gets the training class frequencies: the floor any model must clear.

    Multi-label (2-D multi-hot `y_train`): every row gets each label's training prevalence, so a label
    is predicted (p >= 0.5) only where most training genes carry it.
    """
    freq = (
        y_train.mean(0) if np.ndim(y_train) == 2 else np.bincount(y_train, minlength=n_classes) / len(y_train)
    )
    return np.tile(freq, (n, 1))
