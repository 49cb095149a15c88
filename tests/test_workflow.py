"""End-to-end: the real `snakemake` command on the demo, outputs checked by value."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO, changed_outputs, run_snakemake
from transformers import AutoModelForMaskedLM, AutoTokenizer

from genolm.tokenizers import tokenizer_kind

pytestmark = pytest.mark.workflow

STAGES = [
    "simulate",
    "download",
    "splits",
    "windows",
    "tokenizer",
    "pretrain",
    "gene_labels",
    "variant_labels",
    "finetune",
    "gene_baseline",
    "score_variants",
    "synthetic_cohort",
    "score_cohort",
    "prioritise",
    "report",
]


def test_dry_run_lists_every_stage(tmp_path):
    proc = run_snakemake(tmp_path, "-n", configfiles=[REPO / "config" / "config.yaml"])
    for stage in STAGES:
        assert f"rule {stage}:" in proc.stdout, stage


def test_model_directory_loads_with_transformers(demo_run):
    model_dir = demo_run / "pretrain" / "model"
    model = AutoModelForMaskedLM.from_pretrained(model_dir, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    assert (model_dir / "model.safetensors").is_file()
    assert model.config.vocab_size == len(tokenizer)
    batch = tokenizer(["ACGTACGTTTGACA"], return_tensors="pt", return_token_type_ids=False)
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (1, batch["input_ids"].shape[1], len(tokenizer))


def test_preprocess_summary_adds_up(demo_run):
    summary = json.loads((demo_run / "preprocess" / "summary.json").read_text())
    assert summary["bases_read"] == 4 * 100_000
    assert summary["windows_kept"] + summary["dropped_n"] == summary["windows_total"]
    assert summary["windows_kept"] == sum(s["windows"] for s in summary["splits"].values())
    for split in ("train", "val", "test"):
        windows = np.load(demo_run / "preprocess" / "windows" / f"{split}.npy")
        assert windows.shape == (summary["splits"][split]["windows"], summary["window"])
        assert windows.max() <= 4


def test_pretraining_learned_something(demo_run):
    log = pd.read_csv(demo_run / "pretrain" / "log.csv")
    val = log[log["phase"] == "val"]
    assert len(val) >= 2
    assert val["loss"].iloc[-1] < val["loss"].iloc[0]
    # Better than a uniform guess over the 4^k k-mers a token holds (char: ln 4 = 1.386; codons: ln 64).
    tokenizer = AutoTokenizer.from_pretrained(demo_run / "pretrain" / "model", local_files_only=True)
    _, k = tokenizer_kind(tokenizer)
    assert val["loss"].iloc[-1] < k * math.log(4)


def _metrics(demo_run, family):
    out = {}
    for path in sorted((demo_run / family).glob("*/*/metrics.json")):
        out[(path.parent.parent.name, path.parent.name)] = json.loads(path.read_text())
    return out


def test_gene_function_metrics_in_range_and_on_the_same_rows(demo_run):
    metrics = _metrics(demo_run, "gene_function")
    methods = {m for _, m in metrics}
    assert {"kmer_lr", "majority"} < methods, methods  # baselines beside at least one model method
    # Annotation genes are read in their frame: the codon-usage baseline runs on every task.
    assert {t for t, m in metrics if m == "codon_lr"} == {t for t, _ in metrics}
    # The demo's methods (probe, finetune_full) each ran beside their pretraining control.
    assert {"probe", "probe_random_init", "finetune_full", "random_init"} <= methods, methods
    ids = set()
    for (task, method), m in metrics.items():
        for name, v in m["metrics"].items():
            lo, hi = (-1, 1) if name == "mcc" else (0, 1)
            assert lo <= v["value"] <= hi, (task, method, name, v)
            assert v["ci_low"] <= v["value"] + 1e-9 and v["value"] <= v["ci_high"] + 1e-9
        pred = pd.read_csv(demo_run / "gene_function" / task / method / "predictions.tsv", sep="\t")
        assert len(pred) == m["n"]
        ids.add(tuple(pred["id"]))
    assert len(ids) == 1, "every method must be evaluated on identical test rows"
    # The synthetic classes leave a k-mer trace: the baseline must clear the majority floor.
    kmer = metrics[("function_class", "kmer_lr")]["metrics"]["macro_f1"]["value"]
    floor = metrics[("function_class", "majority")]["metrics"]["macro_f1"]["value"]
    assert kmer > floor + 0.2
    # ... and a codon-usage one (each class draws from its own codon table): so must codons read in frame.
    codon = metrics[("function_class", "codon_lr")]["metrics"]["macro_f1"]["value"]
    assert codon > floor + 0.2
    # Annotation genes keep their coding strand, for the cnn baseline as for the fine-tuned methods.
    for (task, method), m in metrics.items():
        if method == "cnn":
            assert m["cnn"]["settings"]["reverse_complement"] is False, task
        elif method in ("finetune_full", "random_init"):
            assert m["settings"]["reverse_complement"] is False, (task, method)


def test_disease_risk_metrics_and_scores(demo_run):
    metrics = _metrics(demo_run, "disease_risk")
    methods = {m for _, m in metrics}
    assert {"zeroshot", "supervised", "kmer_lr"} <= methods, methods
    ids = set()
    for (task, method), m in metrics.items():
        assert 0 <= m["metrics"]["auroc"]["value"] <= 1
        scores = pd.read_csv(demo_run / "disease_risk" / task / method / "scores.tsv", sep="\t")
        assert set(scores["label"]) == {"benign", "pathogenic"}
        assert np.isfinite(scores["score"]).all()
        ids.add(tuple(scores["id"]))
    assert len(ids) == 1


def test_report_names_every_stage(demo_run):
    html = (demo_run / "report.html").read_text()
    assert "SYNTHETIC" in html
    for section in ("Data", "Pretraining", "Gene function", "Disease risk", "Provenance"):
        assert section in html
    assert "kmer_lr" in html and "zeroshot" in html
    # "Did pretraining help?" has a row per pretrained method and its control on each task.
    overview = html[html.index('id="overview"') :]
    overview = overview[: overview.index("</section>")]
    for control in ("random_init", "probe_random_init", "supervised_random_init"):
        assert f"<td>{control}</td>" in overview, control
    # Nothing is loaded from outside; plotly.js itself (inlined once) mentions plotly.com in its code.
    page = re.sub(r'<script id="plotly-js">.*?</script>', "", html, count=1, flags=re.S)
    assert 'src="http' not in page and 'href="http' not in page and "<script src" not in page


def test_demo_results_match_the_recorded_digests(demo_run):
    assert not changed_outputs(demo_run, "demo")


def test_second_run_has_nothing_to_do(demo_run):
    workdir = demo_run.parent.parent
    proc = run_snakemake(workdir, "-n", configfiles=[REPO / "config" / "config.yaml"])
    assert "Nothing to be done" in proc.stdout + proc.stderr
