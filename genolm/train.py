"""The pretraining loop: masked or causal LM, deterministic per step, resumable, optionally data-parallel.

Every random choice at step `s` (which windows, which positions are masked, dropout) is derived from
`(seed, s)`, so a run resumed from a checkpoint at step `s` continues exactly as the uninterrupted run would
have, with no RNG state to carry. `pretrain.batch_size` is the global batch: each of `world` processes takes
rows `rank::world` of the step's batch and runs them in micro-batches, and the loss is the sum over the
batch's target tokens divided by their global count, so a step's gradient does not depend on how the batch
is split (up to floating-point summation order).

`pretrain.pair_objective` adds a sentence-pair task to MLM (bert only: BertForPreTraining's next-sentence
head). Each window is cut into halves A | B and fed as [CLS] A [SEP] B [SEP] with token types 0 | 1; in a
seeded half of the rows B is replaced: by the second half of another random window ("adjacent": are the
halves neighbours in the genome?) or by its own reverse complement ("strand": is B on A's strand?). The
step's loss is MLM loss per masked token + pair_weight * pair loss per window.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import math
import os
import pickle
import shutil
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors import SafetensorError
from safetensors.torch import load_model as load_safetensors_model
from safetensors.torch import save_model as save_safetensors_model
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from genolm.atomic import atomic_path, previous_path, write_json, write_text
from genolm.errors import GenolmError
from genolm.models import (
    build_config,
    build_model,
    check_fits,
    check_pair_family,
    count_parameters,
    load_model,
    masked_lm_part,
    mlm_logits,
    model_size,
    objective,
    pair_logits,
)
from genolm.tokenizers import encode_codes, tokenizer_kind

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class PretrainSettings:
    """Hyperparameters of one pretraining run (all from config, with the schema's defaults)."""

    family: str = "bert"
    preset: str = "tiny"
    hidden_size: int | None = None
    num_layers: int | None = None
    num_heads: int | None = None
    intermediate_size: int | None = None
    dropout: float | None = None
    init_from: str | None = None
    max_steps: int = 1000
    batch_size: int = 32
    micro_batch_size: int | None = None
    lr: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    mask_prob: float = 0.15
    eval_every: int = 200
    eval_batches: int = 20
    checkpoint_every: int = 200
    patience: int | None = None
    max_minutes: float | None = None
    compile: bool = False
    processes: int = 1
    gpus: int = 0
    seed: int = 42
    threads: int = 2
    pair_objective: str = "none"
    pair_weight: float = 1.0


#: Sentence-pair tasks (see the module docstring); "none" trains the plain LM objective.
PAIR_OBJECTIVES = ("none", "adjacent", "strand")
#: Pair labels, as transformers' next_sentence_label: 0 = B follows A in the genome, 1 = B was replaced.
PAIR_KEPT, PAIR_REPLACED = 0, 1
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)  # A<->T, C<->G, N stays N


def check_pair(settings: PretrainSettings) -> bool:
    """Whether a pair objective is on; refuses an unknown one or a family without a pair head."""
    if settings.pair_objective not in PAIR_OBJECTIVES:
        raise GenolmError(
            f"pretrain.pair_objective: got {settings.pair_objective!r}, expected one of "
            f"{', '.join(PAIR_OBJECTIVES)}"
        )
    check_pair_family(settings.family, settings.pair_objective)
    return settings.pair_objective != "none"


