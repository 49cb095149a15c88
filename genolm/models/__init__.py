"""Build transformers language models from a family name, a size preset and overrides (no hub).

Importing this package registers genolm's own convnet family with the transformers Auto classes
(genolm/models/convnet.py), so every model directory the workflow writes loads without remote code.
"""

from genolm.models.configs import build_config
from genolm.models.convnet import (
    IA3_FEEDFORWARD_MODULES,
    IA3_TARGET_MODULES,
    LORA_TARGET_MODULES,
    ConvNetConfig,
    ConvNetForMaskedLM,
    ConvNetForSequenceClassification,
    ConvNetModel,
    match_lora_dilations,
)
from genolm.models.loading import (
    build_model,
    check_fits,
    check_pair_family,
    count_parameters,
    encoder,
    load_model,
    masked_lm_part,
    mlm_logits,
    pair_logits,
)
from genolm.models.presets import (
    ABSOLUTE_POSITION_FAMILIES,
    CAUSAL_FAMILIES,
    CONV_FAMILIES,
    CONVNET_PRESETS,
    MLM_FAMILIES,
    PAIR_FAMILIES,
    PRESETS,
    family_of,
    model_size,
    model_type,
    objective,
)

__all__ = [
    "ABSOLUTE_POSITION_FAMILIES",
    "CAUSAL_FAMILIES",
    "CONVNET_PRESETS",
    "CONV_FAMILIES",
    "IA3_FEEDFORWARD_MODULES",
    "IA3_TARGET_MODULES",
    "LORA_TARGET_MODULES",
    "MLM_FAMILIES",
    "PAIR_FAMILIES",
    "PRESETS",
    "ConvNetConfig",
    "ConvNetForMaskedLM",
    "ConvNetForSequenceClassification",
    "ConvNetModel",
    "build_config",
    "build_model",
    "check_fits",
    "check_pair_family",
    "count_parameters",
    "encoder",
    "family_of",
    "load_model",
    "match_lora_dilations",
    "masked_lm_part",
    "mlm_logits",
    "model_size",
    "model_type",
    "objective",
    "pair_logits",
]
