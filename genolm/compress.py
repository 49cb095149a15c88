"""Dynamic int8 quantization of the pretrained model and what it costs: size, CPU speed, accuracy.

Every torch.nn.Linear (attention, feed-forward and LM head projections) gets int8 weights and
per-batch int8 activations (torch.ao.quantization.quantize_dynamic; deprecated in favour of torchao,
which is not installed, but still present in torch 2.x); embeddings and layer norms stay fp32. torch has
no dynamic int8 convolution, so every torch.nn.Conv1d (the convnet family's dilated convolutions) keeps
int8 weights with one scale per output channel and is dequantized at each call: smaller, not faster.
Size is the byte count of the saved state dict (torch.save, the same serialiser for both, since
safetensors cannot hold packed int8 weights). Throughput is sequences per second of a full forward
pass (logits) over the first `max_windows` test windows, best of three passes taken in turns.
Accuracy is the masked/causal LM loss on the same windows with the same seeded masks
(genolm.pretrain.evaluate), and the zero-shot AUROC of each disease-risk task on its test split,
fp32 against int8. The stage runs on the CPU by design (it has no `gpus` setting): torch's dynamic int8
kernels are CPU kernels, and what it measures is CPU deployment.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import logging
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from genolm.atomic import write_json
from genolm.errors import GenolmError
from genolm.inference import Pretrained, load_pretrained
from genolm.metrics import binary_scores, classification_metrics
from genolm.pretrain import PretrainSettings
from genolm.pretrain.batches import max_tokens, tokenize_batch
from genolm.pretrain.evaluate import evaluate
from genolm.pretrain.loss import LMLoss
from genolm.variants import CLASSES, load_variant_table, zero_shot_llr

LOG = logging.getLogger(__name__)


LINEAR_METHOD = "dynamic int8 quantization of Linear layers (torch.ao.quantization.quantize_dynamic)"
CONV_METHOD = "; Conv1d weights int8 per output channel, dequantized at run time"


class Int8Conv1d(torch.nn.Module):
    """A Conv1d whose weights are stored as int8 with a symmetric scale per output channel.

    The weights are dequantized at every call and convolved in fp32 (torch has no dynamic int8
    convolution), so it saves memory and disk, not time.
    """

    def __init__(self, conv: torch.nn.Conv1d) -> None:
        super().__init__()
        if conv.padding_mode != "zeros":
            raise GenolmError(
                f"int8 Conv1d: padding_mode {conv.padding_mode!r} is not supported (only zeros)"
            )
        weight = conv.weight.detach()
        scale = weight.abs().amax(dim=(1, 2), keepdim=True).clamp(min=torch.finfo(weight.dtype).tiny) / 127
        self.register_buffer("qweight", torch.round(weight / scale).to(torch.int8))
        self.register_buffer("scale", scale)
        self.register_buffer("bias", None if conv.bias is None else conv.bias.detach().clone())
        self.stride, self.padding, self.dilation, self.groups = (
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.groups,
        )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        weight = self.qweight.to(inputs.dtype) * self.scale.to(inputs.dtype)
        return torch.nn.functional.conv1d(
            inputs, weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


def _int8_convolutions(model: torch.nn.Module) -> int:
    """Replace every torch.nn.Conv1d inside `model` by an Int8Conv1d, in place; returns how many."""
    targets = [(name, m) for name, m in model.named_modules() if isinstance(m, torch.nn.Conv1d)]
    for name, conv in targets:
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, Int8Conv1d(conv))
    return len(targets)


def quantize(model: torch.nn.Module) -> torch.nn.Module:
    """An int8 copy of `model`: Linear layers dynamically quantized, Conv1d weights int8 (module doc);
    `model` is left unchanged."""
    clone = copy.deepcopy(model).eval()
    _int8_convolutions(clone)
    return torch.ao.quantization.quantize_dynamic(clone, {torch.nn.Linear}, dtype=torch.qint8)


def quantization_method(model: torch.nn.Module) -> str:
    """What `quantize` does to `model`, in words (for metrics.json)."""
    convs = any(isinstance(m, torch.nn.Conv1d) for m in model.modules())
    return LINEAR_METHOD + (CONV_METHOD if convs else "")


def state_bytes(model: torch.nn.Module) -> int:
    """Bytes of the model's saved state dict (what a checkpoint of it would occupy on disk)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