def reverse_complement(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of rows of base codes (A0 C1 G2 T3 N4)."""
    return _COMPLEMENT[codes[:, ::-1]]


def pair_sample(
    windows: np.ndarray, indices: np.ndarray, kind: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A, B, labels) for the windows at `indices`: A the first half, B the second half or its replacement.

    Exactly n // 2 rows, chosen by `rng`, are replaced (label PAIR_REPLACED): "adjacent" takes B from
    another window of `windows` drawn by `rng`, "strand" reverse-complements B. An odd base is left out.
    """
    codes = np.asarray(windows[indices])
    n, half = len(codes), codes.shape[1] // 2
    first, second = codes[:, :half], codes[:, half : 2 * half].copy()
    replaced = rng.permutation(n) < n // 2
    if kind == "adjacent":
        if len(windows) < 2:
            raise GenolmError("pretrain.pair_objective adjacent: needs at least 2 windows to draw from")
        own = np.asarray(indices)[replaced]
        other = rng.integers(0, len(windows) - 1, len(own))
        other += other >= own  # any window but the row's own
        order = np.argsort(other)  # mmap reads want sorted indices
        drawn = np.empty((len(own), codes.shape[1]), dtype=codes.dtype)
        drawn[order] = windows[other[order]]
        second[replaced] = drawn[:, half : 2 * half]
    elif kind == "strand":
        second[replaced] = reverse_complement(second[replaced])
    else:
        raise GenolmError(f"pretrain.pair_objective: got {kind!r}, expected adjacent or strand")
    return first, second, np.where(replaced, PAIR_REPLACED, PAIR_KEPT).astype(np.int64)


def world_size(settings: PretrainSettings) -> int:
    """Number of training processes: one per GPU when `gpus` > 0, else `processes` CPU processes."""
    if settings.gpus > 0 and settings.processes not in (1, settings.gpus):
        raise GenolmError(
            f"pretrain.processes is {settings.processes} with pretrain.gpus {settings.gpus}; "
            "expected 1 or the number of GPUs (one process per GPU)"
        )
    world = settings.gpus if settings.gpus > 0 else settings.processes
    if settings.batch_size % world:
        raise GenolmError(
            f"pretrain.batch_size {settings.batch_size} is not divisible by the {world} training processes"
        )
    return world


def max_tokens(tokenizer: PreTrainedTokenizerBase, window: int) -> int:
    """Upper bound on the tokens of one window including [CLS] and [SEP]."""
    kind, k = tokenizer_kind(tokenizer)
    body = window - k + 1 if kind == "kmer_overlap" else window
    return body + 2


def tokenize_pairs(
    tokenizer: PreTrainedTokenizerBase, first: np.ndarray, second: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """[CLS] A [SEP] B [SEP] ids and token types (0 up to the first [SEP], 1 after; pads 0).

    A pair holds at most one token per base plus 3 specials, i.e. max_tokens(window) + 1 tokens.
    """
    ids_a, len_a = encode_codes(tokenizer, np.ascontiguousarray(first))
    ids_b, len_b = encode_codes(tokenizer, np.ascontiguousarray(second))
    width = int((len_a + len_b).max()) + 3
    ids = np.full((len(ids_a), width), tokenizer.pad_token_id, dtype=np.int64)
    types = np.zeros((len(ids_a), width), dtype=np.int64)
    ids[:, 0] = tokenizer.cls_token_id
    for i, (a, b) in enumerate(zip(len_a, len_b, strict=True)):
        ids[i, 1 : a + 1] = ids_a[i, :a]
        ids[i, a + 1] = tokenizer.sep_token_id
        ids[i, a + 2 : a + b + 2] = ids_b[i, :b]
        ids[i, a + b + 2] = tokenizer.sep_token_id
        types[i, a + 2 : a + b + 3] = 1
    return torch.from_numpy(ids), torch.from_numpy(types)


def mask_span(tokenizer: PreTrainedTokenizerBase) -> int:
    """Tokens masked together: k for overlapping k-mers (else the neighbours reveal the base), else 1."""
    kind, k = tokenizer_kind(tokenizer)
    return k if kind == "kmer_overlap" else 1


def tokenize_batch(tokenizer: PreTrainedTokenizerBase, codes: np.ndarray, limit: int) -> torch.Tensor:
    """Base-code windows -> [CLS] tokens [SEP] id tensor, padded to the longest row."""
    ids, lengths = encode_codes(tokenizer, np.asarray(codes))
    width = min(int(lengths.max()) + 2, limit)
    out = np.full((len(ids), width), tokenizer.pad_token_id, dtype=np.int64)
    out[:, 0] = tokenizer.cls_token_id
    for i, n in enumerate(np.minimum(lengths, width - 2)):
        out[i, 1 : n + 1] = ids[i, :n]
        out[i, n + 1] = tokenizer.sep_token_id
    return torch.from_numpy(out)


def mask_tokens(
    ids: torch.Tensor,
    tokenizer: PreTrainedTokenizerBase,
    prob: float,
    generator: torch.Generator,
    span: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking (80% [MASK], 10% random, 10% kept) of about `prob` of the non-special tokens.

    With `span` > 1 (overlapping k-mers, DNABERT style) spans of `span` consecutive tokens are selected from
    anchors drawn with probability prob / span, so every k-mer covering the span's last base is hidden.
    Returns the corrupted inputs and the boolean mask of positions that carry a loss.
    """
    body = ids >= len(tokenizer.all_special_ids)
    anchors = (torch.rand(ids.shape, generator=generator) < prob / span) & body
    selected = anchors.clone()
    for offset in range(1, span):
        selected[:, offset:] |= anchors[:, :-offset]
    selected &= body
    if not selected.any():  # keep at least one target so the loss is defined
        candidates = body.nonzero()
        selected[tuple(candidates[torch.randint(len(candidates), (1,), generator=generator)][0])] = True
    inputs = ids.clone()
    roll = torch.rand(ids.shape, generator=generator)
    inputs[selected & (roll < 0.8)] = tokenizer.mask_token_id
    randomise = selected & (roll >= 0.8) & (roll < 0.9)
    n_special = len(tokenizer.all_special_ids)
    inputs[randomise] = torch.randint(n_special, len(tokenizer), (int(randomise.sum()),), generator=generator)
    return inputs, selected


def corrupt(
    ids: torch.Tensor, tokenizer, objective_: str, prob: float, generator: torch.Generator, span: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, loss positions): masked tokens for MLM; for CLM the positions whose next token is real."""
    if objective_ == "mlm":
        return mask_tokens(ids, tokenizer, prob, generator, span)
    return ids, ids[:, 1:] != tokenizer.pad_token_id


class LMLoss(torch.nn.Module):
    """Summed cross-entropy and correct predictions over the loss positions of a batch.

    A module (not a function) so DDP and torch.compile can wrap it. For MLM the head runs on the masked
    positions only, which saves the vocabulary projection of the other ~85% of tokens. Given token types
    and pair labels it also returns the summed pair cross-entropy and correct pair predictions.
    """

    def __init__(self, model: torch.nn.Module, objective_: str) -> None:
        super().__init__()
        self.model, self.objective = model, objective_

    def forward(self, ids, inputs, targets, attention, types=None, pair_labels=None):
        if self.objective == "mlm":
            segments = {} if types is None else {"token_type_ids": types}
            out = self.model.base_model(input_ids=inputs, attention_mask=attention, **segments)
            logits, labels = mlm_logits(self.model, out.last_hidden_state[targets]), ids[targets]
        else:
            logits = self.model(input_ids=ids, attention_mask=attention).logits[:, :-1][targets]
            labels = ids[:, 1:][targets]
        loss = torch.nn.functional.cross_entropy(logits.float(), labels, reduction="sum")
        correct = (logits.argmax(-1) == labels).sum()
        if pair_labels is None:
            return loss, correct
        pair = pair_logits(self.model, out.pooler_output).float()
        pair_loss = torch.nn.functional.cross_entropy(pair, pair_labels, reduction="sum")
        return loss, correct, pair_loss, (pair.argmax(-1) == pair_labels).sum()


def shard_chunks(n: int, rank: int, world: int, micro: int | None) -> list[np.ndarray]:
    """Rows `rank::world` of an n-row batch, split into micro-batches of at most `micro` rows."""
    shard = np.arange(rank, n, world)
    parts = max(1, math.ceil(len(shard) / micro)) if micro else 1
    return [c for c in np.array_split(shard, parts) if len(c)]


def lr_at(step: int, settings: PretrainSettings) -> float:
    """Linear warmup then cosine decay to 10% of the peak."""
    if step < settings.warmup_steps:
        return settings.lr * (step + 1) / settings.warmup_steps
    progress = (step - settings.warmup_steps) / max(1, settings.max_steps - settings.warmup_steps)
    return settings.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def batch_indices(step: int, n: int, batch: int, seed: int) -> np.ndarray:
    """Window indices of `step`: epochs are seeded permutations, so any step is reproducible alone."""
    first = step * batch
    epoch, offset = divmod(first, n)
    out: list[np.ndarray] = []
    while sum(len(o) for o in out) < batch:
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        take = perm[offset : offset + batch - sum(len(o) for o in out)]
        out.append(take)
        epoch, offset = epoch + 1, 0
    return np.sort(np.concatenate(out))


@dataclass
class _Runtime:
    """Where and how this process computes: rank, world, device, autocast dtype, micro-batch rows."""

    rank: int
    world: int
    device: torch.device
    autocast: torch.dtype | None
    micro: int | None

    def context(self):
        if self.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast)


def _sum_across(values: list[float], rt: _Runtime) -> list[float]:
    """Sum small per-process statistics over all processes (identity in a single process)."""
    if rt.world == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=rt.device)
    dist.all_reduce(t)
    return t.tolist()


def _attention(ids: torch.Tensor, pad_id: int) -> torch.Tensor | None:
    """None when nothing is padded (equal-length windows), so attention takes its unmasked fast path."""
    pad = ids == pad_id
    return (~pad).long() if bool(pad.any()) else None


def _run_batch(loss_fn, tensors, rt: _Runtime, pad_id: int, scales: tuple | None, sync=None) -> list[float]:
    """Forward (and backward when `scales` are given) this process's rows of a batch; returns summed stats.

    `tensors` are (ids, inputs, targets) plus (token types, pair labels) for a pair objective; the stats are
    [loss, correct] plus [pair loss, pair correct], and the backward pass runs loss * scales[0] (+ pair loss *
    scales[1]).
    """
    totals: list[float] = []
    chunks = shard_chunks(len(tensors[0]), rt.rank, rt.world, rt.micro)
    for i, rows in enumerate(chunks):
        no_sync = sync is not None and i < len(chunks) - 1
        with sync.no_sync() if no_sync else contextlib.nullcontext():
            part = [t[rows].to(rt.device, non_blocking=True) for t in tensors]
            with rt.context():
                out = loss_fn(*part[:3], _attention(part[0], pad_id), *part[3:])
            if scales is not None:
                objective_ = out[0] * scales[0]
                if len(out) > 2:
                    objective_ = objective_ + out[2] * scales[1]
                objective_.backward()
        stats = [v.item() for v in out]
        totals = [a + b for a, b in zip(totals, stats, strict=True)] if totals else stats
    return totals


@torch.no_grad()
def evaluate(
    loss_fn: LMLoss,
    tokenizer,
    windows: np.ndarray,
    settings: PretrainSettings,
    limit: int,
    rt: _Runtime | None = None,
) -> dict:
    """Validation loss, perplexity and token accuracy with fixed masks (seeded), so runs compare.

    These are always measured on whole windows ([CLS] window [SEP], as downstream stages feed them), so
    runs with and without a pair objective compare; a pair objective adds pair_loss and pair_accuracy
    measured on seeded, masked pairs of the same windows, as in training.
    """
    rt = rt or _Runtime(0, 1, torch.device("cpu"), None, settings.micro_batch_size)
    loss_fn.eval()
    generator = torch.Generator().manual_seed(settings.seed + 7919)
    span = mask_span(tokenizer)
    n = min(len(windows), settings.eval_batches * settings.batch_size)
    total_loss = total_correct = total_count = 0.0
    for start in range(0, n, settings.batch_size):
        ids = tokenize_batch(tokenizer, windows[start : min(n, start + settings.batch_size)], limit)
        inputs, targets = corrupt(ids, tokenizer, loss_fn.objective, settings.mask_prob, generator, span)
        loss, correct = _run_batch(loss_fn, (ids, inputs, targets), rt, tokenizer.pad_token_id, None)
        total_loss, total_correct = total_loss + loss, total_correct + correct
        total_count += int(targets.sum())
    total_loss, total_correct = _sum_across([total_loss, total_correct], rt)
    mean = total_loss / total_count
    out = {"loss": mean, "perplexity": math.exp(min(mean, 50)), "accuracy": total_correct / total_count}
    if loss_fn.objective == "clm":
        out["bits_per_base"] = total_loss / (n * windows.shape[1]) / math.log(2)
    if settings.pair_objective != "none":
        rng = np.random.default_rng([settings.seed, 7919])
        pair_loss = pair_correct = 0.0
        for start in range(0, n, settings.batch_size):
            rows = np.arange(start, min(n, start + settings.batch_size))
            tensors = _pair_batch(tokenizer, windows, rows, settings, rng, generator, span)
            _, _, loss, correct = _run_batch(loss_fn, tensors, rt, tokenizer.pad_token_id, None)
            pair_loss, pair_correct = pair_loss + loss, pair_correct + correct
        pair_loss, pair_correct = _sum_across([pair_loss, pair_correct], rt)
        out |= {"pair_loss": pair_loss / n, "pair_accuracy": pair_correct / n}
    loss_fn.train()
    return out


def _pair_batch(tokenizer, windows, rows, settings: PretrainSettings, rng, generator, span) -> tuple:
    """(ids, masked inputs, loss positions, token types, pair labels) of a pair batch."""
    first, second, labels = pair_sample(windows, rows, settings.pair_objective, rng)
    ids, types = tokenize_pairs(tokenizer, first, second)
    inputs, targets = mask_tokens(ids, tokenizer, settings.mask_prob, generator, span)
    return ids, inputs, targets, types, torch.from_numpy(labels)


class _Preemption:
    """Turns SIGTERM (SLURM's pre-emption notice) into a flag the loop checks between steps."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        self.requested = True

    def restore(self) -> None:
        signal.signal(signal.SIGTERM, self._previous)


def run_fingerprint(settings: PretrainSettings, train_windows: np.ndarray, val: np.ndarray, tokenizer) -> str:
    """A digest of everything that shapes the training trajectory: settings, data and vocabulary.

    A checkpoint is resumed only when its fingerprint matches, so a rerun after a config or data
    change starts afresh instead of continuing a run that no longer exists.
    """
    ignored = {"threads", "max_minutes", "checkpoint_every", "compile"}
    digest = hashlib.sha256(
        json.dumps(
            {
                "settings": {k: v for k, v in recorded_settings(settings).items() if k not in ignored},
                "shapes": [list(train_windows.shape), list(val.shape)],
                "vocab": tokenizer.get_vocab(),
            },
            sort_keys=True,
        ).encode()
    )
    for arr in (train_windows, val):  # a sample of rows: cheap even for a human genome
        digest.update(np.ascontiguousarray(arr[:: max(1, len(arr) // 256)]).tobytes())
    return digest.hexdigest()


def recorded_settings(settings: PretrainSettings) -> dict:
    """The settings as recorded in metrics.json and the run fingerprint.

    The pair keys are left out while the pair objective is off, so plain runs record exactly what they did
    before the pair objective existed (same metrics.json bytes, and their checkpoints still resume).
    """
    out = asdict(settings)
    if settings.pair_objective == "none":
        del out["pair_objective"], out["pair_weight"]
    return out


def save_checkpoint(
    path: Path, model, optimizer, step: int, history: list[dict], fingerprint: str = ""
) -> None:
    """Model (safetensors), optimizer state (tensors only) and position, renamed into place at once."""
    with atomic_path(path) as tmp:
        tmp.mkdir()
        save_safetensors_model(model, str(tmp / "model.safetensors"))
        if optimizer is not None:
            torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        state = {"step": step, "history": history, "fingerprint": fingerprint}
        (tmp / "state.json").write_text(json.dumps(state))
    LOG.info("checkpoint written at step %d to %s", step, path)


def load_checkpoint(path: Path, model, optimizer) -> tuple[int, list[dict]]:
    """Restore a checkpoint written by `save_checkpoint`; loads tensors only (weights_only=True)."""
    try:
        load_safetensors_model(model, str(path / "model.safetensors"))
        if optimizer is not None:
            optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    except (RuntimeError, ValueError, SafetensorError, pickle.UnpicklingError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise GenolmError(
            f"{path}: checkpoint does not fit the configured model ({first}); delete it to start afresh"
        ) from err
    state = json.loads((path / "state.json").read_text())
    return int(state["step"]), list(state["history"])


def checkpoint_fingerprint(path: Path) -> str | None:
    """The fingerprint a checkpoint was written with (None when unreadable)."""
    try:
        return json.loads((path / "state.json").read_text()).get("fingerprint")
    except (OSError, ValueError):
        return None


def _build(settings: PretrainSettings, tokenizer, limit: int):
    """A fresh model from the preset, or model.init_from checked against the tokenizer and window.

    A pair objective builds the family's pretraining class with two token types and one more position
    (the middle [SEP]).
    """
    pair = settings.pair_objective != "none"
    positions = limit + 1 if pair else limit
    if settings.init_from:
        model = load_model(settings.init_from, family=settings.family, pair_objective=settings.pair_objective)
        check_fits(model, tokenizer, positions, f"model.init_from {settings.init_from}")
        if pair and model.config.type_vocab_size < 2:
            raise GenolmError(
                f"model.init_from {settings.init_from}: type_vocab_size {model.config.type_vocab_size}; "
                "pretrain.pair_objective needs 2 token types (init from a pair-pretrained model)"
            )
        return model
    size = model_size(
        settings.preset,
        hidden_size=settings.hidden_size,
        num_layers=settings.num_layers,
        num_heads=settings.num_heads,
        intermediate_size=settings.intermediate_size,
    )
    config = build_config(
        settings.family, size, tokenizer, positions, dropout=settings.dropout, segments=2 if pair else 1
    )
    return build_model(config, settings.family, settings.pair_objective)


def _runtime(settings: PretrainSettings) -> _Runtime:
    """Rank and device of this process (torchrun sets RANK/LOCAL_RANK); bf16 autocast on capable GPUs."""
    world = world_size(settings)
    rank = dist.get_rank() if dist.is_initialized() else 0
    if world != (dist.get_world_size() if dist.is_initialized() else 1):
        raise GenolmError(f"pretrain: {world} processes configured but this run has a different world size")
    if settings.gpus > 0:
        if not torch.cuda.is_available():
            raise GenolmError(f"pretrain.gpus is {settings.gpus} but no CUDA GPU is visible to torch")
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
        bf16 = torch.cuda.is_bf16_supported()
        return _Runtime(rank, world, device, torch.bfloat16 if bf16 else None, settings.micro_batch_size)
    torch.set_num_threads(max(1, settings.threads // world))
    return _Runtime(rank, world, torch.device("cpu"), None, settings.micro_batch_size)


def _optimizer(model, settings: PretrainSettings, device: torch.device) -> torch.optim.Optimizer:
    """AdamW without decay on biases and norms; the fused kernel (CPU and CUDA) when available."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": settings.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    try:
        return torch.optim.AdamW(groups, lr=settings.lr, fused=True)
    except RuntimeError:  # a device without the fused kernel
        return torch.optim.AdamW(groups, lr=settings.lr, foreach=device.type == "cuda")


def pretrain(
    windows_dir: str | Path,
    tokenizer_dir: str | Path,
    model_dir: str | Path,
    log_csv: str | Path,
    metrics_json: str | Path,
    checkpoint_dir: str | Path,
    settings: PretrainSettings,
) -> dict:
    """Pretrain and export: in this process, or with torchrun when more than one process is configured."""
    kwargs = {
        "windows_dir": str(windows_dir),
        "tokenizer_dir": str(tokenizer_dir),
        "model_dir": str(model_dir),
        "log_csv": str(log_csv),
        "metrics_json": str(metrics_json),
        "checkpoint_dir": str(checkpoint_dir),
    }
    world = world_size(settings)
    check_pair(settings)
    if world > 1 and not dist.is_initialized():
        from genolm.train_ddp import launch  # the launcher imports this module in each worker

        return launch(kwargs, asdict(settings), world)
    return train(settings=settings, **kwargs)


def train(
    windows_dir: str | Path,
    tokenizer_dir: str | Path,
    model_dir: str | Path,
    log_csv: str | Path,
    metrics_json: str | Path,
    checkpoint_dir: str | Path,
    settings: PretrainSettings,
) -> dict:
    """The loop of one process (rank 0 of 1, or one torchrun worker); only rank 0 writes files."""
    rt = _runtime(settings)
    pair = check_pair(settings)
    torch.manual_seed(settings.seed)
    windows_dir, checkpoint_dir = Path(windows_dir), Path(checkpoint_dir)
    train_windows = np.load(windows_dir / "train.npy", mmap_mode="r")
    val = np.load(windows_dir / "val.npy", mmap_mode="r")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    objective_ = objective(settings.family)
    limit, span = max_tokens(tokenizer, train_windows.shape[1]), mask_span(tokenizer)
    model = _build(settings, tokenizer, limit).to(rt.device)
    n_params = count_parameters(model)
    if rt.rank == 0:
        LOG.info(
            "%s %s model, %d parameters, %d training windows, %d process(es) on %s%s",
            settings.family,
            objective_,
            n_params,
            len(train_windows),
            rt.world,
            rt.device,
            " with bf16 autocast" if rt.autocast else "",
        )
    optimizer = _optimizer(model, settings, rt.device)
    step, history = 0, []
    latest, best_dir = checkpoint_dir / "latest", checkpoint_dir / "best"
    fingerprint = run_fingerprint(settings, train_windows, val, tokenizer)
    if not latest.is_dir() and previous_path(latest).is_dir() and rt.rank == 0:
        os.replace(previous_path(latest), latest)  # killed while swapping checkpoints: take the last one
    if latest.is_dir() and checkpoint_fingerprint(latest) != fingerprint:
        if rt.rank == 0:
            LOG.warning("%s was written for other settings or data; starting afresh", latest)
            for stale in (latest, best_dir):
                shutil.rmtree(stale, ignore_errors=True)
        if rt.world > 1:
            dist.barrier()
    if latest.is_dir():
        step, history = load_checkpoint(latest, model, optimizer)
        LOG.info("resumed from %s at step %d", latest, step)
    loss_fn = LMLoss(model, objective_)
    if settings.compile:
        loss_fn.compile(dynamic=True)
    runner = loss_fn
    if rt.world > 1:
        ids = [rt.device.index] if rt.device.type == "cuda" else None
        runner = torch.nn.parallel.DistributedDataParallel(loss_fn, device_ids=ids)
    model.train()
    preemption = _Preemption()
    deadline = time.monotonic() + 60 * settings.max_minutes if settings.max_minutes else math.inf
    progress_every = max(1, min(settings.eval_every, settings.max_steps // 20))
    train_seconds, tokens_seen, first_step = 0.0, 0, step
    stop_reason = "max_steps"
    try:
        while step < settings.max_steps:
            tick = time.perf_counter()
            torch.manual_seed(settings.seed * 1_000_003 + step)
            generator = torch.Generator().manual_seed(settings.seed * 1_000_033 + step)
            rows = batch_indices(step, len(train_windows), settings.batch_size, settings.seed)
            if pair:
                rng = np.random.default_rng([settings.seed, step, 2])
                tensors = _pair_batch(tokenizer, train_windows, rows, settings, rng, generator, span)
            else:
                ids = tokenize_batch(tokenizer, train_windows[rows], limit)
                tensors = (ids, *corrupt(ids, tokenizer, objective_, settings.mask_prob, generator, span))
            ids, n_targets = tensors[0], int(tensors[2].sum())
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, settings)
            optimizer.zero_grad(set_to_none=True)
            # DDP averages gradients over processes, so each scales its summed losses by world / global count.
            scales = (rt.world / n_targets, rt.world * settings.pair_weight / len(ids))
            stats = _run_batch(
                runner, tensors, rt, tokenizer.pad_token_id, scales, runner if rt.world > 1 else None
            )
            flags = [float(preemption.requested), float(time.monotonic() > deadline)]
            *stats, preempted, out_of_time = _sum_across([*stats, *flags], rt)
            loss, accuracy = stats[0] / n_targets, stats[1] / n_targets
            pair_stats = (
                {"pair_loss": stats[2] / len(ids), "pair_accuracy": stats[3] / len(ids)} if pair else {}
            )
            total = loss + settings.pair_weight * pair_stats.get("pair_loss", 0.0)
            if not math.isfinite(total):
                raise GenolmError(f"pretrain: loss is {total} at step {step + 1}; lower pretrain.lr")
            grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm))
            if not math.isfinite(grad_norm):
                raise GenolmError(
                    f"pretrain: gradient norm is {grad_norm} at step {step + 1}; lower pretrain.lr"
                )
            optimizer.step()
            step += 1
            train_seconds += time.perf_counter() - tick
            tokens_seen += int(ids.numel())
            history.append(
                {
                    "step": step,
                    "phase": "train",
                    "loss": loss,
                    "accuracy": accuracy,
                    "lr": lr_at(step - 1, settings),
                    "tokens_per_s": tokens_seen / train_seconds,
                    **pair_stats,
                }
            )
            if out_of_time and not preempted:
                stop_reason = "max_minutes"
            if step % settings.eval_every == 0 or step == settings.max_steps or stop_reason != "max_steps":
                metrics = evaluate(loss_fn, tokenizer, val, settings, limit, rt)
                history.append({"step": step, "phase": "val", **metrics})
                if settings.patience and rt.rank == 0 and _is_best(history):
                    save_checkpoint(best_dir, model, None, step, history, fingerprint)
                if settings.patience and _evals_since_best(history) >= settings.patience:
                    stop_reason = "patience"
            if rt.rank == 0 and (step % progress_every == 0 or step == settings.max_steps):
                _progress(step, settings.max_steps, history, train_seconds, step - first_step)
            if rt.rank == 0 and (step % settings.checkpoint_every == 0 or preempted):
                save_checkpoint(latest, model, optimizer, step, history, fingerprint)
            if preempted:
                raise GenolmError(
                    f"pretrain: stopped by SIGTERM at step {step}; rerun to resume from {latest}"
                )
            if stop_reason != "max_steps":
                LOG.info("stopping at step %d (%s)", step, stop_reason)
                break
    finally:
        preemption.restore()
    if rt.rank != 0:
        return {}
    vals = [h for h in history if h["phase"] == "val"]
    final = vals[-1]
    if settings.patience and best_dir.is_dir():
        best_step, _ = load_checkpoint(best_dir, model, None)
        final = next(h for h in vals if h["step"] == best_step)
    metrics = {
        "objective": objective_,
        "family": settings.family,
        "parameters": n_params,
        "steps": step,
        "exported_step": final["step"],
        "stop_reason": stop_reason,
        "processes": rt.world,
        "device": rt.device.type,
        "precision": "bf16-autocast" if rt.autocast else "fp32",
        "train_windows": int(len(train_windows)),
        "val_windows": int(len(val)),
        "settings": recorded_settings(settings),
        "val": {k: v for k, v in final.items() if k not in ("step", "phase")},
        "window": int(train_windows.shape[1]),
    }
    export_model(masked_lm_part(model) if pair else model, tokenizer, model_dir, metrics)
    write_log(history, log_csv)
    write_json(metrics_json, metrics)
    return metrics


