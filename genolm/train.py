"""The pretraining loop: masked or causal LM, deterministic per step, resumable from checkpoints.

Every random choice at step `s` (which windows, which positions are masked, dropout) is derived
from `(seed, s)`, so a run resumed from a checkpoint at step `s` continues exactly as the
uninterrupted run would have, with no RNG state to carry.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_model as load_safetensors_model
from safetensors.torch import save_model as save_safetensors_model
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from genolm.atomic import atomic_path, write_json, write_text
from genolm.errors import GenolmError
from genolm.models import (
    build_config,
    build_model,
    count_parameters,
    load_model,
    mlm_head,
    model_size,
    objective,
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
    init_from: str | None = None
    max_steps: int = 1000
    batch_size: int = 32
    lr: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    mask_prob: float = 0.15
    eval_every: int = 200
    eval_batches: int = 20
    checkpoint_every: int = 200
    seed: int = 42
    threads: int = 2


def max_tokens(tokenizer: PreTrainedTokenizerBase, window: int) -> int:
    """Upper bound on the tokens of one window including [CLS] and [SEP]."""
    kind, k = tokenizer_kind(tokenizer)
    body = window - k + 1 if kind == "kmer_overlap" else window
    return body + 2


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
    ids: torch.Tensor, tokenizer: PreTrainedTokenizerBase, prob: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking (80% [MASK], 10% random, 10% kept) of `prob` of the non-special tokens.

    Returns the corrupted inputs and the boolean mask of positions that carry a loss.
    """
    special = ids < len(tokenizer.all_special_ids)
    selected = (torch.rand(ids.shape, generator=generator) < prob) & ~special
    if not selected.any():  # keep at least one target so the loss is defined
        candidates = (~special).nonzero()
        selected[tuple(candidates[torch.randint(len(candidates), (1,), generator=generator)][0])] = True
    inputs = ids.clone()
    roll = torch.rand(ids.shape, generator=generator)
    inputs[selected & (roll < 0.8)] = tokenizer.mask_token_id
    randomise = selected & (roll >= 0.8) & (roll < 0.9)
    n_special = len(tokenizer.all_special_ids)
    inputs[randomise] = torch.randint(n_special, len(tokenizer), (int(randomise.sum()),), generator=generator)
    return inputs, selected


def lm_loss(model, objective_: str, ids: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor | None):
    """Loss and (correct, count) of predictions: MLM on masked positions only, CLM on next tokens."""
    attention = (ids != model.config.pad_token_id).long()
    if objective_ == "mlm":
        hidden = model.base_model(input_ids=inputs, attention_mask=attention).last_hidden_state
        logits = mlm_head(model)(hidden[targets])
        labels = ids[targets]
    else:
        logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1][attention[:, 1:].bool()]
        labels = ids[:, 1:][attention[:, 1:].bool()]
    loss = torch.nn.functional.cross_entropy(logits.float(), labels)
    correct = (logits.argmax(-1) == labels).sum().item()
    return loss, correct, len(labels)


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


@torch.no_grad()
def evaluate(
    model, tokenizer, objective_: str, windows: np.ndarray, settings: PretrainSettings, limit: int
) -> dict:
    """Validation loss, perplexity and token accuracy with fixed masks (seeded), so runs compare."""
    model.eval()
    generator = torch.Generator().manual_seed(settings.seed + 7919)
    n = min(len(windows), settings.eval_batches * settings.batch_size)
    total_loss = total_correct = total_count = 0.0
    bases = 0
    for start in range(0, n, settings.batch_size):
        codes = windows[start : min(n, start + settings.batch_size)]
        ids = tokenize_batch(tokenizer, codes, limit)
        inputs, targets = mask_tokens(ids, tokenizer, settings.mask_prob, generator)
        loss, correct, count = lm_loss(
            model, objective_, ids, inputs, targets if objective_ == "mlm" else None
        )
        total_loss += loss.item() * count
        total_correct += correct
        total_count += count
        bases += codes.size
    model.train()
    mean = total_loss / total_count
    out = {"loss": mean, "perplexity": math.exp(min(mean, 50)), "accuracy": total_correct / total_count}
    if objective_ == "clm":
        out["bits_per_base"] = total_loss / bases / math.log(2)
    return out


