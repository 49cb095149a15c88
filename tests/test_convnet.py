"""The convnet family: any window length, pads that never leak, Auto-class round trips, learning, heads."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch
from huggingface_hub.errors import StrictDataclassClassValidationError
from tiny_models import random_dna, tiny_model_dir

from genolm.errors import GenolmError
from genolm.inference import embed, load_pretrained
from genolm.interpret.variants import grad_x_input
from genolm.models import (
    CONVNET_PRESETS,
    IA3_FEEDFORWARD_MODULES,
    IA3_TARGET_MODULES,
    LORA_TARGET_MODULES,
    ConvNetConfig,
    ConvNetForMaskedLM,
    ConvNetForSequenceClassification,
    ConvNetModel,
    build_config,
    build_model,
    check_fits,
    count_parameters,
    load_model,
    match_lora_dilations,
    mlm_logits,
    model_size,
)
from genolm.tokenizers import build_tokenizer
from genolm.variants import zero_shot_llr

pytestmark = pytest.mark.unit

#: 16 wide, kernel 3, dilations 1, 2, 4: receptive field 1 + 2 * 7 = 15 tokens.
SMALL = {"vocab_size": 10, "hidden_size": 16, "num_hidden_layers": 3, "intermediate_size": 32}
SMALL_KW = {**SMALL, "kernel_size": 3, "dilation_max": 4, "hidden_dropout_prob": 0.0}


def _model(cls=ConvNetForMaskedLM, **extra):
    torch.manual_seed(0)
    return cls(ConvNetConfig(**SMALL_KW, **extra)).eval()


def _ids(n: int, length: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(5, 10, (n, length), generator=torch.Generator().manual_seed(seed))


def test_dilations_cycle_and_the_receptive_field_is_exact():
    config = ConvNetConfig(**SMALL_KW)
    assert ConvNetConfig(num_hidden_layers=8, dilation_max=8).dilations == [1, 2, 4, 8, 1, 2, 4, 8]
    assert ConvNetConfig(num_hidden_layers=4, dilation_max=6).dilations == [1, 2, 4, 6]
    assert config.dilations == [1, 2, 4] and config.receptive_field == 15
    model = ConvNetModel(config).eval()
    ids = _ids(1, 40)
    changed = ids.clone()
    changed[0, 20] = 5 if ids[0, 20] != 5 else 6
    with torch.no_grad():
        diff = (model(input_ids=ids).last_hidden_state - model(input_ids=changed).last_hidden_state).abs()
    moved = diff.amax(-1)[0] > 0
    # Position 20 reaches exactly the positions within (15 - 1) / 2 = 7 of it.
    assert moved.nonzero().flatten().tolist() == list(range(13, 28))


@pytest.mark.parametrize("length", [1, 7, 300])
def test_any_window_length(length):
    model = _model()
    with torch.no_grad():
        out = model(input_ids=_ids(2, length), output_hidden_states=True)
    assert out.logits.shape == (2, length, 10)
    assert len(out.hidden_states) == 4 and out.hidden_states[-1].shape == (2, length, 16)


def test_padding_does_not_leak_into_real_tokens():
    model = _model()
    ids = _ids(2, 30)
    mask = torch.ones_like(ids)
    mask[0, 18:] = 0
    other = ids.clone()
    other[0, 18:] = torch.randint(0, 10, (12,), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        a = model.convnet(input_ids=ids, attention_mask=mask).last_hidden_state
        b = model.convnet(input_ids=other, attention_mask=mask).last_hidden_state
        alone = model.convnet(input_ids=ids[:1, :18]).last_hidden_state
    torch.testing.assert_close(a[0, :18], b[0, :18], rtol=0, atol=0)
    torch.testing.assert_close(a[0, :18], alone[0])  # a padded row is the row run on its own
    assert not a[0, 18:].any()  # pads come out as zeros
    assert not torch.equal(a[0, :18], model.convnet(input_ids=other[:1]).last_hidden_state[0, :18])


def test_masked_lm_loss_counts_only_labelled_positions():
    model = _model()
    ids = _ids(2, 12)
    labels = torch.full_like(ids, -100)
    labels[0, 3], labels[1, 7] = 6, 9
    out = model(input_ids=ids, labels=labels)
    picked = out.logits[[0, 1], [3, 7]]
    expected = torch.nn.functional.cross_entropy(picked, torch.tensor([6, 9]))
    torch.testing.assert_close(out.loss, expected)
    hidden = model.base_model(input_ids=ids).last_hidden_state
    torch.testing.assert_close(mlm_logits(model, hidden[0, 3]), out.logits[0, 3])  # the sparse head


def test_masked_lm_learns_a_periodic_sequence():
    """Period-4 windows (5 6 7 8 at random phases): any masked token is given by its neighbours."""
    torch.manual_seed(0)
    model = ConvNetForMaskedLM(ConvNetConfig(**SMALL_KW)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(40):
        phase = torch.randint(0, 4, (16, 1), generator=gen)
        ids = 5 + (phase + torch.arange(32)) % 4
        chosen = torch.rand(ids.shape, generator=gen) < 0.15
        loss = model(input_ids=ids.masked_fill(chosen, 4), labels=ids.masked_fill(~chosen, -100)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[:5]) > 1.5 and np.mean(losses[-5:]) < 0.3


def test_sequence_classification_losses_follow_problem_type():
    ids = _ids(3, 20)
    mask = torch.ones_like(ids)
    mask[1, 12:] = 0
    single = _model(ConvNetForSequenceClassification, num_labels=3)
    out = single(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 2, 1]))
    assert single.config.problem_type == "single_label_classification" and out.logits.shape == (3, 3)
    torch.testing.assert_close(
        out.loss, torch.nn.functional.cross_entropy(out.logits, torch.tensor([0, 2, 1]))
    )
    alone = single(input_ids=ids[1:2, :12]).logits
    torch.testing.assert_close(out.logits[1], alone[0])  # the pooled mean skips pads
    multi = _model(ConvNetForSequenceClassification, num_labels=2)
    target = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    out = multi(input_ids=ids, labels=target)
    assert multi.config.problem_type == "multi_label_classification"
    torch.testing.assert_close(
        out.loss, torch.nn.functional.binary_cross_entropy_with_logits(out.logits, target)
    )
    regression = _model(ConvNetForSequenceClassification, num_labels=1)
    value = torch.tensor([0.5, -1.0, 2.0])
    out = regression(input_ids=ids, labels=value)
    assert regression.config.problem_type == "regression"
    torch.testing.assert_close(out.loss, torch.nn.functional.mse_loss(out.logits.squeeze(), value))


def test_saved_model_loads_through_auto_classes_in_a_fresh_process(tmp_path):
    model = _model()
    ids = _ids(2, 25)
    np.save(tmp_path / "ids.npy", ids.numpy())
    with torch.no_grad():
        np.save(tmp_path / "logits.npy", model(input_ids=ids).logits.numpy())
    model.save_pretrained(tmp_path / "model", safe_serialization=True)
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["config.json", "model.safetensors"]
    script = textwrap.dedent(
        f"""
        import numpy as np, torch
        import genolm.models
        from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM
        from transformers import AutoModelForSequenceClassification
        path = {str(tmp_path / "model")!r}
        ids = torch.from_numpy(np.load({str(tmp_path / "ids.npy")!r}))
        mlm = AutoModelForMaskedLM.from_pretrained(path, local_files_only=True).eval()
        assert type(mlm).__name__ == "ConvNetForMaskedLM", type(mlm)
        with torch.no_grad():
            expected = np.load({str(tmp_path / "logits.npy")!r})
            np.testing.assert_allclose(mlm(input_ids=ids).logits.numpy(), expected, rtol=1e-5, atol=1e-6)
            base = AutoModel.from_pretrained(path, local_files_only=True).eval()
            torch.testing.assert_close(base(input_ids=ids).last_hidden_state,
                                       mlm.convnet(input_ids=ids).last_hidden_state)
        clf = AutoModelForSequenceClassification.from_pretrained(path, num_labels=4, local_files_only=True)
        assert type(clf).__name__ == "ConvNetForSequenceClassification" and clf.classifier.out_features == 4
        torch.testing.assert_close(clf.convnet.embed_tokens.weight, mlm.convnet.embed_tokens.weight)
        assert AutoConfig.from_pretrained(path).model_type == "genolm_convnet"
        print("ok")
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-2000:]


