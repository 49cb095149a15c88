"""Compress a fine-tuned gene-function classifier: distil it into a smaller student, quantize it to int8.

Teacher: a saved classifier (`load_classifier`; the workflow uses finetune_full's). Student: a model of the
teacher's family and tokenizer with fewer layers (half by default) and optionally a narrower width
(`student_config`). With `init="teacher"` every student tensor whose shape matches is copied from the
teacher: embeddings, the teacher layers picked evenly (every other one for half the depth) and the head;
otherwise the student starts random. It trains on the task's train split with

    alpha * KL(teacher_T || student_T) * T^2 + (1 - alpha) * CE(labels)

(T: temperature; multi-label tasks use the per-label Bernoulli KL summed over labels and the
teacher's weighted BCE), keeps the epoch with the best validation macro-F1 and is scored on exactly
the test rows of the teacher. The teacher is also quantized (`genolm.compress.quantize`: int8 Linear
layers). The comparison gives each model's parameters, size (bytes of its saved state dict), headline
metric with its bootstrap CI and agreement with the teacher's test predictions; CPU throughput (genes per
second through `predict_proba`, same batch size, best of three passes in turns) is a timing and goes to
timing.json with the training time, so identical configs give byte-identical metrics.

With `compress.distill.gpus` the teacher's soft targets and the student's training run on the job's GPU
(bf16 autocast where supported); both models then return to the CPU, where the int8 teacher can run
(torch's dynamic int8 kernels are CPU kernels), for the test predictions, the comparison and the timings.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from genolm.atomic import write_json
from genolm.compress import quantize, state_bytes
from genolm.device import autocast, resolve_device
from genolm.errors import GenolmError
from genolm.finetune import (
    Classifier,
    FinetuneSettings,
    PooledClassifier,
    fit_classifier,
    imbalance_loss,
    load_classifier,
    load_table,
    save_classifier,
    targets,
    task_metrics,
    write_results,
)
from genolm.inference import Pretrained, chunk_batch, inference_batch_size, tokenize
from genolm.metrics import MULTILABEL_THRESHOLD
from genolm.models import build_model, count_parameters

LOG = logging.getLogger(__name__)
CPU = torch.device("cpu")
INITS = ("teacher", "random")
#: Names in a layer's state-dict keys: bert/roberta `layer.N`, modernbert/llama `layers.N`, gpt2 `h.N`.
LAYER_KEY = re.compile(r"\.(layer|layers|h)\.(\d+)\.")


@dataclasses.dataclass(frozen=True)
class DistillSettings:
    layers: int | None = None  # None: half the teacher's, at least 1
    hidden_size: int | None = None  # None: the teacher's (and then heads/intermediate default to its too)
    heads: int | None = None
    intermediate_size: int | None = None
    init: str = "teacher"
    temperature: float = 2.0
    alpha: float = 0.5
    epochs: int = 10
    lr: float = 1e-3
    patience: int = 3
    seed: int = 42
    threads: int = 2


def student_config(teacher_config, settings: DistillSettings):
    """The teacher's transformers config with the student's depth and width (names mapped per family)."""
    keys = teacher_config.attribute_map
    hidden = settings.hidden_size or teacher_config.hidden_size
    heads = settings.heads or getattr(teacher_config, "num_attention_heads", None) or 1  # convnet: no heads
    layers = settings.layers or max(1, teacher_config.num_hidden_layers // 2)
    if hidden % heads:
        raise GenolmError(f"compress.distill: hidden_size {hidden} is not divisible by heads {heads}")
    if layers > teacher_config.num_hidden_layers:
        raise GenolmError(
            f"compress.distill.layers: {layers} is more than the teacher's {teacher_config.num_hidden_layers}"
        )
    changes = {
        keys.get("num_hidden_layers", "num_hidden_layers"): layers,
        keys.get("hidden_size", "hidden_size"): hidden,
    }
    if hasattr(teacher_config, "num_attention_heads"):
        changes[keys.get("num_attention_heads", "num_attention_heads")] = heads
    inter_key = "n_inner" if teacher_config.model_type == "gpt2" else "intermediate_size"
    if settings.intermediate_size or hidden != teacher_config.hidden_size:
        changes[inter_key] = settings.intermediate_size or 4 * hidden
    raw = {**teacher_config.to_dict(), **changes}
    if "num_key_value_heads" in raw:  # llama: plain multi-head attention, derived head size
        raw["num_key_value_heads"] = heads
        raw.pop("head_dim", None)
    return type(teacher_config).from_dict(raw)


def picked_layers(teacher_layers: int, student_layers: int) -> list[int]:
    """Teacher layers a student starts from: evenly spread, ending with the last one (every other one
    for half the depth: 1, 3 of 0-3)."""
    return [round((i + 1) * teacher_layers / student_layers) - 1 for i in range(student_layers)]


def copy_matching(student: torch.nn.Module, teacher: torch.nn.Module, picks: list[int]) -> int:
    """Copy every teacher tensor whose (layer-renumbered) name and shape match into `student`; returns
    how many tensors were copied."""
    source = teacher.state_dict()
    state = {}
    for key, value in student.state_dict().items():
        name = LAYER_KEY.sub(lambda m: f".{m[1]}.{picks[int(m[2])]}.", key, count=1)
        if name in source and source[name].shape == value.shape:
            state[key] = source[name]
    student.load_state_dict(state, strict=False)
    return len(state)


def build_student(teacher: Classifier, settings: DistillSettings) -> Classifier:
    """A smaller classifier of the teacher's family, tokenizer, window, classes and chunking."""
    if settings.init not in INITS:
        raise GenolmError(f"compress.distill.init: got {settings.init!r}, expected one of {', '.join(INITS)}")
    torch.manual_seed(settings.seed)
    lm = teacher.pretrained.model
    config = student_config(lm.config, settings)
    student_lm = build_model(config, config.model_type)
    module = PooledClassifier(student_lm.base_model, config.hidden_size, len(teacher.classes))
    if settings.init == "teacher":
        picks = picked_layers(lm.config.num_hidden_layers, config.num_hidden_layers)
        copied = copy_matching(student_lm, lm, picks) + copy_matching(module.head, teacher.module.head, picks)
        LOG.info("student initialised from teacher layers %s (%d tensors copied)", picks, copied)
    pre = dataclasses.replace(teacher.pretrained, model=student_lm)
    return Classifier(module, pre, teacher.classes, teacher.task_type, teacher.max_chunks, teacher.batch_size)


