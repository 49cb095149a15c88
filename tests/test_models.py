"""Model building: every family from presets, the sparse MLM head, and one-line refusals."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

from genolm.errors import GenolmError
from genolm.models import (
    CAUSAL_FAMILIES,
    MLM_FAMILIES,
    PAIR_FAMILIES,
    build_config,
    build_model,
    check_fits,
    count_parameters,
    family_of,
    load_model,
    masked_lm_part,
    mlm_logits,
    model_size,
    objective,
    pair_logits,
)
from genolm.tokenizers import build_tokenizer

TINY = model_size("tiny")


@pytest.fixture(scope="module")
def char():
    return build_tokenizer("char")


def _ids(tokenizer, n=2, length=20):
    body = torch.randint(len(tokenizer.all_special_ids), len(tokenizer), (n, length))
    cls = torch.full((n, 1), tokenizer.cls_token_id)
    sep = torch.full((n, 1), tokenizer.sep_token_id)
    return torch.cat([cls, body, sep], 1)


@pytest.mark.parametrize("family", MLM_FAMILIES + CAUSAL_FAMILIES)
def test_every_family_builds_saves_and_reloads(family, char, tmp_path):
    model = build_model(build_config(family, TINY, char, 64, dropout=0.0), family).eval()
    assert family_of(model.config.model_type) == family
    assert model.get_input_embeddings().num_embeddings == len(char)
    ids = _ids(char)
    logits = model(input_ids=ids).logits
    assert logits.shape == (*ids.shape, len(char))
    model.save_pretrained(tmp_path, safe_serialization=True)
    auto = AutoModelForMaskedLM if objective(family) == "mlm" else AutoModelForCausalLM
    again = auto.from_pretrained(tmp_path, local_files_only=True).eval()
    torch.testing.assert_close(again(input_ids=ids).logits, logits)
    assert type(load_model(tmp_path)) is type(model)


@pytest.mark.parametrize("family", MLM_FAMILIES)
def test_sparse_mlm_head_equals_the_full_head(family, char):
    model = build_model(build_config(family, TINY, char, 64, dropout=0.0), family).eval()
    ids = _ids(char)
    chosen = torch.rand(ids.shape, generator=torch.Generator().manual_seed(0)) < 0.3
    hidden = model.base_model(input_ids=ids).last_hidden_state
    torch.testing.assert_close(mlm_logits(model, hidden[chosen]), model(input_ids=ids).logits[chosen])


def test_presets_grow_and_overrides_apply(char):
    counts = [
        count_parameters(build_model(build_config("bert", model_size(p), char, 514), "bert"))
        for p in ("tiny", "small", "base")
    ]
    assert counts == sorted(counts) and counts[0] < 200_000 < counts[1] < 5_000_000 < counts[2]
    assert model_size("small", num_layers=2, hidden_size=None)["num_layers"] == 2


def test_rope_families_need_no_position_table(char):
    config = build_config("modernbert", TINY, char, 16)
    model = build_model(config, "modernbert").eval()
    assert model(input_ids=_ids(char, length=40)).logits.shape[1] == 42  # rotary: longer than configured
    check_fits(model, char, 1000, "x")  # so no positions check


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda t: model_size("tiny", hidden_size=66), "hidden_size 66 is not divisible by num_heads 4"),
        (lambda t: model_size("huge"), "model.preset: got 'huge'"),
        (lambda t: build_config("t5", TINY, t, 10), "model.family: got 't5'"),
    ],
)
def test_bad_sizes_and_families(call, match, char):
    with pytest.raises(GenolmError, match=match):
        call(char)


def test_check_fits_refuses_small_vocabulary_and_positions(char):
    kmer = build_tokenizer("kmer_overlap", k=3)
    model = build_model(build_config("bert", TINY, char, 66), "bert")
    with pytest.raises(
        GenolmError, match=rf"init: vocabulary 10 is smaller than the tokenizer \({len(kmer)}\)"
    ):
        check_fits(model, kmer, 66, "init")
    with pytest.raises(GenolmError, match="init: 66 positions, fewer than the 130 tokens of one window"):
        check_fits(model, char, 130, "init")
    check_fits(model, char, 66, "init")
    roberta = build_model(build_config("roberta", TINY, char, 66), "roberta")
    check_fits(roberta, char, 66, "init")
    with pytest.raises(GenolmError, match="66 positions, fewer than the 67"):
        check_fits(roberta, char, 67, "init")


def test_load_model_refuses_other_architectures_and_pickles(char, tmp_path):
    model = build_model(build_config("gpt2", TINY, char, 66), "gpt2")
    model.save_pretrained(tmp_path / "gpt2", safe_serialization=True)
    with pytest.raises(GenolmError, match="holds a gpt2 model, expected bert"):
        load_model(tmp_path / "gpt2", family="bert")
    pickled = tmp_path / "pickled"
    model.config.save_pretrained(pickled)
    torch.save(model.state_dict(), pickled / "pytorch_model.bin")
    with pytest.raises(GenolmError, match="no .safetensors weights"):
        load_model(pickled, family="gpt2")
    with pytest.raises(GenolmError, match="not a model directory"):
        load_model(tmp_path / "absent")


def test_pair_model_heads_and_masked_lm_export(char, tmp_path):
    """BertForPreTraining's own heads drive the pair objective; its masked-LM part exports as a plain MLM."""
    model = build_model(build_config("bert", TINY, char, 64, dropout=0.0, segments=2), "bert", "adjacent")
    model.eval()
    assert type(model).__name__ == "BertForPreTraining" and model.config.type_vocab_size == 2
    ids = _ids(char)
    types = torch.zeros_like(ids)
    types[:, 12:] = 1
    full = model(input_ids=ids, token_type_ids=types)
    out = model.base_model(input_ids=ids, token_type_ids=types)
    chosen = torch.rand(ids.shape, generator=torch.Generator().manual_seed(0)) < 0.3
    torch.testing.assert_close(
        mlm_logits(model, out.last_hidden_state[chosen]), full.prediction_logits[chosen]
    )
    torch.testing.assert_close(pair_logits(model, out.pooler_output), full.seq_relationship_logits)
    mlm = masked_lm_part(model).eval()
    torch.testing.assert_close(mlm(input_ids=ids, token_type_ids=types).logits, full.prediction_logits)
    mlm.save_pretrained(tmp_path, safe_serialization=True)
    again = load_model(tmp_path)
    assert type(again).__name__ == "BertForMaskedLM"
    torch.testing.assert_close(again(input_ids=ids, token_type_ids=types).logits, full.prediction_logits)
    assert type(load_model(tmp_path, pair_objective="strand")).__name__ == "BertForPreTraining"


@pytest.mark.parametrize("family", [f for f in MLM_FAMILIES + CAUSAL_FAMILIES if f not in PAIR_FAMILIES])
def test_pair_objective_needs_a_family_with_a_pair_head(family, char):
    with pytest.raises(
        GenolmError, match=rf"pretrain.pair_objective 'adjacent' needs model.family bert .*got '{family}'"
    ):
        build_model(build_config(family, TINY, char, 64), family, "adjacent")
