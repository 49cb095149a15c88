"""Build, load and take apart models: random init, safe local loading, the heads training uses."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from genolm.errors import GenolmError
from genolm.models.presets import (
    ABSOLUTE_POSITION_FAMILIES,
    CONV_FAMILIES,
    PAIR_FAMILIES,
    family_of,
    objective,
)


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


def _attention(family: str) -> dict[str, str]:
    """SDPA attention for transformer families; nothing for attention-free ones (which would refuse it)."""
    return {} if family in CONV_FAMILIES else {"attn_implementation": "sdpa"}


def build_model(config, family: str, pair_objective: str = "none") -> PreTrainedModel:
    """A randomly initialised model with SDPA attention (plus a pair head for a pair objective).

    `family` may also be a config.model_type (e.g. "genolm_convnet").
    """
    family = family_of(family)
    return _auto_class(family, pair_objective).from_config(config, **_attention(family))


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
    held = family_of(config.model_type)
    family = family or held
    if held != family:
        raise GenolmError(f"{path}: holds a {held} model, expected {family}")
    auto = _auto_class(held, pair_objective)
    if not any(path.glob("*.safetensors")):
        raise GenolmError(f"{path}: no .safetensors weights (pickled checkpoints are refused)")
    return auto.from_pretrained(
        path,
        use_safetensors=True,
        local_files_only=True,
        trust_remote_code=trust_remote_code,
        **_attention(held),
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
    if hasattr(model, "lm_head"):  # roberta, convnet
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