@torch.no_grad()
def teacher_logits(teacher: Classifier, seqs: list[str]) -> torch.Tensor:
    """The teacher's float32 logits per gene (eval mode, chunked and pooled as in training), on its device."""
    teacher.module.eval()
    device, out = teacher.device, []
    step = inference_batch_size(device, teacher.batch_size)
    for i in range(0, len(seqs), step):
        part = seqs[i : i + step]
        chunks, owner, _ = chunk_batch(part, teacher.window, teacher.max_chunks, teacher.grid)
        with autocast(device):
            logits = teacher.module(tokenize(teacher.tokenizer, chunks).to(device), owner, len(part))
        out.append(logits.float())
    return torch.cat(out)


def soft_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float, multilabel: bool):
    """KL(teacher_T || student_T) * T^2, per gene: over classes (softmax) or summed over labels (sigmoid)."""
    t, s = teacher / temperature, student / temperature
    if multilabel:
        p = torch.sigmoid(t)
        kl = p * (F.logsigmoid(t) - F.logsigmoid(s)) + (1 - p) * (F.logsigmoid(-t) - F.logsigmoid(-s))
        return kl.sum(-1).mean() * temperature**2
    return F.kl_div(F.log_softmax(s, -1), F.log_softmax(t, -1), log_target=True, reduction="batchmean") * (
        temperature**2
    )


def agreement(proba: np.ndarray, reference: np.ndarray, task_type: str) -> float:
    """Share of test decisions equal to the reference's: argmax classes, or every label at p >= 0.5."""
    if task_type == "multilabel":
        return float(((proba >= MULTILABEL_THRESHOLD) == (reference >= MULTILABEL_THRESHOLD)).mean())
    return float((proba.argmax(1) == reference.argmax(1)).mean())


@torch.inference_mode()
def classifier_throughputs(classifiers: dict[str, Classifier], seqs: list[str], repeats: int = 3):
    """Genes per second through `predict_proba` per classifier: best of `repeats` passes, taken in turns
    after one warm-up batch each, so a busy machine slows them alike."""
    best = dict.fromkeys(classifiers, 0.0)
    for clf in classifiers.values():
        clf.predict_proba(seqs[: clf.batch_size])
    for _ in range(repeats):
        for name, clf in classifiers.items():
            start = time.perf_counter()
            clf.predict_proba(seqs)
            best[name] = max(best[name], len(seqs) / (time.perf_counter() - start))
    return best


def distill_classifier(
    teacher: Classifier, parts: dict[str, pd.DataFrame], settings: DistillSettings
) -> tuple[Classifier, dict]:
    """Train a student on the train split against the teacher's soft targets and the labels, on the
    teacher's device."""
    student = build_student(teacher, settings).to(teacher.device)
    multilabel = teacher.task_type == "multilabel"
    y_train = targets(parts["train"])
    hard_loss = imbalance_loss(y_train, len(teacher.classes), teacher.task_type).to(teacher.device)
    soft = teacher_logits(teacher, parts["train"]["sequence"].tolist())

    def batch_loss(logits: torch.Tensor, idx: np.ndarray) -> torch.Tensor:
        target = torch.from_numpy(y_train[idx]).to(logits.device)
        hard = hard_loss(logits, target.float() if multilabel else target)
        kd = soft_loss(logits, soft[idx], settings.temperature, multilabel)
        return settings.alpha * kd + (1 - settings.alpha) * hard

    fit = FinetuneSettings(
        epochs=settings.epochs,
        lr=settings.lr,
        batch_size=teacher.batch_size,
        max_chunks=teacher.max_chunks,
        patience=settings.patience,
        seed=settings.seed,
        threads=settings.threads,
    )
    return student, fit_classifier(student, parts, batch_loss, fit, settings.lr)


