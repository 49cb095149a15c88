"""The one-hot CNN baseline: strand handling, padding independence, the grid's record, determinism, every
gene task type, the variant CNN, and its settings matching the schema."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO
from test_gene_function import _gc_table, _multilabel_table

from genolm.baselines import cnn as cnn_module
from genolm.baselines.cnn import (
    CNNSettings,
    OneHotCNN,
    one_hot,
    predict,
    reverse_complement_one_hot,
    variant_one_hot,
)
from genolm.baselines.genes import run_baseline
from genolm.sequence import reverse_complement
from genolm.variants import score_variants

pytestmark = pytest.mark.unit

#: Small enough for a unit test, big enough to learn composition.
SMALL = {
    "channels": 16,
    "kernel": 7,
    "pool": 2,
    "epochs": 6,
    "patience": 6,
    "batch_size": 16,
    "lrs": [0.003, 0.01],
}


def _rng_seqs(n: int, lengths: tuple[int, int], seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGTN"), int(rng.integers(*lengths)))) for _ in range(n)]


def test_reverse_complement_of_a_padded_batch_is_the_batch_of_reverse_complements():
    seqs = _rng_seqs(5, (3, 12))
    x, mask = one_hot(seqs, 100)
    rc_x, rc_mask = reverse_complement_one_hot(x, mask)
    want_x, want_mask = one_hot([reverse_complement(s) for s in seqs], 100)
    assert torch.equal(rc_x, want_x) and torch.equal(rc_mask, want_mask)


def test_variant_channels_are_ref_and_the_substitution_and_flip_by_group():
    pairs = [("ACGTA", "ACCTA"), ("GGA", "GTA")]
    x, mask = variant_one_hot(pairs)
    assert x.shape == (2, 8, 5) and mask.sum(1).tolist() == [5, 3]
    # The difference channels hold -1 at the ref base and +1 at the alt base, at the variant only.
    assert x[0, 4:, 2].tolist() == [0, 1, -1, 0] and x[0, 4:, [0, 1, 3, 4]].abs().sum() == 0
    rc_x, _ = reverse_complement_one_hot(x, mask)
    want, _ = variant_one_hot([(reverse_complement(r), reverse_complement(a)) for r, a in pairs])
    assert torch.equal(rc_x, want)


def test_one_hot_cuts_at_max_length_and_leaves_n_empty():
    x, mask = one_hot(["ACGTNNACGT"], 8)
    assert x.shape == (1, 4, 8) and mask.all()
    assert x[0].sum(0).tolist() == [1, 1, 1, 1, 0, 0, 1, 1]


def test_a_rows_prediction_does_not_depend_on_its_batch():
    torch.manual_seed(0)
    model = OneHotCNN(3, CNNSettings(channels=8, kernel=5, pool=3)).eval()
    seqs = _rng_seqs(6, (10, 60), seed=2)
    encode = lambda rows: one_hot(rows, 100)  # noqa: E731
    together = predict(model, seqs, encode, "multiclass")
    alone = np.concatenate([predict(model, [s], encode, "multiclass") for s in seqs])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    # Forward/RC averaging: a sequence and its reverse complement get the same prediction.
    flipped = predict(model, [reverse_complement(s) for s in seqs], encode, "multiclass")
    np.testing.assert_allclose(together, flipped, atol=1e-5)


def test_one_strand_prediction_is_the_forward_pass_and_training_reads_no_reverse_complement(
    tmp_path, monkeypatch
):
    """reverse_complement off (annotation genes): predictions are the rows' own forward pass, and
    training never builds a reverse-complement batch; on, both happen."""
    torch.manual_seed(0)
    model = OneHotCNN(3, CNNSettings(channels=8, kernel=5, pool=3)).eval()
    seqs = _rng_seqs(6, (10, 60), seed=5)
    x, mask = one_hot(seqs, 100)
    with torch.no_grad():
        forward = torch.softmax(model(x, mask), 1).numpy()
    one = predict(model, seqs, lambda rows: one_hot(rows, 100), "multiclass", both_strands=False)
    np.testing.assert_allclose(one, forward, atol=1e-6)
    flipped = predict(
        model,
        [reverse_complement(s) for s in seqs],
        lambda r: one_hot(r, 100),
        "multiclass",
        both_strands=False,
    )
    assert not np.allclose(one, flipped, atol=1e-4)  # one strand: a reverse complement reads otherwise

    calls = []
    real = cnn_module.reverse_complement_one_hot
    monkeypatch.setattr(cnn_module, "reverse_complement_one_hot", lambda *a: calls.append(1) or real(*a))
    table = _gc_table(tmp_path / "t.tsv")
    small = {**SMALL, "epochs": 1, "lrs": [0.01]}
    off = run_baseline(
        table, "cnn", tmp_path / "p.tsv", tmp_path / "m.json", cnn={**small, "reverse_complement": False}
    )
    assert calls == [] and off["cnn"]["settings"]["reverse_complement"] is False
    run_baseline(table, "cnn", tmp_path / "q.tsv", tmp_path / "n.json", cnn=small)
    assert calls  # on (the default): augmentation and averaging build reverse-complement batches


def test_cnn_learns_composition_and_records_its_grid(tmp_path):
    table = _gc_table(tmp_path / "t.tsv")
    m = run_baseline(table, "cnn", tmp_path / "p.tsv", tmp_path / "m.json", cnn=SMALL, seed=3)
    assert m["metrics"]["macro_f1"]["value"] > 0.9
    saved = json.loads((tmp_path / "m.json").read_text())["cnn"]
    assert saved["lr"] in (0.003, 0.01) and set(saved["val_scores"]) == {"0.003", "0.01"}
    assert saved["val_scores"][str(saved["lr"])] == max(saved["val_scores"].values())
    assert saved["criterion"] == "macro_f1" and saved["settings"]["seed"] == 3
    assert all(1 <= e <= SMALL["epochs"] for e in saved["best_epoch"].values())
    pred = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    assert pred["id"].tolist() == [f"test{i}" for i in range(20)]
    assert np.allclose(pred[["p_at_rich", "p_gc_rich"]].sum(1), 1, atol=1e-5)


def test_cnn_is_deterministic(tmp_path):
    table = _gc_table(tmp_path / "t.tsv")
    for run in ("a", "b"):
        run_baseline(table, "cnn", tmp_path / f"{run}.tsv", tmp_path / f"{run}.json", cnn=SMALL)
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_cnn_multiclass_and_multilabel(tmp_path):
    rng = np.random.default_rng(4)
    rows = []
    for split, n in (("train", 48), ("val", 18), ("test", 18)):
        for i in range(n):
            label = "ACG"[i % 3]
            p = np.full(4, 0.1)
            p["ACGT".index(label)] = 0.7
            rows.append((f"{split}{i}", f"rich_{label}", split, "".join(rng.choice(list("ACGT"), 80, p=p))))
    pd.DataFrame(rows, columns=["id", "label", "split", "sequence"]).to_csv(
        tmp_path / "mc.tsv", sep="\t", index=False
    )
    longer = {**SMALL, "epochs": 15, "patience": 15}  # 3 batches an epoch: more epochs to learn 3 classes
    mc = run_baseline(tmp_path / "mc.tsv", "cnn", tmp_path / "mc_p.tsv", tmp_path / "mc_m.json", cnn=longer)
    assert mc["metrics"]["macro_f1"]["value"] > 0.8
    ml_table = _multilabel_table(tmp_path / "ml.tsv")
    ml = run_baseline(
        ml_table, "cnn", tmp_path / "p.tsv", tmp_path / "m.json", task_type="multilabel", cnn=SMALL
    )
    major = run_baseline(
        ml_table, "majority", tmp_path / "j.tsv", tmp_path / "j.json", task_type="multilabel"
    )
    assert ml["metrics"]["macro_f1"]["value"] > major["metrics"]["macro_f1"]["value"] + 0.2
    pred = pd.read_csv(tmp_path / "p.tsv", sep="\t", keep_default_na=False)
    # Independent sigmoids: a row's label probabilities need not sum to one.
    assert not np.allclose(pred[["p_rich_A", "p_rich_C", "p_rich_G"]].sum(1), 1, atol=1e-2)


def _variant_table(path, n_per_split=(120, 40, 60), window=24):
    """Variants whose label is their alt allele (C or G pathogenic: the same on both strands), learnable
    only at the variant base."""
    rng = np.random.default_rng(6)
    rows = []
    for split, n in zip(("train", "val", "test"), n_per_split, strict=True):
        for i in range(n):
            ref_window = "".join(rng.choice(list("ACGT"), window))
            offset = int(rng.integers(4, window - 4))
            alt = rng.choice([b for b in "ACGT" if b != ref_window[offset]])
            label = int(alt in "CG")
            rows.append(
                (f"{split}{i}", "c1", i + 1, ref_window[offset], alt, label, split, ref_window, offset)
            )
    columns = ["id", "contig", "pos", "ref", "alt", "label", "split", "ref_window", "offset"]
    pd.DataFrame(rows, columns=columns).to_csv(path, sep="\t", index=False)
    return path


def test_variant_cnn_reads_the_substitution(tmp_path):
    table = _variant_table(tmp_path / "v.tsv")
    m = score_variants(table, "cnn", tmp_path / "s.tsv", tmp_path / "m.json", cnn=SMALL, threads=1)
    assert m["metrics"]["auroc"]["value"] > 0.9
    assert m["cnn"]["criterion"] == "auroc" and set(m["cnn"]["val_scores"]) == {"0.003", "0.01"}
    scores = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert len(scores) == 60 and scores["score"].notna().all()


@pytest.mark.parametrize("section", ["gene_function", "disease_risk"])
def test_schema_defaults_are_the_settings_defaults(section):
    """The schema's cnn sections default to CNNSettings' fields (the seed is the top-level seed; the gene
    section's threads are the rule's)."""
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    keys = schema["properties"][section]["properties"]["cnn"]["properties"]
    defaults = {k: v["default"] for k, v in keys.items() if k != "threads"}
    fields = {f.name: f.default for f in dataclasses.fields(CNNSettings) if f.name != "seed"}
    assert defaults == {**fields, "lrs": list(fields["lrs"])}
