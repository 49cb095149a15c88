"""The knobs of one fine-tuning run, as the `gene_function.finetune` config section names them."""

from __future__ import annotations

from dataclasses import dataclass

#: Learning-rate schedules after the linear warm-up (transformers' `get_scheduler` names them).
SCHEDULES = ("linear", "cosine", "constant")


@dataclass(frozen=True)
class FinetuneSettings:
    """Settings of a fine-tuning or probe run; metrics.json records them all.

    Attributes:
        epochs: most passes over the train split (per learning rate of the grid).
        lr: AdamW peak learning rate of `finetune_full` and `random_init` (the probe is a logistic
            regression and uses none): the centre of the grid `lr_factors` spans.
        batch_size: genes per optimiser step, and per forward pass when predicting or embedding.
        max_chunks: windows pooled per gene (longer genes get this many spread windows).
        patience: epochs without a better validation macro-F1 before training stops.
        seed: first seed (a run with several seeds uses seed, seed + 1, ...).
        threads: torch CPU threads.
        lora_rank: LoRA rank r (`finetune_lora`).
        lora_alpha: LoRA scaling alpha (`finetune_lora`).
        adapter_lr: AdamW peak learning rate of the LoRA, IA3 and soft-prompt runs (centre of their grid).
        prompt_tokens: virtual tokens of the soft prompt (`finetune_prompt`).
        lr_factors: multiples of `lr` (or `adapter_lr`) tried; each is trained on train from the same
            start and seed, and the one with the best validation macro-F1 is kept (ties: the earlier).
        grid_rows: most train rows each grid point trains on (a seeded sample when the train split is
            larger; 0: all). On a larger split the chosen learning rate then trains once more on every
            train row, so a grid of n points costs about n x grid_rows + one full run, not n full runs.
        warmup_fraction: share of the optimiser steps (epochs x batches) over which the learning rate
            rises linearly from 0 to its peak.
        schedule: what the learning rate does after the warm-up, one of `SCHEDULES` (`linear` and
            `cosine` decay to 0 at the last step of `epochs`; `constant` stays at the peak).
        reverse_complement: train on each gene's reverse complement half the time (drawn per gene and
            epoch, seeded) and average the forward and reverse-complement predictions; the probe averages
            the two strands' embeddings instead. The workflow keeps it only for `csv:` benchmark tasks,
            whose rows come in an arbitrary orientation; annotation genes keep their coding strand, and a
            task whose label is the strand never gets it (`genolm.strand.reverse_complement_applies`).
    """

    epochs: int = 5
    lr: float = 5e-4
    batch_size: int = 16
    max_chunks: int = 8
    patience: int = 2
    seed: int = 42
    threads: int = 2
    lora_rank: int = 8
    lora_alpha: int = 16
    adapter_lr: float = 2e-3
    prompt_tokens: int = 16
    lr_factors: tuple[float, ...] = (0.3, 1.0, 3.0)
    grid_rows: int = 4096
    warmup_fraction: float = 0.1
    schedule: str = "linear"
    reverse_complement: bool = True

    def __post_init__(self) -> None:
        # A config gives a list; the frozen settings keep a tuple of floats.
        object.__setattr__(self, "lr_factors", tuple(float(f) for f in self.lr_factors))

    def learning_rates(self, method: str) -> list[float]:
        """The grid of peak learning rates `method` tries: `lr_factors` times `lr` (`finetune_full`,
        `random_init`) or `adapter_lr` (the peft methods)."""
        base = self.lr if method in ("finetune_full", "random_init") else self.adapter_lr
        return [base * factor for factor in self.lr_factors]
