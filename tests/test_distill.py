"""Distillation of a fine-tuned classifier into a smaller student, beside the int8 teacher: the student
learns the teacher, everything is written in the standard layouts and reloads, and the workflow wires it."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, run_snakemake
from test_gene_function import _gc_table, _reloaded_matches_predictions
from tiny_models import tiny_model_dir

from genolm.distill import (
    DistillSettings,
    agreement,
    build_student,
    picked_layers,
    run_distill,
    soft_loss,
    student_config,
)
from genolm.errors import GenolmError
from genolm.finetune import FinetuneSettings, load_classifier, load_table, run_finetune
from genolm.inference import load_pretrained
from genolm.metrics import classification_metrics
from genolm.models import build_config, build_model, count_parameters
from genolm.report import Run
from genolm.report.sections import interpretation_section

WINDOW = 32
#: A random student, narrower than the teacher, so whatever it matches it learnt.
SMALL = DistillSettings(layers=1, hidden_size=8, heads=2, init="random", epochs=6, lr=1e-2, threads=1)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A 2-layer bert fine-tuned (finetune_full) on GC-rich vs AT-rich genes, saved as the workflow does."""
    root = tmp_path_factory.mktemp("distill")
    table = _gc_table(root / "table.tsv")
    model = tiny_model_dir(root / "model", window=WINDOW)
    pre = load_pretrained(model)
    size = {"hidden_size": 16, "num_layers": 2, "num_heads": 2, "intermediate_size": 32}
    torch.manual_seed(0)
    two = build_model(build_config("bert", size, pre.tokenizer, WINDOW + 2), "bert")
    two.save_pretrained(model)  # replaces the 1-layer weights; tokenizer and genolm.json stay
    settings = FinetuneSettings(epochs=3, batch_size=8, max_chunks=2, lr=3e-3, threads=1)
    run_finetune(
        table,
        model,
        root / "p.tsv",
        root / "m.json",
        settings,
        method="finetune_full",
        classifier_dir=root / "teacher",
    )
    return table, root / "teacher"


@pytest.fixture(scope="module")
def distilled(teacher, tmp_path_factory):
    table, teacher_dir = teacher
    out = tmp_path_factory.mktemp("out") / "results" / "compress" / "genes"
    paths = _paths(out)
    result = run_distill(table, teacher_dir, *paths.values(), SMALL, task_type="binary")
    return result, paths


def _paths(out):
    names = ("predictions", "metrics", "model", "comparison", "timing")
    files = ("distill/predictions.tsv", "distill/metrics.json", "distill/model", "comparison.json")
    return dict(zip(names, [out / f for f in files] + [out / "distill" / "timing.json"], strict=True))


def test_picked_layers_spread_evenly_ending_with_the_last():
    assert picked_layers(4, 2) == [1, 3]
    assert picked_layers(2, 1) == [1]
    assert picked_layers(1, 1) == [0]
    assert picked_layers(3, 3) == [0, 1, 2]
    assert picked_layers(12, 4) == [2, 5, 8, 11]


@pytest.mark.parametrize("family", ["bert", "roberta", "gpt2", "llama"])
def test_student_config_is_the_teacher_shrunk(tmp_path, family):
    pre = load_pretrained(tiny_model_dir(tmp_path, family=family, window=WINDOW))
    size = {"hidden_size": 16, "num_layers": 4, "num_heads": 4, "intermediate_size": 64}
    config = build_config(family, size, pre.tokenizer, WINDOW + 2)
    small = student_config(config, DistillSettings(hidden_size=8, heads=2))
    assert (small.num_hidden_layers, small.hidden_size, small.num_attention_heads) == (2, 8, 2)
    assert small.vocab_size == config.vocab_size and type(small) is type(config)
    student, full = build_model(small, family), build_model(config, family)
    assert count_parameters(student) < count_parameters(full) / 3
    same_width = student_config(config, DistillSettings())
    assert (same_width.num_hidden_layers, same_width.hidden_size) == (2, 16)
    with pytest.raises(GenolmError, match="compress.distill: hidden_size 8 is not divisible by heads 3"):
        student_config(config, DistillSettings(hidden_size=8, heads=3))
    with pytest.raises(GenolmError, match="compress.distill.layers: 5 is more than the teacher's 4"):
        student_config(config, DistillSettings(layers=5))