def run_distill(
    table_tsv: str | Path,
    teacher_dir: str | Path,
    predictions_tsv: str | Path,
    metrics_json: str | Path,
    student_dir: str | Path,
    comparison_json: str | Path,
    timing_json: str | Path,
    settings: DistillSettings,
    *,
    task_type: str | None = None,
    gpus: int = 0,
) -> dict:
    """Distil and quantize the teacher of one gene-function task; write the student's predictions, metrics
    and classifier, the teacher/student/int8 comparison and the timings (module doc).

    Distillation runs on a GPU when the job holds one (`gpus`, from `compress.distill.gpus`); a GPU
    configured but not visible is a GenolmError naming that setting.
    """
    device = resolve_device(gpus, "compress.distill.gpus")
    torch.set_num_threads(settings.threads)
    teacher = load_classifier(teacher_dir).to(device)
    if task_type is not None and task_type != teacher.task_type:
        raise GenolmError(f"{teacher_dir}: a {teacher.task_type} classifier, the task is {task_type}")
    table, classes = load_table(table_tsv, teacher.task_type)
    if classes != teacher.classes:
        raise GenolmError(f"{table_tsv}: classes {classes} differ from the teacher's {teacher.classes}")
    parts = {s: table[table["split"] == s] for s in ("train", "val", "test")}
    start = time.perf_counter()
    student, info = distill_classifier(teacher, parts, settings)
    train_seconds = time.perf_counter() - start
    teacher, student = teacher.to(CPU), student.to(CPU)
    save_classifier(student, student_dir, method="distilled", seed=settings.seed)
    int8 = dataclasses.replace(teacher, module=quantize(teacher.module))
    models = {"teacher": teacher, "student": student, "int8_teacher": int8}
    seqs = parts["test"]["sequence"].tolist()
    proba = {name: clf.predict_proba(seqs) for name, clf in models.items()}
    info = {
        "family": "gene_function",
        "method": "distilled",
        "n_train": len(parts["train"]),
        **info,
        "teacher": str(teacher_dir),
        "settings": dataclasses.asdict(settings),
        "student_config": _shape(student.pretrained),
        **({} if device.type == "cpu" else {"device": str(device)}),  # CPU runs keep their metrics' bytes
    }
    metrics = write_results(
        parts["test"],
        proba["student"],
        classes,
        teacher.task_type,
        predictions_tsv,
        metrics_json,
        info,
        settings.seed,
    )
    comparison = _comparison(models, proba, targets(parts["test"]), classes, teacher.task_type, settings.seed)
    write_json(comparison_json, comparison)
    speed = classifier_throughputs(models, seqs)
    write_json(
        timing_json,
        {
            "threads": settings.threads,
            "batch_size": teacher.batch_size,
            "train_seconds": train_seconds,
            "genes_per_s": speed,
        },
    )
    LOG.info("compression: %s; genes/s %s", comparison["models"], speed)
    return {**metrics, "comparison": comparison}


def _shape(pre: Pretrained) -> dict:
    config = pre.model.config
    return {
        "model_type": config.model_type,
        "layers": config.num_hidden_layers,
        "hidden_size": config.hidden_size,
        "heads": getattr(config, "num_attention_heads", None),
    }


def _comparison(models, proba, y_test, classes, task_type, seed) -> dict:
    """Parameters, size, headline metric with CI and agreement with the teacher, per model."""
    headline = "macro_f1"
    out = {}
    for name, clf in models.items():
        # quantize_dynamic packs Linear weights outside `parameters()`: the int8 teacher has the teacher's.
        counted = models["teacher"] if name == "int8_teacher" else clf
        scored = task_metrics(y_test, proba[name], classes, task_type, seed=seed)["metrics"]
        out[name] = {
            "parameters": count_parameters(counted.module),
            "size_bytes": state_bytes(clf.module),
            headline: scored[headline],
            "agreement_with_teacher": agreement(proba[name], proba["teacher"], task_type),
        }
    teacher = out["teacher"]
    return {
        "headline": headline,
        "n_test": len(y_test),
        "task_type": task_type,
        "models": out,
        "size_ratio": {n: m["size_bytes"] / teacher["size_bytes"] for n, m in out.items()},
        "metric_change": {n: m[headline]["value"] - teacher[headline]["value"] for n, m in out.items()},
    }
