"""The bootstrap's numpy metrics equal scikit-learn's; CIs bracket the estimate; seed summaries add up;
the same for multi-label metrics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from genolm.metrics import (
    _fast_metrics,
    _fast_multilabel,
    classification_metrics,
    metric_functions,
    multilabel_metric_functions,
    multilabel_metrics,
    paired_difference,
    seed_summary,
)


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


def _multilabel_case(rng, n, n_labels, ties):
    y = rng.random((n, n_labels)) < 0.35
    y[:, -1] = False  # one label never true: AUROC/AUPRC skip it, F1 counts it as 0
    scores = np.clip(rng.random((n, n_labels)) * 0.7 + 0.4 * y * rng.random((n, 1)), 0, 1)
    return y, np.round(scores, 1) if ties else scores


@pytest.mark.parametrize("ties", [False, True])
def test_fast_multilabel_metrics_equal_sklearn(ties):
    rng = np.random.default_rng(20 + ties)
    for n in (8, 50, 300):
        y, scores = _multilabel_case(rng, n, 4, ties)
        pred = scores >= 0.5
        fast = _fast_multilabel(y, pred, scores)
        for name, f in multilabel_metric_functions().items():
            assert fast[name] == pytest.approx(f(y.astype(int), pred.astype(int), scores), abs=1e-9), (
                name,
                n,
            )


def test_multilabel_metrics_values_per_label_and_cis():
    rng = np.random.default_rng(2)
    y, scores = _multilabel_case(rng, 120, 3, False)
    m = multilabel_metrics(y.astype(int), scores, ["a", "b", "never"], n_boot=200)
    pred = scores >= 0.5
    assert m["task_type"] == "multilabel" and m["n"] == 120 and m["classes"] == ["a", "b", "never"]
    assert m["metrics"]["macro_f1"]["value"] == pytest.approx(
        f1_score(y, pred, average="macro", zero_division=0)
    )
    assert m["metrics"]["auroc"]["value"] == pytest.approx(
        np.mean([roc_auc_score(y[:, j], scores[:, j]) for j in (0, 1)])
    )
    assert m["metrics"]["hamming_loss"]["value"] == pytest.approx(np.mean(y != pred))
    assert m["metrics"]["subset_accuracy"]["value"] == pytest.approx(np.mean((y == pred).all(1)))
    assert m["per_class"]["a"]["auroc"] == pytest.approx(roc_auc_score(y[:, 0], scores[:, 0]))
    assert m["per_class"]["a"]["support"] == int(y[:, 0].sum())
    assert m["per_class"]["never"]["auroc"] is None and m["per_class"]["never"]["support"] == 0
    for v in m["metrics"].values():
        assert v["ci_low"] <= v["value"] + 1e-9 <= v["ci_high"] + 2e-9
    runs = [
        multilabel_metrics(*_multilabel_case(rng, 40, 3, False), ["a", "b", "c"], n_boot=0) for _ in range(2)
    ]
    out = seed_summary([1, 2], runs)
    micro = [r["metrics"]["micro_f1"]["value"] for r in runs]
    assert out["mean"]["micro_f1"] == pytest.approx(np.mean(micro))
    assert out["sd"]["hamming_loss"] == pytest.approx(
        np.std([r["metrics"]["hamming_loss"]["value"] for r in runs], ddof=1)
    )


def test_paired_difference_by_value_and_direction():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    good = np.column_stack([1 - y, y]) * 0.8 + 0.1  # right on every row
    noisy = good.copy()
    flip = rng.random(400) < 0.3  # wrong on ~30% of rows
    noisy[flip] = noisy[flip][:, ::-1]
    diff = paired_difference(y, good, noisy, "accuracy", seed=0)
    assert diff["value"] == pytest.approx(flip.mean())
    assert 0 < diff["ci_low"] < diff["value"] < diff["ci_high"] and diff["p_a_better"] == 1.0
    back = paired_difference(y, noisy, good, "accuracy", seed=0)
    assert back["value"] == pytest.approx(-diff["value"]) and back["p_a_better"] == 0.0
    same = paired_difference(y, noisy, noisy, "mcc", seed=0)
    assert same["value"] == same["ci_low"] == same["ci_high"] == 0.0


def test_paired_difference_multilabel():
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]] * 25)
    perfect = y * 0.9 + 0.05
    empty = np.full(y.shape, 0.1)
    diff = paired_difference(y, perfect, empty, "macro_f1", multilabel=True, seed=0)
    assert diff["value"] == pytest.approx(1.0) and diff["ci_low"] > 0.9
