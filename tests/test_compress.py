"""Int8 dynamic quantization: smaller, nearly the same outputs, and the measurements are written."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import torch
from tiny_models import random_dna, tiny_model_dir
from transformers import AutoModelForMaskedLM

from genolm.compress import (
    LINEAR_METHOD,
    Int8Conv1d,
    compress_model,
    quantization_method,
    quantize,
    state_bytes,
)
from genolm.inference import tokenize
from genolm.models import PRESETS, build_config, build_model, model_size
from genolm.report import Run
from genolm.report.sections import interpretation_section
from genolm.tokenizers import build_tokenizer

WINDOW = 32


@pytest.fixture(scope="module")
def model():
    """The `tiny` preset (64 wide, 2 layers): big enough that Linear weights dominate, as in real models."""
    torch.manual_seed(0)
    tokenizer = build_tokenizer("char", model_max_length=WINDOW + 2)
    return build_model(build_config("bert", PRESETS["tiny"], tokenizer, WINDOW + 2), "bert").eval(), tokenizer


def test_quantized_model_is_smaller_and_agrees(model):
    fp32, tokenizer = model
    int8 = quantize(fp32)
    assert isinstance(fp32.bert.encoder.layer[0].intermediate.dense, torch.nn.Linear)  # original untouched
    assert state_bytes(int8) < 0.5 * state_bytes(fp32)
    ids = tokenize(tokenizer, random_dna(np.random.default_rng(0), 8, WINDOW))["input_ids"]
    with torch.no_grad():
        a, b = fp32(input_ids=ids).logits, int8(input_ids=ids).logits
    assert not torch.equal(a, b)  # really quantized
    assert (a - b).abs().max() < 0.05 * (a.max() - a.min())
    assert (a.argmax(-1) == b.argmax(-1)).float().mean() > 0.9


def test_quantized_convnet_keeps_int8_convolution_weights_and_agrees(model):
    """convnet's weights are mostly Conv1d: int8 per output channel, dequantized when called."""
    torch.manual_seed(0)
    tokenizer = build_tokenizer("char", model_max_length=WINDOW + 2)
    config = build_config("convnet", model_size("tiny", "convnet"), tokenizer, WINDOW + 2, dropout=0.0)
    fp32 = build_model(config, "convnet").eval()
    int8 = quantize(fp32)
    assert type(fp32.convnet.layers[0].conv) is torch.nn.Conv1d  # original untouched
    conv = int8.convnet.layers[3].conv
    assert isinstance(conv, Int8Conv1d) and conv.qweight.dtype == torch.int8 and conv.dilation == (8,)
    assert state_bytes(int8) < 0.3 * state_bytes(fp32)
    ids = tokenize(tokenizer, random_dna(np.random.default_rng(0), 8, WINDOW))["input_ids"]
    with torch.no_grad():
        a, b = fp32(input_ids=ids).logits, int8(input_ids=ids).logits
    assert not torch.equal(a, b)
    assert (a - b).abs().max() < 0.05 * (a.max() - a.min())
    assert (a.argmax(-1) == b.argmax(-1)).float().mean() > 0.9
    assert (
        quantization_method(fp32)
        == LINEAR_METHOD + "; Conv1d weights int8 per output channel, dequantized at run time"
    )
    assert quantization_method(model[0]) == LINEAR_METHOD


def test_compress_model_writes_comparable_measurements(tmp_path):
    model_dir = tiny_model_dir(tmp_path / "m", window=WINDOW)
    rng = np.random.default_rng(1)
    np.save(tmp_path / "test.npy", rng.integers(0, 4, (40, WINDOW)).astype(np.uint8))
    windows = random_dna(rng, 30, WINDOW)
    alts = [next(b for b in "ACGT" if b != w[10]) for w in windows]
    pd.DataFrame(
        {
            "id": [f"v{i}" for i in range(30)],
            "contig": "c1",
            "pos": [100 * i + 11 for i in range(30)],
            "ref": [w[10] for w in windows],
            "alt": alts,
            "label": [0, 1] * 15,
            "split": "test",
            "ref_window": windows,
            "offset": 10,
        }
    ).to_csv(tmp_path / "task.tsv", sep="\t", index=False)
    out = compress_model(
        model_dir,
        tmp_path / "test.npy",
        tmp_path / "metrics.json",
        tmp_path / "timing.json",
        variant_tables={"task": tmp_path / "task.tsv"},
        max_windows=24,
        seed=3,
    )
    timing = json.loads((tmp_path / "timing.json").read_text())
    assert {**json.loads((tmp_path / "metrics.json").read_text()), "timing": timing} == json.loads(
        json.dumps(out)
    )
    assert out["n_windows"] == 24
    fp32, int8 = out["models"]["fp32"], out["models"]["int8"]
    # The fp32 size is what torch.save writes for the saved model, measured here independently.
    saved = io.BytesIO()
    torch.save(AutoModelForMaskedLM.from_pretrained(model_dir).state_dict(), saved)
    assert fp32["size_bytes"] == saved.getbuffer().nbytes
    assert 0 < int8["size_bytes"] < fp32["size_bytes"] and out["size_ratio"] < 1
    assert timing["sequences_per_s"]["fp32"] > 0 and timing["sequences_per_s"]["int8"] > 0
    assert int8["test_lm"]["loss"] == pytest.approx(fp32["test_lm"]["loss"], abs=0.05)
    task = out["disease_risk"]["task"]
    assert task["n"] == 30 and 0 <= task["auroc"]["int8"]["value"] <= 1
    assert task["spearman"] > 0.5 and task["max_abs_score_diff"] >= 0
    # Seeded masks: a rerun gives the same loss, so fp32 and int8 are compared on identical masks.
    again = compress_model(
        model_dir, tmp_path / "test.npy", tmp_path / "m2.json", tmp_path / "t2.json", max_windows=24, seed=3
    )
    assert again["models"]["fp32"]["test_lm"] == fp32["test_lm"] and again["disease_risk"] == {}


def test_compress_model_measures_a_convnet_directory(tmp_path):
    model_dir = tiny_model_dir(tmp_path / "m", family="convnet", window=WINDOW)
    np.save(tmp_path / "test.npy", np.random.default_rng(2).integers(0, 4, (16, WINDOW)).astype(np.uint8))
    out = compress_model(
        model_dir, tmp_path / "test.npy", tmp_path / "metrics.json", tmp_path / "timing.json"
    )
    assert out["method"].endswith("; Conv1d weights int8 per output channel, dequantized at run time")
    fp32, int8 = out["models"]["fp32"], out["models"]["int8"]
    assert out["size_ratio"] < 1 and out["n_windows"] == 16
    assert int8["test_lm"]["loss"] == pytest.approx(fp32["test_lm"]["loss"], abs=0.05)


@pytest.mark.workflow
def test_demo_run_compression(demo_run):
    metrics = json.loads((demo_run / "compress" / "metrics.json").read_text())
    fp32, int8 = metrics["models"]["fp32"], metrics["models"]["int8"]
    assert metrics["size_ratio"] < 0.5
    assert int8["test_lm"]["loss"] == pytest.approx(fp32["test_lm"]["loss"], abs=0.05)
    for task in metrics["disease_risk"].values():
        assert task["auroc"]["int8"]["value"] == pytest.approx(task["auroc"]["fp32"]["value"], abs=0.05)
        assert task["spearman"] > 0.9
    blocks = interpretation_section(Run(demo_run))["blocks"]
    table = next(b for b in blocks if b["kind"] == "table" and b["columns"][0] == "Model")
    assert [row[0] for row in table["rows"]] == ["fp32", "int8"]
