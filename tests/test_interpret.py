"""Interpretation: ISM matrices agree with zero-shot scoring; gradient x input is the true derivative."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from tiny_models import random_dna, tiny_model_dir

from genolm.finetune import Classifier, PooledClassifier, save_classifier
from genolm.inference import chunk_batch, load_pretrained, tokenize
from genolm.interpret import classifier as interpret
from genolm.interpret.classifier import (
    classifier_attributions,
    classifier_ism,
    confident_correct,
    interpret_classifier,
    token_base_spans,
)
from genolm.interpret.common import BASES
from genolm.interpret.motifs import best_alignment, probabilities, read_jaspar
from genolm.interpret.variants import (
    forward_score,
    grad_x_input,
    interpret_variants,
    ism_matrix,
    masked_embeddings,
    supports_gradients,
)
from genolm.report import Run
from genolm.report.sections import interpretation_section
from genolm.variants import _masked_logprob, zero_shot_llr

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


def _check_report_section(results, task, npz, gradients: bool = True):
    """The report's heatmaps show exactly the ISM matrices (positions x bases) of the summary's variants,
    and a gradient x input line per variant where the model has gradients, else no such figure."""
    blocks = interpretation_section(Run(results))["blocks"]
    start = next(i for i, b in enumerate(blocks) if b["kind"] == "h3" and b["text"].endswith(f": {task}"))
    end = next((i for i, b in enumerate(blocks) if i > start and b["kind"] == "h3"), len(blocks))
    figures = [b["fig"] for b in blocks[start:end] if b["kind"] == "figure"]
    heatmaps = [t for t in figures[0].data if t.type == "heatmap"]
    assert len(heatmaps) == len(npz["ids"])
    for k, trace in enumerate(heatmaps):
        assert list(trace.y) == list(BASES) and list(trace.x) == npz["rel_pos"].tolist()
        np.testing.assert_allclose(np.asarray(trace.z, dtype=float), npz["scores"][k].T, atol=1e-6)
    if not gradients:
        assert len(figures) == 1
        return
    assert len(figures[1].data) == len(npz["ids"])  # one gradient x input line per variant


@pytest.mark.workflow
def test_demo_run_interprets_the_top_zero_shot_variants(demo_run):
    for task_dir in (p for p in (demo_run / "interpret").iterdir() if (p / "summary.json").is_file()):
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
        # Gradient x input where the model supports it (a char masked LM), else the reason recorded.
        skip = supports_gradients(load_pretrained(demo_run / "pretrain" / "model"))
        gradients = skip is None
        assert gradients or summary["gradients"] == skip
        assert (len(pd.read_csv(task_dir / "attributions.tsv", sep="\t")) > 0) is gradients
        _check_report_section(demo_run, task_dir.name, npz, gradients)


# --- fine-tuned classifiers --------------------------------------------------------------------------


def _classifier(path, kind, n_classes=3, max_chunks=3, window=WINDOW):
    """A PooledClassifier: tiny random encoder, seeded random head (what the finetune rule saves)."""
    pre = load_pretrained(tiny_model_dir(path, kind=kind, window=window))
    torch.manual_seed(1)
    module = PooledClassifier(pre.model.base_model, pre.model.config.hidden_size, n_classes)
    module.eval()
    return Classifier(module, pre, [f"c{i}" for i in range(n_classes)], "multiclass", max_chunks, 8)


@pytest.fixture(scope="module", params=["char", "kmer_overlap", "bpe"])
def clf(request, tmp_path_factory):
    return _classifier(tmp_path_factory.mktemp(f"clf_{request.param}"), request.param)


def _logits(clf, seqs):
    chunks, owner, _ = chunk_batch(seqs, clf.window, clf.max_chunks)
    with torch.no_grad():
        return clf.module(tokenize(clf.tokenizer, chunks), owner, len(seqs)).double().numpy()


def test_token_spans_cover_each_chunk(clf):
    chunk = _window(8)
    _, (spans,) = token_base_spans(clf.tokenizer, [chunk])
    kind = clf.tokenizer.init_kwargs["genolm_kind"]
    real = [(a, b) for a, b in spans if b > a]
    assert {i for a, b in real for i in range(a, b)} == set(range(WINDOW))
    if kind == "kmer_overlap":  # stride-1 k-mers: token j covers bases j..j+k-1
        k = clf.tokenizer.init_kwargs["genolm_k"]
        assert real == [(j, j + k) for j in range(WINDOW - k + 1)]
    else:  # char and BPE tokens tile the chunk and spell it
        assert real == sorted(real) and all(b == a2 for (_, b), (a2, _) in zip(real, real[1:], strict=False))


@pytest.mark.parametrize("length", [WINDOW - 5, 2 * WINDOW + 7])
def test_integrated_gradients_are_complete_per_base(clf, length):
    """Per-base attributions add up to logit(gene) - logit(all-[PAD] baseline), chunks and k-mers included."""
    seq = random_dna(np.random.default_rng(length), 1, length)[0]
    attr, delta = classifier_attributions(clf, seq, 1, n_steps=32)
    chunks, owner, _ = chunk_batch([seq], clf.window, clf.max_chunks)
    assert attr.shape == (length,) and np.isfinite(attr).all() and np.abs(attr).max() > 0
    enc, spans = token_base_spans(clf.tokenizer, chunks)
    base = torch.tensor([[b > a for a, b in row] for row in spans])
    ids = torch.where(base, torch.full_like(enc["input_ids"], clf.tokenizer.pad_token_id), enc["input_ids"])
    with torch.no_grad():
        logit = clf.module(enc, owner, 1)[0, 1].item()
        baseline = clf.module({**enc, "input_ids": ids}, owner, 1)[0, 1].item()
    assert attr.sum() == pytest.approx(logit - baseline, abs=1e-4)
    assert delta == pytest.approx(attr.sum() - (logit - baseline), abs=1e-6)


def test_genes_longer_than_the_chunks_have_nan_outside(tmp_path):
    clf = _classifier(tmp_path, "char", max_chunks=2)
    seq = random_dna(np.random.default_rng(2), 1, 5 * WINDOW)[0]
    attr, _ = classifier_attributions(clf, seq, 0, n_steps=4)
    assert np.isfinite(attr[:WINDOW]).all() and np.isfinite(attr[-WINDOW:]).all()
    assert np.isnan(attr[WINDOW:-WINDOW]).all()


def test_classifier_ism_is_the_log_probability_change(tmp_path):
    clf = _classifier(tmp_path, "char")
    seq = random_dna(np.random.default_rng(4), 1, 2 * WINDOW)[0]
    mat, lo = classifier_ism(clf, seq, 2, center=40, width=6)
    assert lo == 37 and mat.shape == (6, 4)
    base = np.log(clf.predict_proba([seq])[0, 2])
    for i in range(6):
        pos = lo + i
        for j, b in enumerate(BASES):
            mutant = seq[:pos] + b + seq[pos + 1 :]
            assert mat[i, j] == pytest.approx(np.log(clf.predict_proba([mutant])[0, 2]) - base, abs=1e-5)
        assert mat[i, BASES.index(seq[pos])] == 0
    _, lo = classifier_ism(clf, seq, 2, center=len(seq) - 1, width=6)
    assert lo == len(seq) - 6  # the window stays inside the gene


def test_confident_correct_picks_correct_genes_by_probability():
    table = pd.DataFrame({"id": list("abcdef"), "label": ["x", "x", "y", "y", "x", "y"]})
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.7, 0.3], [0.95, 0.05], [0.45, 0.55]])
    picked = confident_correct(table, proba, ["x", "y"], "multiclass", 2)
    assert [(table["id"][r], c) for r, c, _ in picked] == [("e", 0), ("a", 0), ("c", 1), ("f", 1)]
    multi = table.assign(label=["x;y", "x", "y", "y", "x", "x;y"])
    picked = confident_correct(multi, proba, ["x", "y"], "multilabel", 5)
    assert [(multi["id"][r], c) for r, c, _ in picked] == [("e", 0), ("a", 0), ("b", 0), ("c", 1), ("f", 1)]


PLANTED = "TGACTACA"  # not its own reverse complement, so the strand is testable
CNN_WINDOW = 64


class MotifCNN(torch.nn.Module):
    """A PooledClassifier-like module: one-hot word embeddings of a tiny encoder, a width-8 convolution,
    max over positions, mean over chunks, linear head. It learns a planted 8-mer in a few dozen steps,
    which the 1-layer test transformer does not (measured: chance accuracy after 30 epochs)."""

    def __init__(self, encoder, base_ids):
        super().__init__()
        self.encoder = encoder
        emb = encoder.get_input_embeddings()
        with torch.no_grad():
            emb.weight.zero_()
            emb.weight[base_ids, torch.arange(4)] = 1.0
        emb.weight.requires_grad_(False)
        self.conv = torch.nn.Conv1d(emb.weight.shape[1], 4, len(PLANTED))
        self.head = torch.nn.Linear(4, 2)

    def forward(self, batch, owner, n):
        x = self.encoder.get_input_embeddings()(batch["input_ids"]).transpose(1, 2)
        hidden = torch.relu(self.conv(x)).amax(-1)
        sums = torch.zeros(n, hidden.shape[1]).index_add_(0, owner, hidden)
        return self.head(sums / torch.bincount(owner, minlength=n).clamp(min=1).unsqueeze(1))


def _motif_data(seed, n):
    rng = np.random.default_rng(seed)
    seqs, y = random_dna(rng, n, CNN_WINDOW), np.arange(n) % 2
    for i in np.flatnonzero(y == 1):
        at = int(rng.integers(0, CNN_WINDOW - len(PLANTED)))
        seqs[i] = seqs[i][:at] + PLANTED + seqs[i][at + len(PLANTED) :]
    return seqs, y


@pytest.fixture(scope="module")
def motif_classifier(tmp_path_factory):
    """The CNN trained on sequences where class "motif" carries PLANTED at a random place."""
    pre = load_pretrained(tiny_model_dir(tmp_path_factory.mktemp("cnn"), kind="char", window=CNN_WINDOW))
    torch.manual_seed(0)
    module = MotifCNN(pre.model.base_model, pre.tokenizer.convert_tokens_to_ids(list(BASES)))
    clf = Classifier(module, pre, ["none", "motif"], "binary", 1, 64)
    seqs, y = _motif_data(0, 200)
    chunks, owner, _ = chunk_batch(seqs, CNN_WINDOW, 1)
    batch, target = tokenize(pre.tokenizer, chunks), torch.tensor(y)
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=0.05)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(module(batch, owner, len(seqs)), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    module.eval()
    return clf


def _jaspar(path, motifs):
    path.write_text(
        "".join(
            f">{mid} {mid}\n"
            + "".join(f"{b} [ {' '.join('20' if c == b else '0' for c in seq)} ]\n" for b in BASES)
            for mid, seq in motifs.items()
        )
    )
    return path


def test_attribution_motifs_recover_the_planted_motif(motif_classifier, tmp_path, monkeypatch):
    """End to end on files: attributions of the motif class's correct genes -> seqlets -> planted motif."""
    seqs, y = _motif_data(5, 40)
    accuracy = (motif_classifier.predict_proba(seqs).argmax(1) == y).mean()
    assert accuracy >= 0.8
    table = pd.DataFrame(
        {"id": [f"g{i}" for i in range(40)], "label": np.where(y == 1, "motif", "none"), "split": "test"}
    ).assign(sequence=seqs)
    table.to_csv(tmp_path / "genes.tsv", sep="\t", index=False)
    db = _jaspar(tmp_path / "db.jaspar", {"OTHER": "GGGCCCAA", "PLANTED": PLANTED, "ATRICH": "ATATATAT"})
    names = ["attr.tsv", "ism.tsv", "seqlets.tsv", "motifs.jaspar", "motifs.tsv", "summary.json"]
    out = [tmp_path / "out" / n for n in names]
    monkeypatch.setattr(interpret, "load_classifier", lambda _: motif_classifier)  # not a saved classifier
    summary = interpret_classifier(
        tmp_path / "genes.tsv", "cnn", *out, top_genes=15, ism_width=8, motif_database=db, seed=0
    )
    motifs = pd.read_csv(out[4], sep="\t")
    top = motifs[(motifs["class"] == "motif") & (motifs["sign"] == 1)].iloc[0]
    assert PLANTED[1:7] in top["consensus"] and top["n_seqlets"] >= 8
    assert top["best_match"] == "PLANTED" and top["match_score"] > 0.8 and top["p_value"] <= 0.05
    # The JASPAR file holds the same motifs, and its top one aligns with the planted motif.
    written = (tmp_path / "out" / "motifs.jaspar").read_text()
    assert written.count(">") == len(motifs)
    counts = dict(read_jaspar(out[3]))[top["motif"]]
    score, _, strand = best_alignment(
        probabilities(counts), probabilities(np.eye(4)[[BASES.index(b) for b in PLANTED]])
    )
    assert score > 0.8 and strand == "+"
    attr = pd.read_csv(out[0], sep="\t", dtype={"id": str})
    explained = [g["id"] for g in summary["genes"]]
    assert set(attr["id"]) == set(explained) and len(attr) == CNN_WINDOW * len(explained)
    ism = pd.read_csv(out[1], sep="\t")
    assert (
        len(ism) == 8 * 4 * len(explained)
        and (ism.loc[ism["ref_base"] == ism["alt_base"], "delta_log_p"] == 0).all()
    )


