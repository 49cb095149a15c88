"""The knobs of one fine-tuning run, as the `gene_function.finetune` config section names them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FinetuneSettings:
    """Settings of a fine-tuning or probe run; metrics.json records them all.

    Attributes:
        epochs: most passes over the train split.
        lr: AdamW learning rate of `finetune_full` (the probe is a logistic regression and uses none).
        batch_size: genes per optimiser step, and per forward pass when predicting or embedding.
        max_chunks: windows pooled per gene (longer genes get this many spread windows).
        patience: epochs without a better validation macro-F1 before training stops.
        seed: first seed (a run with several seeds uses seed, seed + 1, ...).
        threads: torch CPU threads.
        lora_rank: LoRA rank r (`finetune_lora`).
        lora_alpha: LoRA scaling alpha (`finetune_lora`).
        adapter_lr: AdamW learning rate of the LoRA, IA3 and soft-prompt runs.
        prompt_tokens: virtual tokens of the soft prompt (`finetune_prompt`).
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
