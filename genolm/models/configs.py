"""transformers configs for each family from sizes, a tokenizer and the longest window in tokens."""

from __future__ import annotations

from typing import Any

from transformers import (
    BertConfig,
    GPT2Config,
    LlamaConfig,
    ModernBertConfig,
    PreTrainedConfig,
    PreTrainedTokenizerBase,
    RobertaConfig,
)

from genolm.errors import GenolmError
from genolm.models.convnet import ConvNetConfig
from genolm.models.presets import objective

#: `model_size`'s four sizes, in the order `_sizes` names them.
_SIZE_KEYS = ("hidden_size", "num_layers", "num_heads", "intermediate_size")
#: What most transformers configs call them (GPT-2 has its own names).
_HF_SIZE_NAMES = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")


def _rates(dropout: float | None, *keys: str) -> dict[str, float]:
    """{key: dropout} for every key, or nothing when dropout is None (the family's defaults)."""
    return {} if dropout is None else dict.fromkeys(keys, dropout)


def _special(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    return {"bos_token_id": tokenizer.cls_token_id, "eos_token_id": tokenizer.sep_token_id}


def _sizes(size: dict[str, int], names: tuple[str, ...] = _HF_SIZE_NAMES) -> dict[str, int]:
    """The four sizes under a config class's own keyword names."""
    return {name: size[key] for name, key in zip(names, _SIZE_KEYS, strict=True)}


def _bert_like(size: dict[str, int], common: dict[str, Any], segments: int, dropout: float | None) -> dict:
    return {
        **_sizes(size),
        "type_vocab_size": segments,
        **_rates(dropout, "hidden_dropout_prob", "attention_probs_dropout_prob"),
        **common,
    }


def _bert(size, tokenizer, max_tokens, common, dropout, segments) -> BertConfig:
    return BertConfig(max_position_embeddings=max_tokens, **_bert_like(size, common, segments, dropout))


def _roberta(size, tokenizer, max_tokens, common, dropout, segments) -> RobertaConfig:
    # RoBERTa numbers positions from pad_token_id + 1, so it needs that many extra slots.
    return RobertaConfig(
        max_position_embeddings=max_tokens + tokenizer.pad_token_id + 1,
        **_special(tokenizer),
        **_bert_like(size, common, segments, dropout),
    )


def _modernbert(size, tokenizer, max_tokens, common, dropout, segments) -> ModernBertConfig:
    return ModernBertConfig(
        **_sizes(size),
        max_position_embeddings=max_tokens,
        cls_token_id=tokenizer.cls_token_id,
        sep_token_id=tokenizer.sep_token_id,
        **_special(tokenizer),
        **_rates(dropout, "attention_dropout", "embedding_dropout", "mlp_dropout"),
        **common,
    )


def _gpt2(size, tokenizer, max_tokens, common, dropout, segments) -> GPT2Config:
    return GPT2Config(
        **_sizes(size, ("n_embd", "n_layer", "n_head", "n_inner")),
        n_positions=max_tokens,
        **_special(tokenizer),
        **_rates(dropout, "resid_pdrop", "embd_pdrop", "attn_pdrop"),
        **common,
    )


def _llama(size, tokenizer, max_tokens, common, dropout, segments) -> LlamaConfig:
    return LlamaConfig(
        **_sizes(size),
        max_position_embeddings=max_tokens,
        tie_word_embeddings=True,
        **_rates(dropout, "attention_dropout"),
        **_special(tokenizer),
        **common,
    )


def _convnet(size, tokenizer, max_tokens, common, dropout, segments) -> ConvNetConfig:
    """Positions do not exist, so `max_tokens` is unused; kernel and dilations default to the config's own
    when `size` does not give them (e.g. a transformer-style size dict)."""
    if segments != 1:
        raise GenolmError(
            "pretrain.pair_objective needs token-type (segment) embeddings, which model.family convnet lacks"
        )
    return ConvNetConfig(
        hidden_size=size["hidden_size"],
        num_hidden_layers=size["num_layers"],
        intermediate_size=size["intermediate_size"],
        **{k: size[k] for k in ("kernel_size", "dilation_max") if k in size},
        **_rates(dropout, "hidden_dropout_prob"),
        **common,
    )


_BUILDERS = {
    "bert": _bert,
    "roberta": _roberta,
    "modernbert": _modernbert,
    "gpt2": _gpt2,
    "llama": _llama,
    "convnet": _convnet,
}


def build_config(
    family: str,
    size: dict[str, int],
    tokenizer: PreTrainedTokenizerBase,
    max_tokens: int,
    dropout: float | None = None,
    segments: int = 1,
) -> PreTrainedConfig:
    """A transformers config for `family` whose vocabulary and positions fit `tokenizer` and `max_tokens`.

    Args:
        family: `model.family`.
        size: from `model_size` (hidden_size, num_layers, intermediate_size; num_heads for transformers;
            optionally kernel_size and dilation_max for convnet).
        tokenizer: gives the vocabulary size and special-token ids.
        max_tokens: the longest input in tokens (position slots; convnet has none).
        dropout: every dropout rate the family has (None: the family's defaults).
        segments: token-type embeddings of bert and roberta (2 for sentence-pair inputs).

    Returns:
        The family's config class, ready for `build_model`.

    Raises:
        GenolmError: an unknown family, or segments for a family without token types.
    """
    if family not in _BUILDERS:
        objective(family)  # raises the one-line error for an unknown family
    common: dict[str, Any] = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id}
    return _BUILDERS[family](size, tokenizer, max_tokens, common, dropout, segments)