class _Preemption:
    """Turns SIGTERM (SLURM's pre-emption notice) into a flag the loop checks between steps."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        self.requested = True

    def restore(self) -> None:
        signal.signal(signal.SIGTERM, self._previous)


def save_checkpoint(path: Path, model, optimizer, step: int, history: list[dict]) -> None:
    """Model (safetensors), optimizer state (tensors only) and position, renamed into place at once."""
    with atomic_path(path) as tmp:
        tmp.mkdir()
        save_safetensors_model(model, str(tmp / "model.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        (tmp / "state.json").write_text(json.dumps({"step": step, "history": history}))
    LOG.info("checkpoint written at step %d to %s", step, path)


def load_checkpoint(path: Path, model, optimizer) -> tuple[int, list[dict]]:
    """Restore a checkpoint written by `save_checkpoint`; loads tensors only (weights_only=True)."""
    load_safetensors_model(model, str(path / "model.safetensors"))
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    state = json.loads((path / "state.json").read_text())
    return int(state["step"]), list(state["history"])


def pretrain(
    windows_dir: str | Path,
    tokenizer_dir: str | Path,
    model_dir: str | Path,
    log_csv: str | Path,
    metrics_json: str | Path,
    checkpoint_dir: str | Path,
    settings: PretrainSettings,
) -> dict:
    """Pretrain, export a Hugging Face model directory, and write the loss log and final metrics."""
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    windows_dir, checkpoint_dir = Path(windows_dir), Path(checkpoint_dir)
    train = np.load(windows_dir / "train.npy", mmap_mode="r")
    val = np.load(windows_dir / "val.npy", mmap_mode="r")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    objective_ = objective(settings.family)
    limit = max_tokens(tokenizer, train.shape[1])
    if settings.init_from:
        model = load_model(settings.init_from, family=settings.family)
        if model.config.vocab_size != len(tokenizer):
            raise GenolmError(
                f"model.init_from {settings.init_from}: vocabulary {model.config.vocab_size} "
                f"does not match the tokenizer ({len(tokenizer)})"
            )
    else:
        size = model_size(
            settings.preset,
            hidden_size=settings.hidden_size,
            num_layers=settings.num_layers,
            num_heads=settings.num_heads,
            intermediate_size=settings.intermediate_size,
        )
        model = build_model(build_config(settings.family, size, tokenizer, limit), settings.family)
    n_params = count_parameters(model)
    LOG.info(
        "%s %s model, %d parameters, %d training windows", settings.family, objective_, n_params, len(train)
    )
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.lr,
    )
    step, history = 0, []
    latest = checkpoint_dir / "latest"
    if latest.is_dir():
        step, history = load_checkpoint(latest, model, optimizer)
        LOG.info("resumed from %s at step %d", latest, step)
    model.train()
    preemption = _Preemption()
    started, tokens_seen = time.perf_counter(), 0
    try:
        while step < settings.max_steps:
            torch.manual_seed(settings.seed * 1_000_003 + step)
            generator = torch.Generator().manual_seed(settings.seed * 1_000_033 + step)
            codes = train[batch_indices(step, len(train), settings.batch_size, settings.seed)]
            ids = tokenize_batch(tokenizer, codes, limit)
            inputs, targets = mask_tokens(ids, tokenizer, settings.mask_prob, generator)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, settings)
            loss, correct, count = lm_loss(
                model, objective_, ids, inputs, targets if objective_ == "mlm" else None
            )
            if not torch.isfinite(loss):
                raise GenolmError(f"pretrain: loss is {loss.item()} at step {step}; lower pretrain.lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
            optimizer.step()
            step += 1
            tokens_seen += int(ids.numel())
            elapsed = time.perf_counter() - started
            history.append(
                {
                    "step": step,
                    "phase": "train",
                    "loss": loss.item(),
                    "accuracy": correct / count,
                    "lr": lr_at(step - 1, settings),
                    "tokens_per_s": tokens_seen / elapsed,
                }
            )
            if step % settings.eval_every == 0 or step == settings.max_steps:
                metrics = evaluate(model, tokenizer, objective_, val, settings, limit)
                history.append({"step": step, "phase": "val", **metrics})
                LOG.info(
                    "step %d/%d train loss %.4f val loss %.4f acc %.3f (%.0f tokens/s)",
                    step,
                    settings.max_steps,
                    loss.item(),
                    metrics["loss"],
                    metrics["accuracy"],
                    tokens_seen / elapsed,
                )
            if step % settings.checkpoint_every == 0 or preemption.requested:
                save_checkpoint(latest, model, optimizer, step, history)
            if preemption.requested:
                raise GenolmError(
                    f"pretrain: stopped by SIGTERM at step {step}; rerun to resume from {latest}"
                )
    finally:
        preemption.restore()
    final = [h for h in history if h["phase"] == "val"][-1]
    metrics = {
        "objective": objective_,
        "family": settings.family,
        "parameters": n_params,
        "steps": step,
        "train_windows": int(len(train)),
        "val_windows": int(len(val)),
        "settings": asdict(settings),
        "val": {k: v for k, v in final.items() if k not in ("step", "phase")},
    }
    metrics["window"] = int(train.shape[1])
    export_model(model, tokenizer, model_dir, metrics)
    write_log(history, log_csv)
    write_json(metrics_json, metrics)
    return metrics


def write_log(history: list[dict], path: str | Path) -> None:
    """Write the per-step log as CSV (one row per train step and per validation)."""
    fields = ["step", "phase", "loss", "accuracy", "perplexity", "bits_per_base", "lr", "tokens_per_s"]
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
        "",
        "Load with `AutoModelForMaskedLM` (or `AutoModelForCausalLM`) and `AutoTokenizer` from here.",
    ]
    return "\n".join(lines) + "\n"
