"""Gene-level burden tests: logistic regression of case status on a per-sample burden.

Why these choices: the p-value is the score (Rao) test of the burden coefficient, which needs only the
null model (intercept + covariates) fitted once and stays defined when rare carriers separate cases
from controls, where a Wald or likelihood-ratio fit diverges. Where a gene has few carriers the
chi-square approximation is poor, so its p-value comes from permuting the burden across samples
(valid when burden is exchangeable given the covariates). The logistic fit is a small Newton/IRLS
loop (scipy and numpy only: the workflow's environments carry no statsmodels); the tests check it
against scikit-learn's unpenalised LogisticRegression and statsmodels where installed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import chi2

from genolm.errors import GenolmError

_EPS = 1e-10


@dataclass(frozen=True)
class LogisticFit:
    """Maximum-likelihood logistic regression: coefficients, standard errors, fitted means."""

    beta: np.ndarray
    se: np.ndarray
    mu: np.ndarray
    loglik: float
    converged: bool


def fit_logistic(x: np.ndarray, y: np.ndarray, *, max_iter: int = 50, tol: float = 1e-8) -> LogisticFit:
    """Unpenalised logistic regression by Newton-Raphson (IRLS).

    Args:
        x: (samples, features) design matrix, intercept column included.
        y: 0/1 outcomes.
        max_iter: Newton steps before giving up (`converged` is then False, e.g. under separation).
        tol: stop when no coefficient moves by more than this.

    Returns:
        The fit; standard errors from the inverse Fisher information at the estimate.
    """
    beta = np.zeros(x.shape[1])
    converged = False
    for _ in range(max_iter):
        mu = expit(x @ beta)
        info = (x * (mu * (1 - mu))[:, None]).T @ x
        step = np.linalg.lstsq(info, x.T @ (y - mu), rcond=None)[0]
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    mu = expit(x @ beta)
    info = (x * (mu * (1 - mu))[:, None]).T @ x
    se = np.sqrt(np.clip(np.diag(np.linalg.pinv(info)), 0, None))
    mu_c = np.clip(mu, _EPS, 1 - _EPS)
    loglik = float(np.sum(y * np.log(mu_c) + (1 - y) * np.log(1 - mu_c)))
    return LogisticFit(beta, se, mu, loglik, converged)


def score_statistics(burden: np.ndarray, y: np.ndarray, x0: np.ndarray, mu0: np.ndarray) -> np.ndarray:
    """Score-test chi-square (1 df) of adding each row of `burden` to the null model (x0, mu0).

    Args:
        burden: (tests, samples) burdens.
        y: 0/1 outcomes.
        x0: null design (intercept + covariates), (samples, p).
        mu0: the null model's fitted case probabilities.

    Returns:
        (tests,) statistics; NaN where the burden has no variance left after the covariates.
    """
    w = mu0 * (1 - mu0)
    u = burden @ (y - mu0)
    info0 = (x0 * w[:, None]).T @ x0
    cross = (burden * w) @ x0  # (tests, p)
    v = (burden**2) @ w - np.einsum("tp,pq,tq->t", cross, np.linalg.pinv(info0), cross)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v > _EPS * max(1.0, float(w.sum())), u**2 / v, np.nan)


def permutation_pvalues(
    burden: np.ndarray,
    y: np.ndarray,
    x0: np.ndarray,
    mu0: np.ndarray,
    observed: np.ndarray,
    order: np.ndarray,
) -> np.ndarray:
    """(1 + #{permuted statistic >= observed}) / (1 + permutations) for each row of `burden`.

    `order` is (permutations, samples): each row a permutation of the samples, shared by every test so
    that results do not depend on which genes are tested together.
    """
    out = np.full(len(burden), np.nan)
    for i, row in enumerate(burden):
        permuted = score_statistics(row[order], y, x0, mu0)
        out[i] = (1 + np.sum(permuted >= observed[i] * (1 - 1e-12))) / (1 + len(order))
    return out


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN p-values stay NaN and are not counted."""
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if not len(ok):
        return q
    ranked = ok[np.argsort(p[ok], kind="stable")]
    scaled = p[ranked] * len(ok) / np.arange(1, len(ok) + 1)
    q[ranked] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return q


def genomic_inflation(p: np.ndarray) -> float | None:
    """Median observed chi-square (1 df) over its null median: about 1 when p-values are calibrated."""
    p = np.asarray(p, dtype=float)
    p = p[~np.isnan(p)]
    if not len(p):
        return None
    return float(np.median(chi2.isf(np.clip(p, 1e-300, 1), 1)) / chi2.ppf(0.5, 1))


def null_design(covariates: np.ndarray | None, n: int) -> np.ndarray:
    """Intercept plus standardised covariates (constant columns dropped)."""
    columns = [np.ones(n)]
    if covariates is not None:
        for col in np.asarray(covariates, dtype=float).reshape(n, -1).T:
            sd = col.std()
            if sd > 0:
                columns.append((col - col.mean()) / sd)
    return np.column_stack(columns)


def burden_test(
    burden: np.ndarray,
    y: np.ndarray,
    covariates: np.ndarray | None = None,
    *,
    permutations: int = 1000,
    permutation_below: int = 20,
    seed: int = 42,
) -> pd.DataFrame:
    """Test each row of `burden` for association with case status.

    Args:
        burden: (genes, samples) per-sample burdens.
        y: 0/1 case status per sample.
        covariates: (samples, k) or None.
        permutations: permutations for genes with fewer than `permutation_below` carriers (0: never).
        permutation_below: carriers (samples with burden > 0) below which the permutation p is used.
        seed: seeds the permutations.

    Returns:
        One row per gene: n_carriers, case_carriers, beta and se (log-odds per unit burden; NaN where
        the fit does not converge, e.g. when carriers are all cases),
        stat (score chi-square), p_analytic, p_permutation (NaN where not run), p (the one used),
        p_source ("score" or "permutation") and q (Benjamini-Hochberg over the tested rows);
        untestable genes (no burden variance) have NaN p and q.

    Raises:
        GenolmError: outcomes not 0/1 or of one class only.
    """
    y = np.asarray(y, dtype=float)
    if not np.isin(y, (0, 1)).all() or len(np.unique(y)) < 2:
        raise GenolmError("burden test: case status needs both cases (1) and controls (0)")
    burden = np.asarray(burden, dtype=float).reshape(-1, len(y))
    x0 = null_design(covariates, len(y))
    mu0 = fit_logistic(x0, y).mu
    stat = score_statistics(burden, y, x0, mu0)
    p_analytic = chi2.sf(stat, 1)
    carriers = (burden > 0).sum(1)
    small = (carriers < permutation_below) & ~np.isnan(stat) & (permutations > 0)
    p_perm = np.full(len(burden), np.nan)
    if small.any():
        order = np.argsort(np.random.default_rng(seed).random((permutations, len(y))), axis=1)
        p_perm[small] = permutation_pvalues(burden[small], y, x0, mu0, stat[small], order)
    p = np.where(small, p_perm, p_analytic)
    beta, se = np.full(len(burden), np.nan), np.full(len(burden), np.nan)
    for i in np.flatnonzero(~np.isnan(stat)):
        fit = fit_logistic(np.column_stack([x0, burden[i]]), y)
        if fit.converged:  # under separation the estimate runs off to infinity: no finite effect
            beta[i], se[i] = fit.beta[-1], fit.se[-1]
    return pd.DataFrame(
        {
            "n_carriers": carriers,
            "case_carriers": ((burden > 0) & (y == 1)).sum(1),
            "beta": beta,
            "se": se,
            "stat": stat,
            "p_analytic": p_analytic,
            "p_permutation": p_perm,
            "p": p,
            "p_source": np.where(small, "permutation", np.where(np.isnan(stat), "", "score")),
            "q": bh_qvalues(p),
        }
    )