def test_presets_match_their_documented_sizes():
    """As CONVNET_PRESETS' doc says: 0.33 M, 3.4 M, 82 M parameters; receptive fields 505, 1009, 2017."""
    char = build_tokenizer("char")
    stated = {"tiny": (0.33e6, 505), "small": (3.4e6, 1009), "base": (82e6, 2017)}
    for preset, (params, field) in stated.items():
        config = build_config("convnet", model_size(preset, "convnet"), char, 514)
        n = count_parameters(build_model(config, "convnet"))
        assert abs(n - params) < 0.03 * params, (preset, n)
        assert config.receptive_field == field and config.kernel_size == 9
    assert model_size("tiny", "convnet", num_layers=3)["num_layers"] == 3
    assert set(CONVNET_PRESETS) == {"tiny", "small", "base"}


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda t: model_size("tiny", "convnet", num_heads=4), "model.num_heads: got 4, but convnet has no"),
        (lambda t: model_size("huge", "convnet"), "model.preset: got 'huge'"),
        (
            lambda t: build_config("convnet", model_size("tiny", "convnet"), t, 10, segments=2),
            "pretrain.pair_objective needs token-type",
        ),
        (
            lambda t: build_model(
                build_config("convnet", model_size("tiny", "convnet"), t, 10), "convnet", "strand"
            ),
            "pretrain.pair_objective 'strand' needs model.family bert .*got 'convnet'",
        ),
    ],
)
def test_one_line_errors(call, match):
    with pytest.raises(GenolmError, match=match):
        call(build_tokenizer("char"))