def _is_best(history: list[dict]) -> bool:
    """Whether the last validation is the lowest so far."""
    losses = [h["loss"] for h in history if h["phase"] == "val"]
    return losses[-1] <= min(losses)


def _evals_since_best(history: list[dict]) -> int:
    """Validations since the lowest validation loss (0 when the last one is the best)."""
    losses = [h["loss"] for h in history if h["phase"] == "val"]
    return len(losses) - 1 - int(np.argmin(losses))


def _progress(step: int, total: int, history: list[dict], seconds: float, done: int) -> None:
    """One progress line: step, train/val loss, throughput and the time left at this pace."""
    train = next(h for h in reversed(history) if h["phase"] == "train")
    val = next((h for h in reversed(history) if h["phase"] == "val"), None)
    eta = seconds / max(1, done) * (total - step)
    LOG.info(
        "step %d/%d (%.0f%%) loss %.4f%s lr %.2e %.0f tokens/s, ~%.0f s left",
        step,
        total,
        100 * step / total,
        train["loss"],
        f" val {val['loss']:.4f}" if val else "",
        train["lr"],
        train["tokens_per_s"],
        eta,
    )


def write_log(history: list[dict], path: str | Path) -> None:
    """Write the per-step log as CSV (one row per train step and per validation)."""
    fields = ["step", "phase", "loss", "accuracy", "perplexity", "bits_per_base", "lr", "tokens_per_s"]
    fields += [f for f in ("pair_loss", "pair_accuracy") if any(f in row for row in history)]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in history:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def export_model(model, tokenizer, model_dir: str | Path, metrics: dict) -> None:
    """save_pretrained (safetensors) + tokenizer + a model card, renamed into place as a whole."""
    with atomic_path(model_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_text(tmp / "README.md", model_card(metrics))
        write_json(tmp / "genolm.json", {"window": metrics["window"], "objective": metrics["objective"]})


def model_card(metrics: dict) -> str:
    """A short model card: what was trained on what, and how well."""
    s, v = metrics["settings"], metrics["val"]
    lines = [
        "---",
        "library_name: transformers",
        "tags: [genomics, dna, genolm]",
        "---",
        f"# GenoLM {metrics['family']} ({metrics['objective'].upper()})",
        "",
        f"- Parameters: {metrics['parameters']:,}",
        f"- Steps: {metrics['steps']} x batch {s['batch_size']} ({metrics['train_windows']} windows)",
        f"- Validation: loss {v['loss']:.4f}, perplexity {v['perplexity']:.3f}, accuracy {v['accuracy']:.3f}",
        *(
            [
                f"- Pair objective: {s['pair_objective']} (weight {s['pair_weight']}), validation pair "
                f"accuracy {v['pair_accuracy']:.3f}; the pair head is not exported (masked-LM weights only)"
            ]
            if "pair_objective" in s
            else []
        ),
        "",
        "Load with `AutoModelForMaskedLM` (or `AutoModelForCausalLM`) and `AutoTokenizer` from here.",
    ]
    return "\n".join(lines) + "\n"
