"""The loss of a batch and its gradients, split over processes and micro-batches without changing them.

`pretrain.batch_size` is the global batch: each of `world` processes takes rows `rank::world` of the step's
batch and runs them in micro-batches, and the loss is the sum over the batch's target tokens divided by their
global count, so a step's gradient does not depend on how the batch is split (up to floating-point
summation order). With a pair objective the step's loss is MLM loss per masked token + pair_weight * pair
loss per window.
"""

from __future__ import annotations

import contextlib

import torch

from genolm.models import mlm_logits, pair_logits
from genolm.pretrain.batches import shard_chunks
from genolm.pretrain.runtime import Runtime


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


def attention_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor | None:
    """None when nothing is padded (equal-length windows), so attention takes its unmasked fast path."""
    pad = ids == pad_id
    return (~pad).long() if bool(pad.any()) else None


def run_batch(loss_fn, tensors, rt: Runtime, pad_id: int, scales: tuple | None, sync=None) -> list[float]:
    """Forward (and backward when `scales` are given) this process's rows of a batch.

    Args:
        loss_fn: an `LMLoss`, or the DDP module wrapping one.
        tensors: (ids, inputs, targets) plus (token types, pair labels) for a pair objective.
        rt: this process's runtime.
        pad_id: the tokenizer's padding id.
        scales: None for a forward pass only; else the backward pass runs loss * scales[0]
            (+ pair loss * scales[1]).
        sync: the DDP module, whose gradient all-reduce is skipped on all but the last micro-batch.

    Returns:
        Summed stats: [loss, correct] plus [pair loss, pair correct] for a pair objective.
    """
    totals: list[float] = []
    chunks = shard_chunks(len(tensors[0]), rt.rank, rt.world, rt.micro)
    for i, rows in enumerate(chunks):
        no_sync = sync is not None and i < len(chunks) - 1
        with sync.no_sync() if no_sync else contextlib.nullcontext():
            part = [t[rows].to(rt.device, non_blocking=True) for t in tensors]
            with rt.context():
                out = loss_fn(*part[:3], attention_mask(part[0], pad_id), *part[3:])
            if scales is not None:
                objective_ = out[0] * scales[0]
                if len(out) > 2:
                    objective_ = objective_ + out[2] * scales[1]
                objective_.backward()
        stats = [v.item() for v in out]
        totals = [a + b for a, b in zip(totals, stats, strict=True)] if totals else stats
    return totals