def test_config_refuses_an_even_kernel():
    with pytest.raises(StrictDataclassClassValidationError, match="kernel_size must be odd"):
        ConvNetConfig(kernel_size=4)


def test_any_window_fits_and_the_family_is_checked_on_load(tmp_path):
    char = build_tokenizer("char")
    model = build_model(build_config("convnet", SMALL | {"num_layers": 1}, char, 10), "convnet")
    check_fits(model, char, 100_000, "init")  # no positions to run out of
    model.save_pretrained(tmp_path, safe_serialization=True)
    assert type(load_model(tmp_path, family="convnet")) is ConvNetForMaskedLM
    with pytest.raises(GenolmError, match="holds a convnet model, expected bert"):
        load_model(tmp_path, family="bert")


def test_gradient_checkpointing_gives_the_same_gradients():
    ids = _ids(2, 24)
    grads = []
    for checkpointing in (False, True):
        model = _model().train()
        if checkpointing:
            model.activation_checkpointing_enable()
        model(input_ids=ids, labels=ids).loss.backward()
        grads.append(model.convnet.layers[0].conv.weight.grad)
    torch.testing.assert_close(grads[0], grads[1])


@pytest.mark.parametrize("method", ["lora", "ia3"])
def test_peft_adapters_target_convolutions_and_projections_and_merge(method):
    from peft import IA3Config, LoraConfig, get_peft_model

    encoder = _model().base_model
    if method == "lora":
        config = LoraConfig(r=4, lora_alpha=8, target_modules=LORA_TARGET_MODULES, init_lora_weights=False)
        wrapped_kinds = {"Conv1d", "Linear"}
    else:
        config = IA3Config(
            target_modules=IA3_TARGET_MODULES,
            feedforward_modules=IA3_FEEDFORWARD_MODULES,
            init_ia3_weights=False,
        )
        wrapped_kinds = {"Linear"}
    peft = get_peft_model(encoder, config)
    # Blocks 2 and 3 are dilated (2, 4): their LoRA branches need the base dilation (peft issue #3697).
    assert match_lora_dilations(peft) == (2 if method == "lora" else 0)
    wrapped = {type(m).__name__ for n, m in peft.named_modules() if n.endswith(tuple(config.target_modules))}
    assert wrapped == wrapped_kinds  # peft's own layer classes, one per target kind
    trainable = {n for n, p in peft.named_parameters() if p.requires_grad}
    assert trainable and all(f"{method}_" in n for n in trainable)
    ids = _ids(2, 20)
    with torch.no_grad():
        adapted = peft(input_ids=ids).last_hidden_state
        merged = peft.merge_and_unload()(input_ids=ids).last_hidden_state
    torch.testing.assert_close(adapted, merged, rtol=1e-4, atol=1e-5)
    assert isinstance(merged, torch.Tensor) and type(encoder.layers[0].conv) is torch.nn.Conv1d


