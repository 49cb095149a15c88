"""A GPN-style dilated residual CNN masked language model as transformers classes (no remote code).

Each block adds two residual branches to the hidden states: a dilated 1-D convolution followed by GELU and
LayerNorm, then a pointwise feed-forward (Linear, GELU, Linear) followed by LayerNorm. Dilations cycle
1, 2, 4, ..., `dilation_max`, 1, 2, ... over the blocks, so the receptive field grows exponentially with
depth at a cost linear in the window. There is no positional encoding: a model takes windows of any length.
Padded positions are zeroed before every convolution, so a pad token never reaches its neighbours.

Importing this module registers the classes with AutoConfig, AutoModel, AutoModelForMaskedLM and
AutoModelForSequenceClassification under model type "genolm_convnet", so a saved directory loads with the
Auto classes and no trust_remote_code (import `genolm.models` first).
"""

from __future__ import annotations

import math

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from torch.nn.functional import gelu
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    PreTrainedConfig,
    PreTrainedModel,
)
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput, SequenceClassifierOutput

MODEL_TYPE = "genolm_convnet"
#: peft LoRA targets (module-name suffixes): every convolution and feed-forward projection of the blocks.
LORA_TARGET_MODULES = ["conv", "ffn_in", "ffn_out"]
#: peft IA3 targets: the feed-forward projections (peft 0.21 IA3 has no nn.Conv1d layer); IA3 scales the
#: input of `feedforward` modules and the output of the others.
IA3_TARGET_MODULES = ["ffn_in", "ffn_out"]
IA3_FEEDFORWARD_MODULES = ["ffn_out"]


@strict
class ConvNetConfig(PreTrainedConfig):
    """Sizes of a ConvNet masked LM; `dilations` and `receptive_field` follow from them."""

    model_type = MODEL_TYPE

    vocab_size: int = 10
    hidden_size: int = 64
    num_hidden_layers: int = 6
    intermediate_size: int = 128
    kernel_size: int = 9
    dilation_max: int = 32
    hidden_dropout_prob: float | int = 0.1
    classifier_dropout: float | int | None = None
    layer_norm_eps: float = 1e-5
    initializer_range: float = 0.02
    pad_token_id: int | None = 0

    def validate_architecture(self) -> None:
        """Part of `@strict` validation: an odd kernel (centred 'same' padding) and positive sizes."""
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {self.kernel_size}")
        for name in ("hidden_size", "num_hidden_layers", "intermediate_size", "dilation_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    @property
    def dilations(self) -> list[int]:
        """Dilation of each block: 1, 2, 4, ... up to dilation_max (capped at it), then again from 1."""
        cycle = [min(2**j, self.dilation_max) for j in range(math.ceil(math.log2(self.dilation_max)) + 1)]
        return [cycle[i % len(cycle)] for i in range(self.num_hidden_layers)]

    @property
    def receptive_field(self) -> int:
        """Tokens that can influence one output position: 1 + (kernel_size - 1) * sum of dilations."""
        return 1 + (self.kernel_size - 1) * sum(self.dilations)


class ConvNetBlock(GradientCheckpointingLayer):
    """Dilated convolution branch, then pointwise feed-forward branch, each residual and layer-normed."""

    def __init__(self, config: ConvNetConfig, dilation: int) -> None:
        super().__init__()
        width = config.hidden_size
        self.conv = nn.Conv1d(width, width, config.kernel_size, dilation=dilation, padding="same")
        self.conv_norm = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.ffn_in = nn.Linear(width, config.intermediate_size)
        self.ffn_out = nn.Linear(config.intermediate_size, width)
        self.ffn_norm = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        """`hidden` (batch, length, width); `keep` (batch, length, 1) is 1 at real tokens, 0 at pads."""
        inputs = hidden if keep is None else hidden * keep
        conv = self.conv(inputs.transpose(1, 2)).transpose(1, 2)
        hidden = hidden + self.dropout(self.conv_norm(gelu(conv)))
        return hidden + self.dropout(self.ffn_norm(self.ffn_out(gelu(self.ffn_in(hidden)))))


class ConvNetPreTrainedModel(PreTrainedModel):
    """Shared settings: transformers' default init (normal(0, initializer_range) for Linear, Conv1d and
    Embedding with a zero pad row; ones/zeros for LayerNorm) covers every parameter."""

    config_class = ConvNetConfig
    base_model_prefix = "convnet"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules = ["ConvNetBlock"]


class ConvNetModel(ConvNetPreTrainedModel):
    """Token embedding and the dilated blocks; returns the final hidden states (pads zeroed)."""

    def __init__(self, config: ConvNetConfig) -> None:
        super().__init__(config)
        self.embed_tokens = nn.Embedding(
            config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id
        )
        self.layers = nn.ModuleList(ConvNetBlock(config, d) for d in config.dilations)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutput:
        """Hidden states of a batch.

        Args:
            input_ids: (batch, length) token ids; or `inputs_embeds` (batch, length, hidden_size) instead.
            attention_mask: (batch, length), 1 at real tokens, 0 at pads (None: nothing is padded).
            inputs_embeds: embeddings in place of `input_ids` (gradient x input, integrated gradients).
            output_hidden_states: also return the embeddings and every block's output.
            return_dict: accepted for transformers callers; a ModelOutput is always returned.

        Returns:
            BaseModelOutput with last_hidden_state (batch, length, hidden_size), zero at pads.

        Raises:
            ValueError: neither or both of input_ids and inputs_embeds.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids and inputs_embeds")
        hidden = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        keep = None if attention_mask is None else attention_mask.unsqueeze(-1).to(hidden.dtype)
        states = [hidden] if output_hidden_states else None
        for layer in self.layers:
            hidden = layer(hidden, keep)
            if states is not None:
                states.append(hidden)
        if keep is not None:
            hidden = hidden * keep
        return BaseModelOutput(
            last_hidden_state=hidden, hidden_states=None if states is None else tuple(states)
        )


class ConvNetLMHead(nn.Module):
    """Per-position vocabulary logits: Linear, GELU, LayerNorm, Linear (as GPN's and BERT's MLM heads)."""

    def __init__(self, config: ConvNetConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.vocab = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.vocab(self.norm(gelu(self.dense(hidden))))


class _ConvNetWithHead(ConvNetPreTrainedModel):
    """ConvNetModel under a task head: the forward both heads share (encode, then the head's `_head`)."""

    def __init__(self, config: ConvNetConfig) -> None:
        super().__init__(config)
        self.convnet = ConvNetModel(config)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> MaskedLMOutput | SequenceClassifierOutput:
        """As `ConvNetModel.forward`, plus `labels`: the head's targets, which give the output's loss."""
        out = self.convnet(input_ids, attention_mask, inputs_embeds, output_hidden_states)
        return self._head(out, attention_mask, labels)

    def _head(
        self, out: BaseModelOutput, attention_mask: torch.Tensor | None, labels: torch.Tensor | None
    ) -> MaskedLMOutput | SequenceClassifierOutput:
        raise NotImplementedError


class ConvNetForMaskedLM(_ConvNetWithHead):
    """ConvNetModel + LM head; `labels` (-100 where no loss) give the mean masked-LM cross-entropy."""

    def __init__(self, config: ConvNetConfig) -> None:
        super().__init__(config)
        self.lm_head = ConvNetLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        """The vocabulary projection (transformers' default would return the whole head)."""
        return self.lm_head.vocab

    def _head(
        self, out: BaseModelOutput, attention_mask: torch.Tensor | None, labels: torch.Tensor | None
    ) -> MaskedLMOutput:
        logits = self.lm_head(out.last_hidden_state)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]).float(), labels.view(-1))
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)