def test_teacher_init_copies_embeddings_picked_layer_and_head(teacher):
    clf = load_classifier(teacher[1])
    student = build_student(clf, DistillSettings())  # 1 of the teacher's 2 layers: its last
    t, s = clf.pretrained.model.bert, student.pretrained.model.bert
    assert len(s.encoder.layer) == 1
    assert torch.equal(s.embeddings.word_embeddings.weight, t.embeddings.word_embeddings.weight)
    for a, b in zip(s.encoder.layer[0].parameters(), t.encoder.layer[1].parameters(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(student.module.head.weight, clf.module.head.weight)
    assert student.module.encoder is s  # the saved LM holds the trained encoder
    random = build_student(clf, replace(DistillSettings(), init="random"))
    assert not torch.equal(
        random.pretrained.model.bert.encoder.layer[0].output.dense.weight,
        t.encoder.layer[1].output.dense.weight,
    )


@pytest.mark.parametrize("multilabel", [False, True])
def test_soft_loss_is_the_tempered_kl(multilabel):
    rng = torch.Generator().manual_seed(0)
    t, s = torch.randn(5, 3, generator=rng), torch.randn(5, 3, generator=rng)
    assert soft_loss(t, t, 2.0, multilabel).item() == pytest.approx(0, abs=1e-6)
    if multilabel:
        p, q = torch.sigmoid(t / 2), torch.sigmoid(s / 2)
        kl = (p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()).sum(-1).mean()
    else:
        p, q = F.softmax(t / 2, -1), F.softmax(s / 2, -1)
        kl = (p * (p / q).log()).sum(-1).mean()
    assert soft_loss(s, t, 2.0, multilabel).item() == pytest.approx(4 * kl.item(), rel=1e-5)


def test_student_learns_the_teacher(teacher, distilled):
    table, teacher_dir = teacher
    result, paths = distilled
    clf = load_classifier(teacher_dir)
    rows, _ = load_table(table)
    test = rows[rows["split"] == "test"]
    reference = clf.predict_proba(test["sequence"].tolist())
    untrained = build_student(clf, SMALL).predict_proba(test["sequence"].tolist())
    models = result["comparison"]["models"]
    assert models["student"]["agreement_with_teacher"] == pytest.approx(
        agreement(
            load_classifier(paths["model"]).predict_proba(test["sequence"].tolist()), reference, "binary"
        )
    )
    assert models["student"]["agreement_with_teacher"] > agreement(untrained, reference, "binary") + 0.2
    assert models["student"]["agreement_with_teacher"] >= 0.8
    assert models["teacher"]["agreement_with_teacher"] == 1.0


def test_outputs_keep_the_standard_layouts(teacher, distilled):
    table, teacher_dir = teacher
    result, paths = distilled
    metrics = json.loads(paths["metrics"].read_text())
    assert (metrics["family"], metrics["method"], metrics["n"]) == ("gene_function", "distilled", 20)
    layout = classification_metrics([0, 1], np.eye(2), ["at_rich", "gc_rich"], n_boot=2)
    assert set(metrics["metrics"]) == set(layout["metrics"])
    assert {"confusion", "per_class", "classes"} <= set(metrics)
    assert metrics["student_config"] == {"model_type": "bert", "layers": 1, "hidden_size": 8, "heads": 2}
    assert "genes_per_s" not in json.dumps(metrics) and "train_seconds" not in json.dumps(metrics)
    pred = pd.read_csv(paths["predictions"], sep="\t")
    assert pred["id"].tolist() == [f"test{i}" for i in range(20)]
    clf = _reloaded_matches_predictions(paths["model"], table, paths["predictions"], atol=1e-5)
    assert clf.classes == ["at_rich", "gc_rich"] and clf.pretrained.model.config.num_hidden_layers == 1
    comparison = json.loads(paths["comparison"].read_text())
    models = comparison["models"]
    assert set(models) == {"teacher", "student", "int8_teacher"}
    assert models["student"]["parameters"] < models["teacher"]["parameters"] / 2
    assert models["int8_teacher"]["parameters"] == models["teacher"]["parameters"]
    assert models["student"]["size_bytes"] < models["teacher"]["size_bytes"] / 2
    assert models["int8_teacher"]["size_bytes"] < models["teacher"]["size_bytes"]
    assert models["student"]["macro_f1"] == metrics["metrics"]["macro_f1"]
    assert comparison["metric_change"]["student"] == pytest.approx(
        models["student"]["macro_f1"]["value"] - models["teacher"]["macro_f1"]["value"]
    )
    assert models["int8_teacher"]["agreement_with_teacher"] >= 0.9
    timing = json.loads(paths["timing"].read_text())
    assert set(timing["genes_per_s"]) == set(models) and min(timing["genes_per_s"].values()) > 0
    assert timing["train_seconds"] > 0 and timing["batch_size"] == 8


def test_rerun_gives_byte_identical_metrics(teacher, distilled, tmp_path):
    table, teacher_dir = teacher
    _, first = distilled
    again = _paths(tmp_path)
    run_distill(table, teacher_dir, *again.values(), SMALL, task_type="binary")
    for name in ("metrics", "comparison", "predictions"):
        assert again[name].read_bytes() == first[name].read_bytes(), name


def test_task_type_mismatch_is_one_line_error(teacher, tmp_path):
    table, teacher_dir = teacher
    with pytest.raises(GenolmError, match="a binary classifier, the task is multilabel"):
        run_distill(table, teacher_dir, *_paths(tmp_path).values(), SMALL, task_type="multilabel")
    assert not (tmp_path / "distill").exists()


def test_report_shows_the_comparison(distilled):
    _, paths = distilled
    blocks = interpretation_section(Run(paths["comparison"].parents[2]))["blocks"]
    table = next(
        b
        for b in blocks
        if b["kind"] == "table" and b["columns"][0] == "Model" and "Parameters" in b["columns"]
    )
    assert [row[0] for row in table["rows"]] == [
        "teacher (finetune_full)",
        "distilled student",
        "int8 teacher",
    ]


@pytest.mark.workflow
def test_workflow_lists_distill_jobs_when_enabled(tmp_path):
    """A config file on top of the mini demo switches distillation on (and off again)."""
    dry = {}
    for enabled in ("true", "false"):
        extra = tmp_path / f"distill_{enabled}.yaml"
        extra.write_text(f"compress:\n  enabled: false\n  distill:\n    enabled: {enabled}\n    layers: 1\n")
        dry[enabled] = run_snakemake(
            tmp_path, "-n", configfiles=[REPO / ".test" / "config.yaml", extra]
        ).stdout
    assert "rule distill:" in dry["true"] and "rule distill:" not in dry["false"]
    for path in (
        "compress/function_class/comparison.json",
        "gene_function/function_class/finetune_full/model",
    ):
        assert f"results/mini/{path}" in dry["true"]
