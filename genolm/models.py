"""Build transformers language models from a family name, a size preset and overrides (no hub)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    BertConfig,
    GPT2Config,
    LlamaConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    RobertaConfig,
)

from genolm.errors import GenolmError

#: Masked-LM families (bidirectional) and causal-LM families (left-to-right).
MLM_FAMILIES = ("bert", "roberta")
CAUSAL_FAMILIES = ("gpt2", "llama")

#: Size presets; parameter counts for a 10-token (single-nucleotide) vocabulary are in config/README.md.
PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "intermediate_size": 256},
    "small": {"hidden_size": 256, "num_layers": 4, "num_heads": 4, "intermediate_size": 1024},
    "base": {"hidden_size": 768, "num_layers": 12, "num_heads": 12, "intermediate_size": 3072},
}


def objective(family: str) -> str:
    """'mlm' or 'clm' for a model family."""
    if family in MLM_FAMILIES:
        return "mlm"
    if family in CAUSAL_FAMILIES:
        return "clm"
    raise GenolmError(
        f"model.family: got {family!r}, expected one of {', '.join(MLM_FAMILIES + CAUSAL_FAMILIES)}"
    )


def model_size(preset: str, **overrides: int | None) -> dict[str, int]:
    """The preset's sizes with any non-null overrides applied, checked for consistency."""
    if preset not in PRESETS:
        raise GenolmError(f"model.preset: got {preset!r}, expected one of {', '.join(PRESETS)}")
    size = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    if size["hidden_size"] % size["num_heads"]:
        raise GenolmError(
            f"model: hidden_size {size['hidden_size']} is not divisible by num_heads {size['num_heads']}"
        )
    return size


def build_config(family: str, size: dict[str, int], tokenizer: PreTrainedTokenizerBase, max_tokens: int):
    """A transformers config for `family` whose vocabulary and positions fit `tokenizer` and `max_tokens`."""
    vocab = len(tokenizer)
    common: dict[str, Any] = {"vocab_size": vocab, "pad_token_id": tokenizer.pad_token_id}
    h, n_layer, n_head, inter = (
        size[k] for k in ("hidden_size", "num_layers", "num_heads", "intermediate_size")
    )
    if family == "bert":
        return BertConfig(
            hidden_size=h,
            num_hidden_layers=n_layer,
            num_attention_heads=n_head,
            intermediate_size=inter,
            max_position_embeddings=max_tokens,
            type_vocab_size=1,
            **common,
        )
    if family == "roberta":
        # RoBERTa numbers positions from pad_token_id + 1, so it needs that many extra slots.
        return RobertaConfig(
            hidden_size=h,
            num_hidden_layers=n_layer,
            num_attention_heads=n_head,
            intermediate_size=inter,
            max_position_embeddings=max_tokens + tokenizer.pad_token_id + 1,
            type_vocab_size=1,
            bos_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.sep_token_id,
            **common,
        )
    if family == "gpt2":
        return GPT2Config(
            n_embd=h,
            n_layer=n_layer,
            n_head=n_head,
            n_inner=inter,
            n_positions=max_tokens,
            bos_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.sep_token_id,
            **common,
        )
    if family == "llama":
        return LlamaConfig(
            hidden_size=h,
            num_hidden_layers=n_layer,
            num_attention_heads=n_head,
            intermediate_size=inter,
            max_position_embeddings=max_tokens,
            bos_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.sep_token_id,
            tie_word_embeddings=True,
            **common,
        )
    objective(family)  # raises the one-line error for an unknown family
    raise AssertionError(family)


def build_model(config, family: str) -> PreTrainedModel:
    """Instantiate a randomly initialised model with SDPA attention."""
    auto = AutoModelForMaskedLM if objective(family) == "mlm" else AutoModelForCausalLM
    return auto.from_config(config, attn_implementation="sdpa")


def load_model(
    path: str | Path, family: str | None = None, trust_remote_code: bool = False
) -> PreTrainedModel:
    """Load a local Hugging Face model directory (safetensors only; never a pickle)."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise GenolmError(f"{path}: not a model directory (no config.json)")
    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code, local_files_only=True)
    family = family or config.model_type
    auto = AutoModelForMaskedLM if objective(config.model_type) == "mlm" else AutoModelForCausalLM
    if config.model_type != family:
        raise GenolmError(f"{path}: holds a {config.model_type} model, expected {family}")
    if not any(path.glob("*.safetensors")):
        raise GenolmError(f"{path}: no .safetensors weights (pickled checkpoints are refused)")
    return auto.from_pretrained(
        path,
        use_safetensors=True,
        local_files_only=True,
        trust_remote_code=trust_remote_code,
        attn_implementation="sdpa",
    )


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def encoder(model: PreTrainedModel) -> torch.nn.Module:
    """The transformer body (no LM head) of a masked or causal LM."""
    return model.base_model


def mlm_head(model: PreTrainedModel) -> torch.nn.Module:
    """The MLM prediction head, so the loop can apply it to masked positions only."""
    for name in ("cls", "lm_head"):
        if hasattr(model, name):
            return getattr(model, name)
    raise GenolmError(f"{type(model).__name__}: no masked-LM head found")
