"""Model families, their objectives and size presets (what `model.family` and `model.preset` name)."""

from __future__ import annotations

from genolm.errors import GenolmError
from genolm.models.convnet import MODEL_TYPE as CONVNET_MODEL_TYPE

#: Masked-LM families (bidirectional) and causal-LM families (left-to-right). Positions are learned absolute
#: embeddings in bert, roberta and gpt2 and rotary (RoPE) in modernbert and llama; transformers 5 removed
#: BERT's relative variants, so the family is the position-embedding choice. convnet (genolm's own dilated
#: CNN, see genolm/models/convnet.py) has no positions at all.
MLM_FAMILIES = ("bert", "roberta", "modernbert", "convnet")
CAUSAL_FAMILIES = ("gpt2", "llama")
ABSOLUTE_POSITION_FAMILIES = ("bert", "roberta", "gpt2")
#: Families whose transformers pretraining class has a sentence-pair (next-sentence) head.
PAIR_FAMILIES = ("bert",)
#: Families without attention, so without attention heads or an attention implementation to choose.
CONV_FAMILIES = ("convnet",)
#: Families whose config.model_type is not the family name (the rest use their family name).
_MODEL_TYPES = {"convnet": CONVNET_MODEL_TYPE}

#: Transformer size presets; parameter counts for a 10-token (single-nucleotide) vocabulary and 512-base
#: windows (bert): tiny 0.14 M, small 3.4 M, base 86 M (config/README.md).
PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "intermediate_size": 256},
    "small": {"hidden_size": 256, "num_layers": 4, "num_heads": 4, "intermediate_size": 1024},
    "base": {"hidden_size": 768, "num_layers": 12, "num_heads": 12, "intermediate_size": 3072},
}
#: convnet presets, about as large as the transformer presets (10-token vocabulary, any window):
#: tiny 0.33 M parameters, 6 blocks, receptive field 505 tokens (one dilation cycle 1..32);
#: small 3.4 M, 12 blocks, receptive field 1009; base 82 M, 24 blocks, receptive field 2017 (GPN's width
#: and depth). Kernel 9 throughout, as GPN.
CONVNET_PRESETS: dict[str, dict[str, int]] = {
    "tiny": {
        "hidden_size": 64,
        "num_layers": 6,
        "intermediate_size": 128,
        "kernel_size": 9,
        "dilation_max": 32,
    },
    "small": {
        "hidden_size": 128,
        "num_layers": 12,
        "intermediate_size": 512,
        "kernel_size": 9,
        "dilation_max": 32,
    },
    "base": {
        "hidden_size": 512,
        "num_layers": 24,
        "intermediate_size": 1024,
        "kernel_size": 9,
        "dilation_max": 32,
    },
}


def family_of(name: str) -> str:
    """The family of a config.model_type ("genolm_convnet" -> "convnet"); a family name is returned as is."""
    return next((family for family, type_ in _MODEL_TYPES.items() if type_ == name), name)


def model_type(family: str) -> str:
    """The config.model_type a family's models carry."""
    return _MODEL_TYPES.get(family, family)


def objective(family: str) -> str:
    """'mlm' or 'clm' for a model family (or its model type).

    Raises:
        GenolmError: for an unknown family, naming `model.family`.
    """
    family = family_of(family)
    if family in MLM_FAMILIES:
        return "mlm"
    if family in CAUSAL_FAMILIES:
        return "clm"
    raise GenolmError(
        f"model.family: got {family!r}, expected one of {', '.join(MLM_FAMILIES + CAUSAL_FAMILIES)}"
    )


def model_size(preset: str, family: str = "bert", **overrides: int | None) -> dict[str, int]:
    """The family's preset sizes with any non-null overrides applied, checked for consistency.

    Args:
        preset: `model.preset` (tiny, small, base).
        family: `model.family`; convnet has presets of its own (CONVNET_PRESETS), every transformer family
            shares PRESETS.
        overrides: hidden_size, num_layers, num_heads, intermediate_size (None: the preset's).

    Returns:
        The sizes build_config takes.

    Raises:
        GenolmError: an unknown preset, heads that do not divide the width, or heads for convnet.
    """
    presets = CONVNET_PRESETS if family_of(family) in CONV_FAMILIES else PRESETS
    if preset not in presets:
        raise GenolmError(f"model.preset: got {preset!r}, expected one of {', '.join(presets)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    if presets is CONVNET_PRESETS:
        if "num_heads" in given:
            raise GenolmError(
                f"model.num_heads: got {given['num_heads']}, but convnet has no attention heads"
            )
        return {**presets[preset], **given}
    size = {**presets[preset], **given}
    if size["hidden_size"] % size["num_heads"]:
        raise GenolmError(
            f"model: hidden_size {size['hidden_size']} is not divisible by num_heads {size['num_heads']}"
        )
    return size
