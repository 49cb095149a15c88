"""Gene-function methods on a tiny random model: full/LoRA/IA3 fine-tuning, the probe, seeds, baselines."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from tiny_models import tiny_model_dir  # noqa: E402

from genolm.errors import GenolmError  # noqa: E402
from genolm.gene_function import FinetuneSettings, adapt_encoder, run_baseline, run_finetune  # noqa: E402
from genolm.inference import load_pretrained  # noqa: E402


def _gc_table(path, n_per_split=(40, 16, 20), length=90):
    """Genes whose class is their GC richness: learnable from composition alone."""
    rng = np.random.default_rng(3)
    rows = []
    for split, n in zip(("train", "val", "test"), n_per_split, strict=True):
        for i in range(n):
            label = "gc_rich" if i % 2 else "at_rich"
            p = [0.1, 0.4, 0.4, 0.1] if label == "gc_rich" else [0.4, 0.1, 0.1, 0.4]
            seq = "".join(rng.choice(list("ACGT"), length, p=p))
            rows.append((f"{split}{i}", "c1", i, i + length, "+", label, split, seq))
    table = pd.DataFrame(
        rows, columns=["id", "contig", "start", "end", "strand", "label", "split", "sequence"]
    )
    table.to_csv(path, sep="\t", index=False)
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("gf")
    return _gc_table(root / "table.tsv"), tiny_model_dir(root / "model", window=32)


SETTINGS = FinetuneSettings(epochs=2, batch_size=8, max_chunks=2, lr=3e-3, adapter_lr=1e-2, threads=1)


@pytest.mark.parametrize("method", ["finetune_full", "finetune_lora", "finetune_ia3", "probe"])
def test_every_method_writes_predictions_for_the_test_rows(setup, tmp_path, method):
    table, model = setup
    m = run_finetune(table, model, tmp_path / "p.tsv", tmp_path / "m.json", SETTINGS, method=method)
    pred = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    assert pred["id"].tolist() == [f"test{i}" for i in range(20)]
    assert np.allclose(pred[["p_at_rich", "p_gc_rich"]].sum(1), 1, atol=1e-5)
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["method"] == method and saved["n"] == 20
    assert saved["seeds"][0]["seed"] == SETTINGS.seed
    assert saved["mean"]["accuracy"] == pytest.approx(m["metrics"]["accuracy"]["value"])
    if method != "probe":
        assert len(saved["history"]) >= 1 and 1 <= saved["best_epoch"] <= 2
    if method in ("finetune_lora", "finetune_ia3"):
        assert saved["trainable_parameters"] < saved["total_parameters"] / 3


def test_probe_reads_composition_from_frozen_embeddings(setup, tmp_path):
    table, model = setup
    m = run_finetune(table, model, tmp_path / "p.tsv", tmp_path / "m.json", SETTINGS, method="probe")
    assert m["metrics"]["macro_f1"]["value"] > 0.9


def test_adapters_train_only_adapter_weights(setup):
    _, model = setup
    lora = adapt_encoder(load_pretrained(model).model.base_model, "finetune_lora", SETTINGS)
    names = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    assert {n.split(".")[-4] for n in names} == {"query", "key", "value"}
    ia3 = adapt_encoder(load_pretrained(model).model.base_model, "finetune_ia3", SETTINGS)
    assert all("ia3_l" in n for n, p in ia3.named_parameters() if p.requires_grad)
    full = load_pretrained(model).model.base_model
    assert adapt_encoder(full, "finetune_full", SETTINGS) is full


def test_seeds_summarised_with_mean_and_sd(setup, tmp_path):
    table, model = setup
    one = FinetuneSettings(epochs=1, batch_size=8, max_chunks=1, threads=1)
    m = run_finetune(
        table, model, tmp_path / "p.tsv", tmp_path / "m.json", one, method="finetune_full", seeds=2
    )
    assert [s["seed"] for s in m["seeds"]] == [42, 43]
    values = [s["macro_f1"] for s in m["seeds"]]
    assert m["mean"]["macro_f1"] == pytest.approx(np.mean(values))
    assert m["sd"]["macro_f1"] == pytest.approx(np.std(values, ddof=1))
    # Predictions and CIs are the first seed's.
    assert m["metrics"]["macro_f1"]["value"] == pytest.approx(values[0])


def test_unknown_method_is_one_line_error(setup, tmp_path):
    table, model = setup
    with pytest.raises(GenolmError, match="finetune_full"):
        run_finetune(table, model, tmp_path / "p.tsv", tmp_path / "m.json", SETTINGS, method="finetune_qlora")


def test_kmer_baseline_beats_majority_on_composition(setup, tmp_path):
    table, _ = setup
    kmer = run_baseline(table, "kmer_lr", tmp_path / "k.tsv", tmp_path / "k.json")
    major = run_baseline(table, "majority", tmp_path / "j.tsv", tmp_path / "j.json")
    assert kmer["metrics"]["macro_f1"]["value"] > 0.9
    assert major["metrics"]["accuracy"]["value"] == pytest.approx(0.5)