def test_interpret_classifier_on_a_saved_classifier(tmp_path):
    """The real load path: a saved PooledClassifier, no motif database (matches left empty)."""
    clf = _classifier(tmp_path / "enc", "char", n_classes=2)
    save_classifier(clf, tmp_path / "model", method="finetune_full", seed=1)
    seqs = random_dna(np.random.default_rng(9), 12, 50)
    proba = clf.predict_proba(seqs)
    table = pd.DataFrame({"id": [f"g{i}" for i in range(12)], "split": "test", "sequence": seqs})
    table["label"] = [f"c{i}" for i in proba.argmax(1)]  # every gene correct: top genes are the most probable
    table.loc[0, "split"] = "train"
    table.to_csv(tmp_path / "genes.tsv", sep="\t", index=False)
    names = ["attr.tsv", "ism.tsv", "seqlets.tsv", "motifs.jaspar", "motifs.tsv", "summary.json"]
    out = [tmp_path / "out" / n for n in names]
    summary = interpret_classifier(tmp_path / "genes.tsv", tmp_path / "model", *out, top_genes=2, ig_steps=8)
    test = table[table["split"] == "test"].reset_index(drop=True)
    expected = []
    for c in range(2):
        p = proba[1:, c][test["label"] == f"c{c}"]
        ids = test["id"][test["label"] == f"c{c}"]
        expected += ids.iloc[np.argsort(-p, kind="stable")[:2]].tolist()
    assert [g["id"] for g in summary["genes"]] == expected
    assert json.loads(out[5].read_text())["motif_database"] is None
    assert pd.read_csv(out[4], sep="\t")["best_match"].isna().all()