@torch.inference_mode()
def throughputs(models: dict[str, Pretrained], windows: np.ndarray, repeats: int = 3, batch_size: int = 32):
    """Sequences per second of a forward pass over `windows` per model: best of `repeats` timed passes.

    The models take turns pass by pass (after one warm-up batch each), so a busy machine slows them alike.
    """
    best = dict.fromkeys(models, 0.0)
    batches = {}
    for name, pre in models.items():
        limit = max_tokens(pre.tokenizer, pre.window)
        batches[name] = [
            tokenize_batch(pre.tokenizer, windows[i : i + batch_size], limit)
            for i in range(0, len(windows), batch_size)
        ]
        pre.model(input_ids=batches[name][0])
    for _ in range(repeats):
        for name, pre in models.items():
            start = time.perf_counter()
            for ids in batches[name]:
                pre.model(input_ids=ids)
            best[name] = max(best[name], len(windows) / (time.perf_counter() - start))
    return best


def lm_loss(pre: Pretrained, windows: np.ndarray, seed: int, batch_size: int = 32) -> dict:
    """Loss, perplexity and token accuracy on `windows` with masks drawn from `seed` (as in validation)."""
    settings = PretrainSettings(batch_size=batch_size, eval_batches=-(-len(windows) // batch_size), seed=seed)
    out = evaluate(
        LMLoss(pre.model, pre.objective),
        pre.tokenizer,
        windows,
        settings,
        max_tokens(pre.tokenizer, pre.window),
    )
    pre.model.eval()  # evaluate() hands the model back in train mode
    return out


def compare_zero_shot(full: Pretrained, int8: Pretrained, table_tsv: str | Path, seed: int) -> dict:
    """Zero-shot AUROC of the test variants under both models and how closely their scores agree."""
    test = load_variant_table(table_tsv).query("split == 'test'")
    if test.empty:
        raise GenolmError(f"{table_tsv}: no test variants to compare")
    scores = {name: -zero_shot_llr(pre, test) for name, pre in (("fp32", full), ("int8", int8))}
    auroc = {
        name: classification_metrics(test["label"].to_numpy(), binary_scores(s), CLASSES, seed=seed)[
            "metrics"
        ]["auroc"]
        for name, s in scores.items()
    }
    return {
        "n": len(test),
        "auroc": auroc,
        "spearman": float(spearmanr(scores["fp32"], scores["int8"]).statistic),
        "max_abs_score_diff": float(np.abs(scores["fp32"] - scores["int8"]).max()),
    }


def compress_model(
    model_dir: str | Path,
    test_windows: str | Path,
    metrics_json: str | Path,
    timing_json: str | Path,
    *,
    variant_tables: dict[str, str | Path] | None = None,
    max_windows: int = 128,
    seed: int = 42,
    threads: int = 2,
) -> dict:
    """Quantize the pretrained model to int8 and write size, throughput and metric changes (module doc)."""
    torch.set_num_threads(threads)
    windows = np.load(test_windows, mmap_mode="r")[:max_windows]
    if not len(windows):
        raise GenolmError(f"{test_windows}: no test windows to measure on")
    windows = np.ascontiguousarray(windows)
    full = load_pretrained(model_dir)
    int8 = dataclasses.replace(full, model=quantize(full.model))
    pairs = {"fp32": full, "int8": int8}
    speed = throughputs(pairs, windows)
    models = {}
    for name, pre in pairs.items():
        models[name] = {"size_bytes": state_bytes(pre.model), "test_lm": lm_loss(pre, windows, seed)}
        LOG.info("%s: %s, %.1f sequences/s", name, models[name], speed[name])
    tasks = {task: compare_zero_shot(full, int8, path, seed) for task, path in (variant_tables or {}).items()}
    metrics = {
        "method": quantization_method(full.model),
        "objective": full.objective,
        "n_windows": len(windows),
        "models": models,
        "size_ratio": models["int8"]["size_bytes"] / models["fp32"]["size_bytes"],
        "disease_risk": tasks,
    }
    # Throughput is a timing, not a result: it lives apart so identical configs give identical metrics.
    timing = {"threads": threads, "sequences_per_s": speed, "speedup": speed["int8"] / speed["fp32"]}
    write_json(metrics_json, metrics)
    write_json(timing_json, timing)
    return {**metrics, "timing": timing}
