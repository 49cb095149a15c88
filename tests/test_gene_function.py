"""Gene-function methods on a tiny random model: full/LoRA/IA3/prompt fine-tuning, the probe, seeds,
baselines, multi-label tasks, and saved classifiers that reload to the same predictions."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO
from tiny_models import gc_class_table, random_dna, tiny_model_dir

from genolm.baselines import fit_logistic, linear_head, predict_proba
from genolm.baselines.genes import run_baseline
from genolm.errors import GenolmError
from genolm.finetune import (
    FinetuneSettings,
    PromptedEncoder,
    adapt_encoder,
    load_classifier,
    load_table,
    run_finetune,
)
from genolm.finetune.random_init import reinitialised
from genolm.inference import load_pretrained, tokenize
from genolm.report import build_report


def _gc_table(path, n_per_split=(40, 16, 20), length=90):
    return gc_class_table(path, n_per_split, length, seed=3)


ML_LABELS = ["rich_A", "rich_C", "rich_G"]


def _multilabel_table(path, n_per_split=(60, 24, 30), length=90):
    """Genes whose labels are the bases they are enriched in (one or more of A, C, G): ';'-joined."""
    rng = np.random.default_rng(5)
    rows = []
    for split, n in zip(("train", "val", "test"), n_per_split, strict=True):
        for i in range(n):
            held = rng.random(3) < 0.45
            held[i % 3] |= not held.any()
            weights = np.append(1 + 3 * held, 1.0)
            seq = "".join(rng.choice(list("ACGT"), length, p=weights / weights.sum()))
            label = ";".join(c for c, h in zip(ML_LABELS, held, strict=True) if h)
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


@pytest.fixture(scope="module")
def multilabel(tmp_path_factory):
    return _multilabel_table(tmp_path_factory.mktemp("ml") / "ml.tsv")


def _reloaded_matches_predictions(model_dir, table_tsv, predictions_tsv, atol):
    """The saved classifier, reloaded, gives the written test probabilities again."""
    clf = load_classifier(model_dir)
    pred = pd.read_csv(predictions_tsv, sep="\t", keep_default_na=False)
    table = pd.read_csv(table_tsv, sep="\t").set_index("id")
    proba = clf.predict_proba(table.loc[pred["id"], "sequence"].tolist())
    np.testing.assert_allclose(proba, pred[[f"p_{c}" for c in clf.classes]].to_numpy(), atol=atol)
    return clf


SETTINGS = FinetuneSettings(epochs=2, batch_size=8, max_chunks=2, lr=3e-3, adapter_lr=1e-2, threads=1)


def _finetune(table, model, tmp_path, settings=SETTINGS, **options):
    """run_finetune on `table` writing tmp_path/p.tsv and tmp_path/m.json; its metrics."""
    return run_finetune(table, model, tmp_path / "p.tsv", tmp_path / "m.json", settings, **options)


@pytest.mark.parametrize(
    "method", ["finetune_full", "finetune_lora", "finetune_ia3", "finetune_prompt", "probe"]
)
def test_every_method_writes_predictions_for_the_test_rows(setup, tmp_path, method):
    table, model = setup
    m = _finetune(table, model, tmp_path, method=method, classifier_dir=tmp_path / "clf")
    pred = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    assert pred["id"].tolist() == [f"test{i}" for i in range(20)]
    assert list(pred.columns) == ["id", "label", "prediction", "p_at_rich", "p_gc_rich"]
    clf = _reloaded_matches_predictions(tmp_path / "clf", table, tmp_path / "p.tsv", atol=1e-5)
    assert (clf.classes, clf.task_type, clf.window) == (["at_rich", "gc_rich"], "binary", 32)
    meta = json.loads((tmp_path / "clf" / "classifier.json").read_text())
    assert (meta["method"], meta["max_chunks"], meta["seed"]) == (method, 2, SETTINGS.seed)
    # encoder/ is a plain model directory: adapters merged away, loadable as a pretrained model.
    assert load_pretrained(tmp_path / "clf" / "encoder").window == 32
    assert not list((tmp_path / "clf" / "encoder").glob("adapter_*"))
    assert np.allclose(pred[["p_at_rich", "p_gc_rich"]].sum(1), 1, atol=1e-5)
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["method"] == method and saved["n"] == 20
    assert saved["seeds"][0]["seed"] == SETTINGS.seed
    assert saved["mean"]["accuracy"] == pytest.approx(m["metrics"]["accuracy"]["value"])
    if method != "probe":
        assert len(saved["history"]) >= 1 and 1 <= saved["best_epoch"] <= 2
    if method in ("finetune_lora", "finetune_ia3"):
        assert saved["trainable_parameters"] < saved["total_parameters"] / 3
    if method == "finetune_prompt":
        # Only the soft prompt and the head train: prompt_tokens x hidden, plus hidden x classes + classes.
        hidden = load_pretrained(model).model.config.hidden_size
        assert saved["trainable_parameters"] == SETTINGS.prompt_tokens * hidden + hidden * 2 + 2
        assert meta["prompt_tokens"] == SETTINGS.prompt_tokens
        assert sorted(f.name for f in (tmp_path / "clf" / "prompt").iterdir()) == [
            "adapter_config.json",
            "adapter_model.safetensors",
        ]
        (tmp_path / "clf" / "prompt" / "adapter_model.safetensors").unlink()
        with pytest.raises(GenolmError, match="prompt: no adapter_model.safetensors"):
            load_classifier(tmp_path / "clf")
        # The encoder stayed frozen: encoder/ holds the pretrained weights unchanged.
        before, after = load_pretrained(model).model, load_pretrained(tmp_path / "clf" / "encoder").model
        assert all(torch.equal(a, b) for a, b in zip(before.parameters(), after.parameters(), strict=True))


def test_probe_reads_composition_from_frozen_embeddings(setup, tmp_path):
    table, model = setup
    m = _finetune(table, model, tmp_path, method="probe")
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


@pytest.mark.parametrize("family", ["bert", "roberta", "modernbert", "gpt2", "llama"])
def test_soft_prompt_keeps_positions_and_pools_real_tokens_only(tmp_path, family):
    """Full-length windows fit (the real tokens keep their positions), states come out for the real tokens
    only, and the prompt changes them."""
    model = tiny_model_dir(tmp_path / family, family=family, window=32)
    pre = load_pretrained(model)
    prompted = adapt_encoder(pre.model.base_model, "finetune_prompt", replace(SETTINGS, prompt_tokens=5))
    assert isinstance(prompted, PromptedEncoder)
    assert [n for n, p in prompted.named_parameters() if p.requires_grad] == [
        "peft.prompt_encoder.default.embedding.weight"
    ]
    batch = tokenize(pre.tokenizer, random_dna(np.random.default_rng(0), 3, 32))
    with torch.no_grad():
        plain = pre.model.base_model(**batch).last_hidden_state
        out = prompted(**batch).last_hidden_state
    assert out.shape == plain.shape
    assert not torch.allclose(out, plain, atol=1e-4)


def test_seeds_summarised_with_mean_and_sd(setup, tmp_path):
    table, model = setup
    one = FinetuneSettings(epochs=1, batch_size=8, max_chunks=1, threads=1)
    m = _finetune(table, model, tmp_path, one, method="finetune_full", seeds=2)
    assert [s["seed"] for s in m["seeds"]] == [42, 43]
    values = [s["macro_f1"] for s in m["seeds"]]
    assert m["mean"]["macro_f1"] == pytest.approx(np.mean(values))
    assert m["sd"]["macro_f1"] == pytest.approx(np.std(values, ddof=1))
    # Predictions and CIs are the first seed's.
    assert m["metrics"]["macro_f1"]["value"] == pytest.approx(values[0])


def test_random_init_trains_finetune_full_on_fresh_seeded_weights(setup, tmp_path):
    table, model = setup
    pre = load_pretrained(model)

    def weights(p):
        return list(p.model.state_dict().values())

    fresh, again, other = reinitialised(pre, 7), reinitialised(pre, 7), reinitialised(pre, 8)
    assert type(fresh.model) is type(pre.model) and fresh.model.config.hidden_size == 16
    assert (fresh.tokenizer, fresh.window, fresh.objective) == (pre.tokenizer, pre.window, pre.objective)
    assert all(torch.equal(a, b) for a, b in zip(weights(fresh), weights(again), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(weights(fresh), weights(pre), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(weights(fresh), weights(other), strict=True))
    m = _finetune(table, model, tmp_path, method="random_init", classifier_dir=tmp_path / "clf")
    assert m["method"] == "random_init" and 1 <= m["best_epoch"] <= SETTINGS.epochs
    assert m["trainable_parameters"] == m["total_parameters"]  # every weight trains, as in finetune_full
    _reloaded_matches_predictions(tmp_path / "clf", table, tmp_path / "p.tsv", atol=1e-5)
    assert json.loads((tmp_path / "clf" / "classifier.json").read_text())["method"] == "random_init"


def test_probe_random_init_probes_a_fresh_encoder_per_seed(setup, tmp_path):
    table, model = setup
    (tmp_path / "probe").mkdir()
    probe = _finetune(table, model, tmp_path / "probe", method="probe", seeds=2)
    clf = tmp_path / "clf"
    m = _finetune(table, model, tmp_path, method="probe_random_init", seeds=2, classifier_dir=clf)
    assert m["method"] == "probe_random_init" and [s["seed"] for s in m["seeds"]] == [42, 43]
    assert len(probe["seeds"]) == 1  # the pretrained probe is deterministic: one run whatever seeds says
    assert m["trainable_parameters"] == probe["trainable_parameters"]  # the same linear head
    _reloaded_matches_predictions(clf, table, tmp_path / "p.tsv", atol=1e-5)
    # The saved encoder is seed 42's re-initialisation, not the pretrained weights.
    saved = load_pretrained(clf / "encoder").model.state_dict()
    fresh = reinitialised(load_pretrained(model), 42).model.state_dict()
    pretrained = load_pretrained(model).model.state_dict()
    assert all(torch.equal(saved[k], fresh[k]) for k in fresh)
    assert not all(torch.equal(saved[k], pretrained[k]) for k in pretrained)
    p_control = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    p_probe = pd.read_csv(tmp_path / "probe" / "p.tsv", sep="\t")
    assert not np.allclose(p_control["p_gc_rich"], p_probe["p_gc_rich"])


def test_unknown_method_is_one_line_error(setup, tmp_path):
    table, model = setup
    with pytest.raises(GenolmError, match="finetune_full"):
        _finetune(table, model, tmp_path, method="finetune_qlora")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
def test_gpus_without_a_gpu_is_one_line_error_naming_the_key(setup, tmp_path):
    table, model = setup
    with pytest.raises(GenolmError, match=r"gene_function\.finetune\.gpus is 1 but no CUDA GPU"):
        _finetune(table, model, tmp_path, gpus=1)
    assert not (tmp_path / "p.tsv").exists()


def test_patience_stops_training(setup, tmp_path):
    """With patience 1 training stops at the first epoch that does not beat the best validation F1."""
    table, model = setup
    settings = replace(SETTINGS, epochs=6, patience=1, lr=1e-6)  # too small a step to keep improving
    m = _finetune(table, model, tmp_path, settings)
    f1 = [h["val_macro_f1"] for h in m["history"]]
    stop = next(i for i in range(1, len(f1)) if f1[i] <= max(f1[:i]))
    assert len(f1) == stop + 1 < 6 and m["settings"]["patience"] == 1


def test_schema_defaults_are_the_settings_defaults():
    """gene_function.finetune's schema defaults are FinetuneSettings' (gpus is the job's resource, not a
    setting; seed comes from the top-level seed)."""
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    keys = schema["properties"]["gene_function"]["properties"]["finetune"]["properties"]
    defaults = {k: v["default"] for k, v in keys.items() if k != "gpus"}
    fields = {
        f.name: list(f.default) if isinstance(f.default, tuple) else f.default
        for f in dataclasses.fields(FinetuneSettings)
        if f.name != "seed"
    }
    assert defaults == fields and keys["gpus"]["default"] == 0


def test_kmer_baseline_beats_majority_on_composition(setup, tmp_path):
    table, _ = setup
    kmer = run_baseline(table, "kmer_lr", tmp_path / "k.tsv", tmp_path / "k.json")
    major = run_baseline(table, "majority", tmp_path / "j.tsv", tmp_path / "j.json")
    assert kmer["metrics"]["macro_f1"]["value"] > 0.9
    assert major["metrics"]["accuracy"]["value"] == pytest.approx(0.5)


def test_multilabel_table_is_multi_hot_and_empty_parts_are_refused(multilabel, tmp_path):
    table, classes = load_table(multilabel, "multilabel")
    assert classes == ML_LABELS
    for label, y in zip(table["label"], table["y"], strict=True):
        assert [c for c, hit in zip(classes, y, strict=True) if hit] == label.split(";")
    single, names = load_table(multilabel)  # the same file read as single-label: whole cells are classes
    assert names == sorted(table["label"].unique()) and single["y"].dtype == np.int64
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\tlabel\tsplit\tsequence\ng1\trich_A\ttrain\tACGT\ng2\trich_A;;rich_C\ttrain\tACGT\n")
    with pytest.raises(GenolmError, match=r"bad.tsv:3: label 'rich_A;;rich_C' has an empty part"):
        load_table(bad, "multilabel")
    bad.write_text("id\tlabel\tsplit\nx\ty\ttrain\n")
    with pytest.raises(GenolmError, match="missing column.*'sequence'"):
        load_table(bad, "multilabel")


def test_multilabel_baselines(multilabel, tmp_path):
    kmer = run_baseline(
        multilabel, "kmer_lr", tmp_path / "k.tsv", tmp_path / "k.json", task_type="multilabel"
    )
    assert kmer["task_type"] == "multilabel" and kmer["classes"] == ML_LABELS
    assert set(kmer["metrics"]) == {
        "micro_f1",
        "macro_f1",
        "auroc",
        "auprc",
        "hamming_loss",
        "subset_accuracy",
    }
    assert kmer["metrics"]["macro_f1"]["value"] > 0.8 and kmer["metrics"]["auroc"]["value"] > 0.9
    pred = pd.read_csv(tmp_path / "k.tsv", sep="\t", keep_default_na=False)
    assert list(pred.columns) == ["id", "label", "prediction", *(f"p_{c}" for c in ML_LABELS)]
    p = pred[[f"p_{c}" for c in ML_LABELS]].to_numpy()
    assert pred["prediction"].tolist() == [
        ";".join(c for c, hit in zip(ML_LABELS, row, strict=True) if hit) for row in p >= 0.5
    ]
    major = run_baseline(
        multilabel, "majority", tmp_path / "j.tsv", tmp_path / "j.json", task_type="multilabel"
    )
    table, _ = load_table(multilabel, "multilabel")
    prevalence = np.stack(table.loc[table["split"] == "train", "y"]).mean(0)
    pm = pd.read_csv(tmp_path / "j.tsv", sep="\t", keep_default_na=False)[[f"p_{c}" for c in ML_LABELS]]
    np.testing.assert_allclose(pm.to_numpy(), np.tile(prevalence, (30, 1)), atol=1e-6)
    assert major["metrics"]["macro_f1"]["value"] < kmer["metrics"]["macro_f1"]["value"]


@pytest.mark.parametrize("method", ["finetune_lora", "probe"])
def test_multilabel_model_methods_save_a_classifier_that_reproduces_them(setup, multilabel, tmp_path, method):
    _, model = setup
    settings = replace(SETTINGS, epochs=3)
    m = _finetune(
        multilabel,
        model,
        tmp_path,
        settings,
        method=method,
        task_type="multilabel",
        classifier_dir=tmp_path / "clf",
    )
    assert m["task_type"] == "multilabel" and "confusion" not in m
    assert set(m["per_class"]) == set(ML_LABELS)
    assert m["mean"]["micro_f1"] == pytest.approx(m["metrics"]["micro_f1"]["value"])
    clf = _reloaded_matches_predictions(tmp_path / "clf", multilabel, tmp_path / "p.tsv", atol=1e-5)
    assert clf.task_type == "multilabel" and clf.classes == ML_LABELS
    if method == "probe":
        assert m["metrics"]["macro_f1"]["value"] > 0.7
    else:
        assert all("val_macro_f1" in h for h in m["history"])


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_linear_head_reproduces_the_logistic_regression(kind):
    rng = np.random.default_rng(0)
    x = rng.normal(3, 2, (90, 5))
    if kind == "multilabel":
        y = np.column_stack([x[:, 0] > 3, x[:, 1] + x[:, 2] > 6, np.zeros(90, bool)]).astype(int)
    else:
        y = (x[:, 0] > 3).astype(int) + (kind == "multiclass") * (x[:, 1] > 4)
    n = 3 if kind != "binary" else 2
    model = fit_logistic(x[:60], y[:60], x[60:], y[60:], n_classes=n)
    weight, bias = linear_head(model, n)
    logits = torch.tensor(x @ weight.T + bias)
    proba = torch.sigmoid(logits) if kind == "multilabel" else torch.softmax(logits, -1)
    np.testing.assert_allclose(proba.numpy(), predict_proba(model, x, n), atol=1e-10)


def test_report_shows_multilabel_metrics(setup, multilabel, tmp_path):
    results = tmp_path / "results"
    for method in ("probe", "majority"):
        d = results / "gene_function" / "go_terms" / method
        if method == "probe":
            args = (multilabel, setup[1], d / "predictions.tsv", d / "metrics.json", SETTINGS)
            run_finetune(*args, method="probe", task_type="multilabel")
        else:
            run_baseline(
                multilabel, method, d / "predictions.tsv", d / "metrics.json", task_type="multilabel"
            )
    build_report(results, tmp_path / "r.html", config={"run": "x"}, synthetic=False, workflow_dir=tmp_path)
    html = (tmp_path / "r.html").read_text()
    for name in ("micro_f1", "hamming_loss", "subset_accuracy", "<th>AUROC</th>", "rich_C"):
        assert name in html, name
