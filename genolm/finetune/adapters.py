"""How each fine-tuning method wraps the pretrained encoder: as is, peft LoRA/IA3 adapters, a soft prompt."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers.modeling_outputs import BaseModelOutput

from genolm.errors import GenolmError
from genolm.finetune.settings import FinetuneSettings
from genolm.models.convnet import (
    IA3_FEEDFORWARD_MODULES,
    IA3_TARGET_MODULES,
    LORA_TARGET_MODULES,
    match_lora_dilations,
)
from genolm.names import GENE_MODEL_METHODS

#: LoRA targets: the attention projections of each family (module names from transformers' modeling files).
LORA_TARGETS = {
    "bert": ["query", "key", "value"],
    "roberta": ["query", "key", "value"],
    "gpt2": ["c_attn"],
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "genolm_convnet": LORA_TARGET_MODULES,  # its dilated convolutions and feed-forward projections
}
CONVNET = "genolm_convnet"


class PromptedEncoder(torch.nn.Module):
    """A frozen encoder behind a peft soft prompt: `num_virtual_tokens` learned embeddings are put before
    every window's tokens; only the real tokens' states come out, so pooling ignores the virtual ones.

    peft's own prompt-tuning forward drops position ids and so numbers the real tokens after the virtual
    ones (peft_model.py, `_adjust_prompt_learning_kwargs`): a full window would run past the position table
    of absolute-position families (window + 2 slots) and every token would sit at a position it was never
    pretrained at. Here the real tokens keep their usual positions and the virtual tokens all take the first
    one (0, or pad + 1 in roberta); the virtual tokens only act through attention. Prefix tuning is not
    offered for the same reason: peft shifts the position ids by the prefix length (and bert numbers
    positions after its cache length).
    """

    def __init__(self, peft_model: torch.nn.Module) -> None:
        super().__init__()
        self.peft = peft_model
        self.n_virtual = peft_model.active_peft_config.num_virtual_tokens
        config = peft_model.base_model.config
        self.first_position = config.pad_token_id + 1 if config.model_type == "roberta" else 0

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> BaseModelOutput:
        rows, length = input_ids.shape
        device = input_ids.device
        tokens = self.peft.word_embeddings(input_ids)
        embeds = torch.cat([self.peft.get_prompt(batch_size=rows).to(tokens.dtype), tokens], 1)
        mask = torch.cat([attention_mask.new_ones(rows, self.n_virtual), attention_mask], 1)
        positions = torch.cat(
            [
                torch.zeros(self.n_virtual, dtype=torch.long, device=device),
                torch.arange(length, device=device),
            ]
        )
        out = self.peft.base_model(
            inputs_embeds=embeds,
            attention_mask=mask,
            position_ids=(positions + self.first_position).expand(rows, -1),
        )
        return BaseModelOutput(last_hidden_state=out.last_hidden_state[:, self.n_virtual :])


def adapt_encoder(encoder: torch.nn.Module, method: str, settings: FinetuneSettings) -> torch.nn.Module:
    """The encoder as `method` trains it.

    Args:
        encoder: the pretrained base model.
        method: one of `GENE_MODEL_METHODS` other than `probe`.
        settings: LoRA rank/alpha and soft-prompt length.

    Returns:
        The encoder itself (`finetune_full`), or wrapped by peft with only the adapters (LoRA, IA3) or the
        soft prompt (a `PromptedEncoder`) trainable.

    Raises:
        GenolmError: an unknown method, or LoRA on a family without known targets.
    """
    if method == "finetune_full":
        return encoder
    from peft import IA3Config, LoraConfig, PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

    model_type = encoder.config.model_type
    if method == "finetune_prompt":
        if model_type == CONVNET:
            raise GenolmError(
                "gene_function.methods: finetune_prompt needs a transformer encoder (a soft prompt takes "
                "positions before the sequence); model.family convnet has none"
            )
        config = PromptTuningConfig(
            task_type=TaskType.FEATURE_EXTRACTION,
            num_virtual_tokens=settings.prompt_tokens,
            prompt_tuning_init=PromptTuningInit.SAMPLE_VOCAB,  # start inside the token embedding cloud
        )
        return PromptedEncoder(get_peft_model(encoder, config))

    if method == "finetune_lora":
        if model_type not in LORA_TARGETS:
            raise GenolmError(f"finetune_lora: no LoRA targets known for model type {model_type!r}")
        config = LoraConfig(
            r=settings.lora_rank,
            lora_alpha=settings.lora_alpha,
            lora_dropout=0.1,
            target_modules=LORA_TARGETS[model_type],
        )
    elif method == "finetune_ia3" and model_type == CONVNET:
        # peft's IA3 has no convolution layers: rescale the feed-forward projections only.
        config = IA3Config(target_modules=IA3_TARGET_MODULES, feedforward_modules=IA3_FEEDFORWARD_MODULES)
    elif method == "finetune_ia3":
        config = IA3Config()  # peft's per-family defaults: key/value and the feed-forward output
    else:
        raise GenolmError(
            f"gene_function method: got {method!r}, expected one of {', '.join(GENE_MODEL_METHODS)}"
        )
    adapted = get_peft_model(encoder, config)
    if method == "finetune_lora" and model_type == CONVNET:
        match_lora_dilations(adapted)  # peft 0.21 gives LoRA conv layers dilation 1 (see the function)
    return adapted


def load_prompt(encoder: torch.nn.Module, prompt_dir: Path, prompt_tokens: int) -> PromptedEncoder:
    """The saved soft prompt (a peft adapter directory) in front of `encoder`, frozen.

    Raises:
        GenolmError: the directory holds no loadable prompt, or one of another length than `prompt_tokens`.
    """
    from peft import PeftModel

    if not (prompt_dir / "adapter_model.safetensors").is_file():
        raise GenolmError(f"{prompt_dir}: no adapter_model.safetensors; expected the saved soft prompt")
    try:
        prompted = PromptedEncoder(PeftModel.from_pretrained(encoder, prompt_dir, is_trainable=False))
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise GenolmError(f"{prompt_dir}: not a loadable soft prompt ({type(err).__name__}: {err})") from None
    if prompted.n_virtual != prompt_tokens:
        raise GenolmError(
            f"{prompt_dir}: holds {prompted.n_virtual} virtual tokens, classifier.json says {prompt_tokens}"
        )
    return prompted
