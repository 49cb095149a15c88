"""Interpretation: ISM matrices agree with zero-shot scoring; gradient x input is the true derivative."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from tiny_models import random_dna, tiny_model_dir  # noqa: E402

from genolm.inference import load_pretrained  # noqa: E402
from genolm.interpret import (  # noqa: E402
    BASES,
    forward_score,
    grad_x_input,
    interpret_variants,
    ism_matrix,
    masked_embeddings,
    supports_gradients,
)
from genolm.report import _interpretation  # noqa: E402
from genolm.variants import _masked_logprob, zero_shot_llr  # noqa: E402

WINDOW = 32
FLANK = 4


@pytest.fixture(scope="module", params=["char", "kmer_overlap"])
def pre(request, tmp_path_factory):
    return load_pretrained(
        tiny_model_dir(tmp_path_factory.mktemp(request.param), kind=request.param, window=WINDOW)
    )


@pytest.fixture(scope="module")
def char_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory.mktemp("char"), kind="char", window=WINDOW)


@pytest.fixture(scope="module")
def char_pre(char_dir):
    return load_pretrained(char_dir)


def _window(seed=3):
    return random_dna(np.random.default_rng(seed), 1, WINDOW)[0]


@pytest.mark.parametrize("offset", [2, 16])
def test_ism_matrix_matches_zero_shot_scores(pre, offset):
    window = _window()
    mat = ism_matrix(pre, window, offset, FLANK)
    assert mat.shape == (2 * FLANK + 1, len(BASES))
    for i, rel in enumerate(range(-FLANK, FLANK + 1)):
        pos = offset + rel
        if not 0 <= pos < WINDOW:
            assert np.isnan(mat[i]).all()  # outside the window
            continue
        ref = window[pos]
        assert mat[i, BASES.index(ref)] == 0.0
        others = [b for b in BASES if b != ref]
        assert np.isfinite(mat[i, [BASES.index(b) for b in others]]).all()
    # The variant's own entries equal genolm.variants' zero-shot score (minus the LLR) of that SNV alone.
    for alt in (b for b in BASES if b != window[offset]):
        table = pd.DataFrame(
            {
                "ref_window": [window],
                "offset": [offset],
                "alt": [alt],
                "alt_window": [window[:offset] + alt + window[offset + 1 :]],
            }
        )
        assert mat[FLANK, BASES.index(alt)] == pytest.approx(-zero_shot_llr(pre, table)[0], abs=1e-5)
    assert np.abs(np.nan_to_num(mat)).max() > 0  # a random model still distinguishes alleles


def test_gradient_target_is_the_forward_strand_zero_shot_score(char_pre):
    window, offset = _window(5), 12
    alt = next(b for b in BASES if b != window[offset])
    embeds, attention = masked_embeddings(char_pre, window, offset)
    with torch.no_grad():
        score = forward_score(char_pre, embeds, attention, offset, window[offset], alt).item()
    alt_window = window[:offset] + alt + window[offset + 1 :]
    expected = (
        _masked_logprob(char_pre, [window], [offset])[0]
        - _masked_logprob(char_pre, [alt_window], [offset])[0]
    )
    assert score == pytest.approx(expected, abs=1e-5)


def test_gradient_x_input_sums_to_the_directional_derivative(char_pre):
    """sum_i grad_i . x_i = d/da f(a x) at a = 1, checked against a central finite difference."""
    window, offset = _window(6), 20
    alt = next(b for b in BASES if b != window[offset])
    attr = grad_x_input(char_pre, window, offset, alt)
    assert attr.shape == (WINDOW,) and np.isfinite(attr).all() and np.abs(attr).max() > 0
    embeds, attention = masked_embeddings(char_pre, window, offset)
    # Only the base positions are attributed; scale those and keep [CLS]/[SEP] fixed.
    eps = 1e-2
    scaled = []
    for a in (1 + eps, 1 - eps):
        e = embeds.clone()
        e[0, 1 : WINDOW + 1] *= a
        with torch.no_grad():
            scaled.append(forward_score(char_pre, e, attention, offset, window[offset], alt).double().item())
    assert attr.sum() == pytest.approx((scaled[0] - scaled[1]) / (2 * eps), rel=2e-2, abs=1e-5)


def test_gradients_only_for_char_masked_lms(pre):
    reason = supports_gradients(pre)
    assert (reason is None) == (pre.tokenizer.init_kwargs["genolm_kind"] == "char")


def test_interpret_variants_writes_the_top_variants(char_dir, tmp_path):
    rng = np.random.default_rng(0)
    windows = random_dna(rng, 8, WINDOW)
    offset = WINDOW // 2
    alts = [next(b for b in BASES if b != w[offset]) for w in windows]
    table = pd.DataFrame(
        {
            "id": [f"v{i}" for i in range(8)],
            "contig": "c",
            "pos": np.arange(8) * 100,
            "ref": [w[offset] for w in windows],
            "alt": alts,
            "label": [0, 1] * 4,
            "split": ["test"] * 6 + ["train"] * 2,
            "ref_window": windows,
            "offset": offset,
        }
    )
    table.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    test = table[table["split"] == "test"]
    scores = test[["id", "contig", "pos", "ref", "alt"]].assign(score=rng.normal(size=6))
    scores.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    task_dir = tmp_path / "interpret" / "task"  # laid out as the workflow writes it, for the report below
    out = {name: task_dir / name for name in ("ism.tsv", "ism.npz", "attributions.tsv", "summary.json")}
    interpret_variants(
        tmp_path / "t.tsv",
        tmp_path / "s.tsv",
        char_dir,
        out["ism.tsv"],
        out["ism.npz"],
        out["attributions.tsv"],
        out["summary.json"],
        top_variants=3,
        flank=FLANK,
    )
    expected_ids = scores.sort_values("score", ascending=False)["id"].head(3).tolist()
    summary = json.loads(out["summary.json"].read_text())
    assert [v["id"] for v in summary["variants"]] == expected_ids
    npz = np.load(out["ism.npz"])
    assert npz["scores"].shape == (3, 2 * FLANK + 1, 4) and npz["ids"].tolist() == expected_ids
    ism = pd.read_csv(out["ism.tsv"], sep="\t")
    assert (
        len(ism) == 3 * (2 * FLANK + 1) * 4
        and (ism.loc[ism["ref_base"] == ism["alt_base"], "score"] == 0).all()
    )
    for k, v in enumerate(summary["variants"]):
        row = ism[(ism["id"] == v["id"]) & (ism["rel_pos"] == 0) & (ism["alt_base"] == v["alt"])]
        assert row["score"].item() == pytest.approx(v["ism_score"], abs=1e-5)
        assert npz["scores"][k, FLANK, BASES.index(v["alt"])] == pytest.approx(v["ism_score"], abs=1e-6)
    attr = pd.read_csv(out["attributions.tsv"], sep="\t")
    assert len(attr) == 3 * (2 * FLANK + 1) and np.isfinite(attr["grad_x_input"]).all()
    _check_report_section(tmp_path, "task", npz)


def _check_report_section(results, task, npz):
    """The report's heatmaps show exactly the ISM matrices (positions x bases) of the summary's variants."""
    blocks = _interpretation(results)["blocks"]
    start = next(i for i, b in enumerate(blocks) if b["kind"] == "h3" and b["text"].endswith(f": {task}"))
    figures = [b["fig"] for b in blocks[start:] if b["kind"] == "figure"]
    heatmaps = [t for t in figures[0].data if t.type == "heatmap"]
    assert len(heatmaps) == len(npz["ids"])
    for k, trace in enumerate(heatmaps):
        assert list(trace.y) == list(BASES) and list(trace.x) == npz["rel_pos"].tolist()
        np.testing.assert_allclose(np.asarray(trace.z, dtype=float), npz["scores"][k].T, atol=1e-6)
    assert len(figures[1].data) == len(npz["ids"])  # one gradient x input line per variant


def test_demo_run_interprets_the_top_zero_shot_variants(demo_run):
    for task_dir in (demo_run / "interpret").iterdir():
        summary = json.loads((task_dir / "summary.json").read_text())
        scores = pd.read_csv(
            demo_run / "disease_risk" / task_dir.name / "zeroshot" / "scores.tsv", sep="\t", dtype={"id": str}
        )
        top = scores.sort_values(["score", "id"], ascending=[False, True]).head(summary["top_variants"])
        assert [v["id"] for v in summary["variants"]] == top["id"].tolist()
        # ISM recomputes each variant's zero-shot score in a different batch: the same number (to rounding).
        for v in summary["variants"]:
            assert v["ism_score"] == pytest.approx(v["score"], abs=1e-4)
        npz = np.load(task_dir / "ism.npz")
        assert npz["scores"].shape == (len(top), 2 * summary["flank"] + 1, 4)
        assert len(pd.read_csv(task_dir / "attributions.tsv", sep="\t")) > 0
        _check_report_section(demo_run, task_dir.name, npz)
