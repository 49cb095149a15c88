"""Build transformers language models from a family name, a size preset and overrides (no hub)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    BertConfig,
    GPT2Config,
    LlamaConfig,
    ModernBertConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    RobertaConfig,
)

from genolm.errors import GenolmError

#: Masked-LM families (bidirectional) and causal-LM families (left-to-right). Positions are learned absolute
#: embeddings in bert, roberta and gpt2 and rotary (RoPE) in modernbert and llama; transformers 5 removed
#: BERT's relative variants, so the family is the position-embedding choice.
MLM_FAMILIES = ("bert", "roberta", "modernbert")
CAUSAL_FAMILIES = ("gpt2", "llama")
ABSOLUTE_POSITION_FAMILIES = ("bert", "roberta", "gpt2")
#: Families whose transformers pretraining class has a sentence-pair (next-sentence) head.
PAIR_FAMILIES = ("bert",)

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


def build_config(
    family: str,
    size: dict[str, int],
    tokenizer: PreTrainedTokenizerBase,
    max_tokens: int,
    dropout: float | None = None,
    segments: int = 1,
):
    """A transformers config for `family` whose vocabulary and positions fit `tokenizer` and `max_tokens`.

    `dropout` (None: the family's default) sets every dropout rate the family has; `segments` is the number
    of token-type embeddings of bert and roberta (2 for sentence-pair inputs).
    """
    vocab = len(tokenizer)
    common: dict[str, Any] = {"vocab_size": vocab, "pad_token_id": tokenizer.pad_token_id}
    h, n_layer, n_head, inter = (
        size[k] for k in ("hidden_size", "num_layers", "num_heads", "intermediate_size")
    )
    bert_like = {
        "hidden_size": h,
        "num_hidden_layers": n_layer,
        "num_attention_heads": n_head,
        "intermediate_size": inter,
        "type_vocab_size": segments,
        **common,
    }
    if dropout is not None:
        bert_like |= {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
    if family == "bert":
        return BertConfig(max_position_embeddings=max_tokens, **bert_like)
    if family == "roberta":
        # RoBERTa numbers positions from pad_token_id + 1, so it needs that many extra slots.
        return RobertaConfig(
            max_position_embeddings=max_tokens + tokenizer.pad_token_id + 1,
            bos_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.sep_token_id,
            **bert_like,
        )
    special = {"bos_token_id": tokenizer.cls_token_id, "eos_token_id": tokenizer.sep_token_id}
    if family == "modernbert":
        rates = (
            {}
            if dropout is None
            else dict.fromkeys(("attention_dropout", "embedding_dropout", "mlp_dropout"), dropout)
        )
        return ModernBertConfig(
            hidden_size=h,
            num_hidden_layers=n_layer,
            num_attention_heads=n_head,
            intermediate_size=inter,
            max_position_embeddings=max_tokens,
            cls_token_id=tokenizer.cls_token_id,
            sep_token_id=tokenizer.sep_token_id,
            **special,
            **rates,
            **common,
        )
    if family == "gpt2":
        rates = {} if dropout is None else dict.fromkeys(("resid_pdrop", "embd_pdrop", "attn_pdrop"), dropout)
        return GPT2Config(
            n_embd=h,
            n_layer=n_layer,
            n_head=n_head,
            n_inner=inter,
            n_positions=max_tokens,
            **special,
            **rates,
            **common,
        )
    if family == "llama":
        return LlamaConfig(
            hidden_size=h,
            num_hidden_layers=n_layer,
            num_attention_heads=n_head,
            intermediate_size=inter,
            max_position_embeddings=max_tokens,
            tie_word_embeddings=True,
            **({} if dropout is None else {"attention_dropout": dropout}),
            **special,
            **common,
        )
    objective(family)  # raises the one-line error for an unknown family
    raise AssertionError(family)


def check_fits(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, max_tokens: int, source: str
) -> None:
    """Refuse a model (e.g. from model.init_from) whose vocabulary or positions cannot hold the data."""
    config = model.config
    if config.vocab_size < len(tokenizer):
        raise GenolmError(
            f"{source}: vocabulary {config.vocab_size} is smaller than the tokenizer ({len(tokenizer)})"
        )
    if config.model_type in ABSOLUTE_POSITION_FAMILIES:
        positions = getattr(config, "max_position_embeddings", None) or config.n_positions
        if config.model_type == "roberta":
            positions -= config.pad_token_id + 1
        if positions < max_tokens:
            raise GenolmError(
                f"{source}: {positions} positions, fewer than the {max_tokens} tokens of one window"
            )


def check_pair_family(family: str, pair_objective: str) -> None:
    """Refuse a sentence-pair objective for a family whose transformers class has no next-sentence head."""
    if pair_objective != "none" and family not in PAIR_FAMILIES:
        raise GenolmError(
            f"pretrain.pair_objective {pair_objective!r} needs model.family {' or '.join(PAIR_FAMILIES)} "
            f"(the only family with a next-sentence head in transformers); got {family!r}"
        )


def _auto_class(family: str, pair_objective: str):
    check_pair_family(family, pair_objective)
    if pair_objective != "none":
        return AutoModelForPreTraining  # masked-LM head + next-sentence head (BertForPreTraining)
    return AutoModelForMaskedLM if objective(family) == "mlm" else AutoModelForCausalLM


def build_model(config, family: str, pair_objective: str = "none") -> PreTrainedModel:
    """A randomly initialised model with SDPA attention (plus a pair head for a pair objective)."""
    return _auto_class(family, pair_objective).from_config(config, attn_implementation="sdpa")


def load_model(
    path: str | Path,
    family: str | None = None,
    trust_remote_code: bool = False,
    pair_objective: str = "none",
) -> PreTrainedModel:
    """Load a local Hugging Face model directory (safetensors only; never a pickle).

    With a pair objective the pretraining class is loaded (a missing next-sentence head starts random).
    """
    path = Path(path)
    if not (path / "config.json").is_file():
        raise GenolmError(f"{path}: not a model directory (no config.json)")
    try:
        raw = json.loads((path / "config.json").read_text())
        if "auto_map" in raw and not trust_remote_code:
            # transformers would silently fall back to its built-in class for a known model_type.
            raise GenolmError(
                f"{path}/config.json: auto_map asks to run the model's own Python code; refused because "
                "trust_remote_code is off"
            )
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code, local_files_only=True)
    except (OSError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise GenolmError(f"{path}/config.json: not a loadable model config ({first})") from err
    family = family or config.model_type
    if config.model_type != family:
        raise GenolmError(f"{path}: holds a {config.model_type} model, expected {family}")
    auto = _auto_class(config.model_type, pair_objective)
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


def mlm_logits(model: PreTrainedModel, hidden: torch.Tensor) -> torch.Tensor:
    """The MLM head applied to `hidden` (masked positions only, which saves the vocabulary projection)."""
    if hasattr(model, "cls"):  # bert: BertOnlyMLMHead or BertPreTrainingHeads, both hold .predictions
        return model.cls.predictions(hidden)
    if hasattr(model, "decoder") and hasattr(model, "head"):  # modernbert
        return model.decoder(model.head(hidden))
    if hasattr(model, "lm_head"):  # roberta
        return model.lm_head(hidden)
    raise GenolmError(f"{type(model).__name__}: no masked-LM head found")


def pair_logits(model: PreTrainedModel, pooled: torch.Tensor) -> torch.Tensor:
    """The next-sentence head of a BertForPreTraining on the pooled [CLS] state: (n, 2) logits."""
    return model.cls.seq_relationship(pooled)


def masked_lm_part(model: PreTrainedModel) -> PreTrainedModel:
    """The masked-LM model inside a pretraining model (encoder + MLM head, no pooler or pair head).

    What is exported after sentence-pair pretraining, so the directory loads as AutoModelForMaskedLM with
    no unused weights, exactly like a plain masked-LM run.
    """
    mlm = AutoModelForMaskedLM.from_config(model.config, attn_implementation="sdpa")
    missing, _ = mlm.load_state_dict(model.state_dict(), strict=False)
    if missing:
        raise GenolmError(f"{type(model).__name__}: no weights for {missing[0]} of the masked-LM model")
    return mlm.to(next(model.parameters()).device)