@pytest.mark.workflow
def test_demo_run_explains_the_fine_tuned_classifier(demo_run):
    """Each task's most confident correct test genes (per the finetune predictions.tsv) are explained."""
    task_dirs = sorted(p.parent for p in (demo_run / "interpret" / "genes").glob("*/*/summary.json"))
    assert task_dirs
    titles = [b["text"] for b in interpretation_section(Run(demo_run))["blocks"] if b["kind"] == "h3"]
    for task_dir in task_dirs:
        summary = json.loads((task_dir / "summary.json").read_text())
        pred = pd.read_csv(
            demo_run / "gene_function" / task_dir.parent.name / task_dir.name / "predictions.tsv",
            sep="\t",
            dtype={"id": str},
        )
        for cls in summary["classes"]:
            if summary["task_type"] == "multilabel":
                ok = pred[
                    pred["label"].str.split(";").map(lambda ls, c=cls: c in ls) & (pred[f"p_{cls}"] >= 0.5)
                ]
            else:
                ok = pred[(pred["label"] == cls) & (pred["prediction"] == cls)]
            top = ok.sort_values(f"p_{cls}", ascending=False).head(summary["top_genes"])
            explained = [g for g in summary["genes"] if g["class"] == cls]
            assert {g["id"] for g in explained} == set(top["id"])
            for g in explained:
                assert g["p"] == pytest.approx(top.set_index("id").loc[g["id"], f"p_{cls}"], abs=1e-4)
                assert abs(g["convergence_delta"]) < 0.05 * max(abs(g["attribution_sum"]), 0.1)
        attr = pd.read_csv(task_dir / "attributions.tsv", sep="\t", dtype={"id": str})
        assert (
            set(attr["id"]) == {g["id"] for g in summary["genes"]} and np.isfinite(attr["attribution"]).all()
        )
        motifs = pd.read_csv(task_dir / "motifs.tsv", sep="\t")
        assert (task_dir / "motifs.jaspar").read_text().count(">") == len(motifs)
        assert f"Classifier interpretation: {task_dir.parent.name} ({task_dir.name})" in titles
