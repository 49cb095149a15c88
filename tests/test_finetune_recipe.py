"""The fine-tuning recipe: reverse-complement augmentation and averaging, the strand switch, the
warm-up + decay schedule and the learning-rate grid chosen on val (tiny random models, no timings)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from tiny_models import gc_class_table, random_dna, tiny_model_dir

from genolm.finetune import Classifier, FinetuneSettings, PooledClassifier, load_classifier, run_finetune
from genolm.finetune import fit as fit_module
from genolm.finetune.fit import fit_classifier, lr_schedule, strand_draws, strand_embeddings
from genolm.inference import load_pretrained
from genolm.sequence import reverse_complement
from genolm.strand import reverse_complement_applies, strand_is_label

pytestmark = pytest.mark.unit

SETTINGS = FinetuneSettings(epochs=2, batch_size=8, max_chunks=2, lr=3e-3, threads=1, lr_factors=(1.0,))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipe")
    table = gc_class_table(root / "table.tsv", (32, 16, 12), length=60, seed=11)
    return table, tiny_model_dir(root / "model", window=32)


def _parts(table) -> dict[str, pd.DataFrame]:
    rows = pd.read_csv(table, sep="\t")
    rows["y"] = rows["label"].eq("gc_rich").astype(int)
    return {s: rows[rows["split"] == s] for s in ("train", "val", "test")}


def _classifier(model_dir, strands: str) -> Classifier:
    torch.manual_seed(0)
    pre = load_pretrained(model_dir)
    module = PooledClassifier(pre.model.base_model, pre.model.config.hidden_size, 2)
    return Classifier(module, pre, ["a", "b"], "binary", 2, 4, strands=strands)


def test_strand_draws_flip_about_half_the_genes_and_are_seeded():
    seqs = random_dna(np.random.default_rng(0), 200, 30)
    drawn = strand_draws(seqs, np.random.default_rng(5))
    flipped = [d != s for d, s in zip(drawn, seqs, strict=True)]
    assert all(d in (s, reverse_complement(s)) for d, s in zip(drawn, seqs, strict=True))
    assert 70 < sum(flipped) < 130
    assert strand_draws(seqs, np.random.default_rng(5)) == drawn
    assert strand_draws(seqs, np.random.default_rng(6)) != drawn


def test_training_reads_reverse_complements_only_when_the_classifier_reads_both_strands(setup, monkeypatch):
    table, model = setup
    parts = _parts(table)
    train = set(parts["train"]["sequence"])
    rc = {reverse_complement(s) for s in train}
    loss, y = torch.nn.CrossEntropyLoss(), torch.tensor(parts["train"]["y"].to_numpy())

    def batch_loss(out, idx):
        return loss(out, y[idx])

    for strands, expect_rc in (("probabilities", True), ("forward", False)):
        clf = _classifier(model, strands)
        seen = []
        logits = Classifier.logits

        def spy(self, seqs, max_chunks=None, _seen=seen, _logits=logits):
            if self.module.training:
                _seen.extend(seqs)
            return _logits(self, seqs, max_chunks)

        monkeypatch.setattr(Classifier, "logits", spy)
        fit_classifier(clf, parts, batch_loss, replace(SETTINGS, patience=5), 1e-3)
        monkeypatch.setattr(Classifier, "logits", logits)
        assert len(seen) == 2 * len(train)
        assert bool(set(seen) & rc) is expect_rc and set(seen) <= train | rc
        if expect_rc:
            assert set(seen) & train, "half the genes stay on their own strand"


def test_test_time_averaging_is_the_mean_of_both_strands(setup):
    _, model = setup
    seqs = random_dna(np.random.default_rng(1), 6, 50)
    both = _classifier(model, "probabilities").predict_proba(seqs)
    forward = _classifier(model, "forward")
    expected = (
        forward.predict_proba(seqs) + forward.predict_proba([reverse_complement(s) for s in seqs])
    ) / 2
    np.testing.assert_allclose(both, expected, atol=1e-6)
    assert not np.allclose(both, forward.predict_proba(seqs), atol=1e-4)  # the strands really differ
    # The probe's mode: the head on the mean of the two strands' embeddings.
    clf = _classifier(model, "embeddings")
    feats = strand_embeddings(clf.pretrained, seqs, replace(SETTINGS, batch_size=4))
    logits = clf.module.head(torch.tensor(feats, dtype=torch.float32))
    np.testing.assert_allclose(clf.predict_proba(seqs), torch.softmax(logits, -1).detach().numpy(), atol=1e-5)
    rc_first = clf.predict_proba([reverse_complement(s) for s in seqs])
    np.testing.assert_allclose(rc_first, clf.predict_proba(seqs), atol=1e-5)  # strand-symmetric


@pytest.mark.parametrize("method", ["finetune_full", "probe"])
def test_saved_classifier_averages_strands_as_training_did(setup, tmp_path, method):
    table, model = setup
    outputs = (tmp_path / "p.tsv", tmp_path / "m.json")
    run_finetune(table, model, *outputs, SETTINGS, method=method, classifier_dir=tmp_path / "clf")
    meta = json.loads((tmp_path / "clf" / "classifier.json").read_text())
    assert meta["strands"] == ("embeddings" if method == "probe" else "probabilities")
    clf = load_classifier(tmp_path / "clf")
    pred = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    seqs = pd.read_csv(table, sep="\t").set_index("id").loc[pred["id"], "sequence"].tolist()
    np.testing.assert_allclose(
        clf.predict_proba(seqs), pred[["p_at_rich", "p_gc_rich"]].to_numpy(), atol=1e-5
    )
    # A classifier saved before strands existed reads one strand.
    del meta["strands"]
    (tmp_path / "clf" / "classifier.json").write_text(json.dumps(meta))
    assert load_classifier(tmp_path / "clf").strands == "forward"


def test_strand_labelled_task_gets_no_reverse_complement():
    csv = {"csv": {"train": "t", "dev": "d", "test": "x"}, "type": "binary"}
    assert strand_is_label({"label": "attribute:strand", "type": "binary"})
    assert strand_is_label({"label": "attribute:Orientation", "type": "binary"})
    assert not strand_is_label({"label": "ec_class", "type": "multiclass"}) and not strand_is_label(csv)
    assert not reverse_complement_applies({"label": "attribute:strand", "type": "binary"}, True)
    # Benchmark rows come in an arbitrary orientation; annotation genes are read on their coding strand.
    assert reverse_complement_applies(csv, True) and not reverse_complement_applies(csv, False)
    assert not reverse_complement_applies({"label": "attribute:function_class", "type": "binary"}, True)


def test_schedule_warms_up_linearly_then_decays_to_zero():
    def lrs(schedule, steps=20, warmup=0.1):
        param = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.AdamW([param], lr=1.0)
        settings = replace(SETTINGS, warmup_fraction=warmup, schedule=schedule)
        sched = lr_schedule(optimizer, settings, steps)
        out = []
        for _ in range(steps):
            out.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            sched.step()
        return np.array(out)

    linear = lrs("linear")
    np.testing.assert_allclose(linear[:3], [0.0, 0.5, 1.0])  # 2 warm-up steps (10% of 20)
    np.testing.assert_allclose(linear[2:], (20 - np.arange(2, 20)) / 18)  # then down to 0 at step 20
    cosine = lrs("cosine")
    assert cosine[2] == pytest.approx(1.0) and cosine[11] == pytest.approx(0.5)
    assert np.all(np.diff(cosine[2:]) < 0)
    np.testing.assert_allclose(lrs("constant", warmup=0.0), np.ones(20))
    with pytest.raises(ValueError, match="schedule 'step'"):
        lrs("step")


def test_grid_trains_every_point_and_keeps_the_best_on_val(setup, monkeypatch):
    """Selection: every learning rate trains, the best validation score wins, the test rows are
    predicted once, by the chosen model."""
    table, model = setup
    parts = _parts(table)
    val_by_lr = {1e-4: 0.4, 3e-4: 0.9, 1e-3: 0.6}
    trained, predicted = [], []

    class Stub:
        def __init__(self, lr):
            self.lr = lr

        def predict_proba(self, seqs):
            predicted.append((self.lr, len(seqs)))
            return np.zeros((len(seqs), 2))

    def fake_train_at(parts_, classes, task_type, model_dir, method, settings, device, lr):
        trained.append(lr)
        history = [{"epoch": 1, "val_macro_f1": val_by_lr[round(lr, 10)] - 0.1}]
        history.append({"epoch": 2, "val_macro_f1": val_by_lr[round(lr, 10)]})
        return Stub(lr), {"history": history, "best_epoch": 2}

    monkeypatch.setattr(fit_module, "_train_at", fake_train_at)
    settings = replace(SETTINGS, lr=3e-4, lr_factors=(1 / 3, 1.0, 10 / 3))
    clf, _, info = fit_module.train_classifier(parts, ["a", "b"], "binary", model, "finetune_full", settings)
    assert [round(lr, 10) for lr in trained] == [1e-4, 3e-4, 1e-3]
    assert clf.lr == pytest.approx(3e-4) and info["lr"] == pytest.approx(3e-4)
    assert predicted == [(clf.lr, len(parts["test"]))]
    assert sorted(info["lr_grid"]["val_scores"].values()) == [0.4, 0.6, 0.9]


def test_grid_on_a_large_split_runs_on_a_sample_then_the_chosen_lr_on_every_row(setup, monkeypatch):
    """grid_rows: each grid point trains on the same seeded sample, the chosen rate once more on all rows,
    and that last model predicts the test rows; one grid point or a small split is never sampled."""
    table, model = setup
    parts = _parts(table)
    calls = []

    class Stub:
        def __init__(self, lr, rows):
            self.lr, self.rows = lr, rows

        def predict_proba(self, seqs):
            return np.full((len(seqs), 2), self.rows, dtype=float)

    def fake_train_at(parts_, classes, task_type, model_dir, method, settings, device, lr):
        calls.append((lr, list(parts_["train"]["id"])))
        score = 0.9 if lr == pytest.approx(3e-3) else 0.5
        return Stub(lr, len(parts_["train"])), {
            "history": [{"epoch": 1, "val_macro_f1": score}],
            "best_epoch": 1,
        }

    monkeypatch.setattr(fit_module, "_train_at", fake_train_at)
    settings = replace(SETTINGS, lr=1e-3, lr_factors=(1.0, 3.0), grid_rows=10)
    clf, proba, info = fit_module.train_classifier(
        parts, ["a", "b"], "binary", model, "finetune_full", settings
    )
    (lr1, ids1), (lr2, ids2), (final_lr, final_ids) = calls
    every = list(parts["train"]["id"])
    assert len(ids1) == 10 and ids1 == ids2 and set(ids1) < set(every)
    assert ids1 == [i for i in every if i in set(ids1)]  # table order kept
    assert final_lr == pytest.approx(3e-3) and final_ids == every
    assert clf.rows == len(every) and (proba == len(every)).all() and info["lr"] == pytest.approx(3e-3)
    assert info["lr_grid"]["train_rows"] == 10
    assert fit_module.grid_sample(parts, settings)["train"]["id"].tolist() == ids1  # seeded
    other_seed = fit_module.grid_sample(parts, replace(settings, seed=7))["train"]["id"].tolist()
    assert other_seed != ids1
    assert fit_module.grid_sample(parts, replace(settings, grid_rows=0)) is parts
    assert fit_module.grid_sample(parts, replace(settings, grid_rows=len(every))) is parts
    calls.clear()
    fit_module.train_classifier(
        parts, ["a", "b"], "binary", model, "finetune_full", replace(settings, lr_factors=(1.0,))
    )
    assert [len(ids) for _, ids in calls] == [len(every)]


def test_grid_run_records_every_point_and_picks_the_better_lr(setup, tmp_path):
    """A real two-point grid: a step too small to move the weights against a working one."""
    table, model = setup
    settings = replace(SETTINGS, epochs=3, patience=3, lr=3e-3, lr_factors=(1e-5, 1.0))
    m = run_finetune(table, model, tmp_path / "p.tsv", tmp_path / "m.json", settings)
    grid = m["lr_grid"]
    assert grid["lrs"] == pytest.approx([3e-8, 3e-3]) and set(grid["val_scores"]) == {
        str(lr) for lr in grid["lrs"]
    }
    best = max(grid["lrs"], key=lambda lr: grid["val_scores"][str(lr)])
    assert m["lr"] == best and m["best_epoch"] == grid["best_epoch"][str(best)]
    tiny, working = (grid["val_scores"][str(lr)] for lr in grid["lrs"])
    assert working > tiny and m["lr"] == grid["lrs"][1]
    assert json.loads((tmp_path / "m.json").read_text())["lr_grid"] == grid