def _masked_mean(hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    if attention_mask is None:
        return hidden.mean(1)
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)


class ConvNetForSequenceClassification(_ConvNetWithHead):
    """Mean over real tokens of the final states, dropout, linear head; loss by `config.problem_type`
    (inferred as transformers' classes do: 1 label regression, integer labels single-label, else
    multi-label)."""

    def __init__(self, config: ConvNetConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        rate = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.dropout = nn.Dropout(rate)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def _head(
        self, out: BaseModelOutput, attention_mask: torch.Tensor | None, labels: torch.Tensor | None
    ) -> SequenceClassifierOutput:
        logits = self.classifier(self.dropout(_masked_mean(out.last_hidden_state, attention_mask)))
        loss = None if labels is None else self._loss(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.config.problem_type is None:
            if self.num_labels == 1:
                self.config.problem_type = "regression"
            elif labels.dtype in (torch.long, torch.int):
                self.config.problem_type = "single_label_classification"
            else:
                self.config.problem_type = "multi_label_classification"
        if self.config.problem_type == "regression":
            if self.num_labels == 1:
                return nn.functional.mse_loss(logits.squeeze(), labels.squeeze().to(logits.dtype))
            return nn.functional.mse_loss(logits, labels.to(logits.dtype))
        if self.config.problem_type == "single_label_classification":
            return nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


def match_lora_dilations(model: nn.Module) -> int:
    """Give each peft LoRA branch of a dilated Conv1d its base layer's dilation, in place.

    peft 0.21 builds a convolution's LoRA `lora_A` without the base layer's dilation (peft issue #3697),
    so with 'same' padding the branch silently trains as an undilated convolution while merge_and_unload
    folds it in dilated. Call this right after get_peft_model. Returns how many branches were fixed.
    """
    fixed = 0
    for module in model.modules():
        base = getattr(module, "base_layer", None)
        if isinstance(base, nn.Conv1d) and isinstance(getattr(module, "lora_A", None), nn.ModuleDict):
            for branch in module.lora_A.values():
                if branch.dilation != base.dilation:
                    branch.dilation = base.dilation
                    fixed += 1
    return fixed


def register() -> None:
    """Make the Auto classes resolve model type "genolm_convnet" (idempotent)."""
    AutoConfig.register(MODEL_TYPE, ConvNetConfig, exist_ok=True)
    AutoModel.register(ConvNetConfig, ConvNetModel, exist_ok=True)
    AutoModelForMaskedLM.register(ConvNetConfig, ConvNetForMaskedLM, exist_ok=True)
    AutoModelForSequenceClassification.register(
        ConvNetConfig, ConvNetForSequenceClassification, exist_ok=True
    )


register()
