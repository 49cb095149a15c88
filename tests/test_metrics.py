"""The bootstrap's numpy metrics equal scikit-learn's; CIs bracket the estimate; seed summaries add up."""

from __future__ import annotations

import numpy as np
import pytest

from genolm.metrics import _fast_metrics, classification_metrics, metric_functions, seed_summary


def _case(rng, n, n_classes, ties):
    y = rng.integers(0, n_classes, n)
    scores = rng.random((n, n_classes)) + 0.8 * np.eye(n_classes)[y] * rng.random((n, 1))
    if ties:
        scores = np.round(scores, 1)  # many tied scores
    scores /= scores.sum(1, keepdims=True)
    return y, scores


@pytest.mark.parametrize("n_classes", [2, 3, 5])
@pytest.mark.parametrize("ties", [False, True])
def test_fast_metrics_equal_sklearn(n_classes, ties):
    rng = np.random.default_rng(n_classes + 10 * ties)
    for n in (7, 40, 200):
        y, scores = _case(rng, n, n_classes, ties)
        if len(set(y)) < n_classes:
            continue
        pred = scores.argmax(1)
        fast = _fast_metrics(y, pred, scores, n_classes)
        for name, f in metric_functions(n_classes).items():
            assert fast[name] == pytest.approx(f(y, pred, scores), abs=1e-9), (name, n)


def test_fast_metrics_nan_where_undefined():
    y = np.zeros(6, dtype=int)
    scores = np.tile([0.7, 0.3], (6, 1))
    fast = _fast_metrics(y, scores.argmax(1), scores, 2)
    assert np.isnan(fast["auroc"]) and np.isnan(fast["auprc"])
    assert fast["accuracy"] == 1.0


def test_cis_bracket_the_estimate_and_shrink_with_n():
    rng = np.random.default_rng(0)
    widths = []
    for n in (50, 800):
        y, scores = _case(rng, n, 2, False)
        m = classification_metrics(y, scores, ["a", "b"], n_boot=300)
        for v in m["metrics"].values():
            assert v["ci_low"] <= v["value"] + 1e-9 <= v["ci_high"] + 2e-9
        widths.append(m["metrics"]["auroc"]["ci_high"] - m["metrics"]["auroc"]["ci_low"])
    assert widths[1] < widths[0] / 2


def test_seed_summary_mean_and_sd():
    rng = np.random.default_rng(1)
    runs = [classification_metrics(*_case(rng, 60, 2, False), ["a", "b"], n_boot=0) for _ in range(3)]
    out = seed_summary([5, 6, 7], runs)
    f1 = [r["metrics"]["macro_f1"]["value"] for r in runs]
    assert [s["seed"] for s in out["seeds"]] == [5, 6, 7]
    assert [s["macro_f1"] for s in out["seeds"]] == f1
    assert out["mean"]["macro_f1"] == pytest.approx(np.mean(f1))
    assert out["sd"]["macro_f1"] == pytest.approx(np.std(f1, ddof=1))
    assert seed_summary([5], runs[:1])["sd"]["auroc"] == 0.0