def test_embeddings_and_zero_shot_scores_of_a_convnet_directory(tmp_path):
    pre = load_pretrained(tiny_model_dir(tmp_path / "m", family="convnet", window=32))
    assert pre.model.config.model_type == "genolm_convnet" and pre.objective == "mlm"
    seqs = random_dna(np.random.default_rng(0), 3, 32)
    seqs[1] = seqs[1][:20]
    together = embed(pre, seqs)
    alone = np.concatenate([embed(pre, [s]) for s in seqs])
    assert together.shape == (3, 16)
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)  # batching pads, pads do not leak
    windows = random_dna(np.random.default_rng(1), 4, 32)
    alts = [next(b for b in "ACGT" if b != w[10]) for w in windows]
    table = pd.DataFrame({"ref_window": windows, "offset": 10, "alt": alts})
    table["alt_window"] = [w[:10] + a + w[11:] for w, a in zip(windows, alts, strict=True)]
    llr = zero_shot_llr(pre, table)
    same = zero_shot_llr(pre, table.assign(alt_window=table["ref_window"]))
    assert llr.shape == (4,) and np.isfinite(llr).all() and np.abs(llr).max() > 0
    np.testing.assert_allclose(same, 0, atol=1e-6)  # ref against itself scores 0
    attribution = grad_x_input(pre, windows[0], 10, alts[0])
    assert attribution.shape == (32,) and np.isfinite(attribution).all()
    # One block of kernel 9: only bases within 4 of the masked variant can move its score.
    assert set(np.flatnonzero(attribution)) <= set(range(6, 15)) and np.abs(attribution).max() > 0


def test_pretraining_a_convnet_through_the_package_entry_point(tmp_path):
    """model: {family: convnet, preset: tiny} pretrains with MLM and exports a loadable masked LM."""
    from genolm.pretrain import PretrainSettings, train
    from genolm.tokenizers import save_tokenizer

    rng = np.random.default_rng(0)
    phases = rng.integers(0, 4, (80, 1))
    windows = ((phases + np.arange(48)) % 4).astype(np.uint8)  # ACGT repeats: masked bases are predictable
    (tmp_path / "windows").mkdir()
    np.save(tmp_path / "windows" / "train.npy", windows[:64])
    np.save(tmp_path / "windows" / "val.npy", windows[64:])
    save_tokenizer(tmp_path / "windows" / "train.npy", tmp_path / "tokenizer", kind="char", window=48)
    settings = PretrainSettings(
        family="convnet", max_steps=40, batch_size=16, lr=5e-3, warmup_steps=4, eval_every=40, eval_batches=1
    )
    out = tmp_path / "run"
    metrics = train(
        tmp_path / "windows",
        tmp_path / "tokenizer",
        out / "model",
        out / "log.csv",
        out / "metrics.json",
        out / "checkpoints",
        settings,
    )
    assert metrics["family"] == "convnet" and metrics["objective"] == "mlm"
    pre = load_pretrained(out / "model")
    assert type(pre.model) is ConvNetForMaskedLM and pre.window == 48
    char = build_tokenizer("char")
    tiny = build_model(build_config("convnet", model_size("tiny", "convnet"), char, 50), "convnet")
    assert metrics["val"]["accuracy"] > 0.9, metrics["val"]
    # The convnet preset, not the transformer one: genolm/pretrain/build.py passes family to model_size.
    assert metrics["parameters"] == count_parameters(pre.model) == count_parameters(tiny)
