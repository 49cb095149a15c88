"""Zero-shot variant scoring on tiny random models, one per tokenizer kind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from tiny_models import random_dna, tiny_model_dir
from transformers import AutoModelForMaskedLM, AutoTokenizer

from genolm.errors import GenolmError
from genolm.inference import load_pretrained
from genolm.sequence import reverse_complement
from genolm.variants import _covering_tokens, load_variant_table, score_variants, zero_shot_llr

WINDOW = 32
K = 3


@pytest.fixture(scope="module", params=["char", "kmer", "kmer_overlap", "bpe"])
def pre(request, tmp_path_factory):
    return load_pretrained(
        tiny_model_dir(tmp_path_factory.mktemp(request.param), kind=request.param, k=K, window=WINDOW)
    )


def _variants(n=6, seed=1):
    rng = np.random.default_rng(seed)
    windows = random_dna(rng, n, WINDOW)
    offsets = rng.integers(4, WINDOW - 4, n)
    alts = [next(b for b in "ACGT" if b != w[o]) for w, o in zip(windows, offsets, strict=True)]
    table = pd.DataFrame({"ref_window": windows, "offset": offsets, "alt": alts})
    table["alt_window"] = [w[:o] + a + w[o + 1 :] for w, o, a in zip(windows, offsets, alts, strict=True)]
    return table


def test_covering_tokens_hold_the_variant_base(pre):
    table = _variants()
    enc, covered = _covering_tokens(pre, table["ref_window"].tolist(), table["offset"].tolist())
    kind = pre.tokenizer.init_kwargs["genolm_kind"]
    counts = covered.sum(1).tolist()
    if kind == "kmer_overlap":
        assert counts == [K] * len(table)  # every interior base sits in k stride-1 k-mers
        for row, (w, o) in enumerate(zip(table["ref_window"], table["offset"], strict=True)):
            tokens = pre.tokenizer.convert_ids_to_tokens(enc["input_ids"][row][covered[row]])
            assert tokens == [w[j : j + K] for j in range(o - K + 1, o + 1)]
    else:
        assert all(c >= 1 for c in counts)
        for row, (w, o) in enumerate(zip(table["ref_window"], table["offset"], strict=True)):
            text = "".join(pre.tokenizer.convert_ids_to_tokens(enc["input_ids"][row][covered[row]]))
            lo = int(enc["offset_mapping"][row][covered[row]][0, 0])
            assert w[lo : lo + len(text)] == text and lo <= o < lo + len(text)
        if kind == "char":
            assert counts == [1] * len(table)


def test_zero_shot_is_finite_informative_and_antisymmetric(pre):
    table = _variants()
    llr = zero_shot_llr(pre, table, batch_size=4)
    assert llr.shape == (len(table),) and np.isfinite(llr).all()
    assert np.abs(llr).min() > 0  # the model sees a difference between the alleles
    swapped = table.rename(columns={"ref_window": "alt_window", "alt_window": "ref_window"})
    back = zero_shot_llr(pre, swapped, batch_size=4)
    if pre.tokenizer.init_kwargs["genolm_kind"] != "bpe":  # BPE may split ref and alt differently
        np.testing.assert_allclose(back, -llr, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["char", "kmer_overlap"])
def test_causal_zero_shot_uses_the_tokenizer_text(tmp_path, kind):
    pre = load_pretrained(tiny_model_dir(tmp_path, kind=kind, family="gpt2", k=K, window=WINDOW))
    table = _variants()
    llr = zero_shot_llr(pre, table)
    assert np.isfinite(llr).all() and np.abs(llr).min() > 0


@torch.no_grad()
def _reference_llr(model_dir, seq: str, pos: int, alt: str) -> float:
    """log p(alt) - log p(ref) at the masked variant base of a char model's window, both strands averaged.

    Written straight from transformers (one token per base after [CLS]), not through genolm, so that the
    CLI's scores are checked against an independent computation.
    """
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForMaskedLM.from_pretrained(model_dir).eval()
    window, offset = seq[pos - 1 - WINDOW // 2 : pos - 1 + WINDOW // 2], WINDOW // 2
    ref = window[offset]
    strands = []
    for text, at, r, a in (
        (window, offset, ref, alt),
        (reverse_complement(window), WINDOW - 1 - offset, reverse_complement(ref), reverse_complement(alt)),
    ):
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
        ids[0, at + 1] = tokenizer.mask_token_id
        logp = torch.log_softmax(model(input_ids=ids).logits[0, at + 1].float(), -1)
        strands.append(
            float(logp[tokenizer.convert_tokens_to_ids(a)] - logp[tokenizer.convert_tokens_to_ids(r)])
        )
    return float(np.mean(strands))


def test_cli_score_variants_scores_every_snv_in_the_vcf(tmp_path):
    from genolm.cli import main

    model = tiny_model_dir(tmp_path / "model", kind="char", window=WINDOW)
    seq = random_dna(np.random.default_rng(5), 1, 200)[0]
    (tmp_path / "g.fa").write_text(">chrT\n" + seq + "\n")
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chrT,length=200>",
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    for i, pos in enumerate((50, 120, 5, 100)):  # pos 5 is too close to the contig start for a 32-bp window
        ref = seq[pos - 1]
        lines.append(f"chrT\t{pos}\tv{i}\t{ref}\t{'A' if ref != 'A' else 'C'}\t.\t.\t.")
    lines.append(f"chrT\t150\tv9\t{seq[149]}CG\t{seq[149]}\t.\t.\t.")  # a deletion: not an SNV
    (tmp_path / "v.vcf").write_text("\n".join(lines) + "\n")
    out = tmp_path / "scores.tsv"
    rc = main(
        [
            "score-variants",
            "--model",
            str(model),
            "--vcf",
            str(tmp_path / "v.vcf"),
            "--genome",
            str(tmp_path / "g.fa"),
            "--window",
            str(WINDOW),
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    scores = pd.read_csv(out, sep="\t")
    assert scores["id"].tolist() == ["v0", "v1", "v3"]
    expected = [-_reference_llr(model, seq, p, a) for p, a in zip((50, 120, 100), scores["alt"], strict=True)]
    np.testing.assert_allclose(scores["score"], expected, atol=1e-5)
    assert (
        main(
            [
                "score-variants",
                "--model",
                str(tmp_path),
                "--vcf",
                str(tmp_path / "v.vcf"),
                "--genome",
                str(tmp_path / "g.fa"),
                "-o",
                str(out),
            ]
        )
        == 1
    )  # not a model directory


VARIANT_HEADER = "id\tcontig\tpos\tref\talt\tlabel\tgene\tconsequence\tsplit\tref_window\toffset\n"


def test_variant_table_reads_types_and_derives_the_alt_window(tmp_path):
    path = tmp_path / "v.tsv"
    path.write_text(VARIANT_HEADER + "v1\t1\t5\tC\tT\t1\t\tintergenic\ttest\tAACAA\t2\n")
    table = load_variant_table(path)
    assert table["pos"].tolist() == [5] and table["label"].tolist() == [1]
    assert table["contig"].tolist() == ["1"] and table["gene"].tolist() == [""]
    assert table["alt_window"].tolist() == ["AATAA"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("v1\t1\t5\tC\tT\t2\t\t\ttest\tAACAA\t2\n", "v.tsv:2: label is 2, expected 0 or 1"),
        (
            "v1\t1\tfive\tC\tT\t1\t\t\ttest\tAACAA\t2\n",
            "v.tsv:2: column 'pos' is 'five', expected an integer",
        ),
        ("v1\t1\t5\tC\tT\t1\t\t\t\tAACAA\t2\n", "v.tsv:2: column 'split' is '', expected a value"),
    ],
)
def test_bad_variant_table_is_one_line_naming_file_and_line(tmp_path, row, message):
    path = tmp_path / "v.tsv"
    path.write_text(VARIANT_HEADER + row)
    with pytest.raises(GenolmError) as err:
        load_variant_table(path)
    assert str(err.value).endswith(message) and "\n" not in str(err.value)


def _annotated_variants(path, n_per_split=(60, 30, 40)):
    """Variants whose label is their consequence (stop_gained pathogenic), with windows of WINDOW bases."""
    rng = np.random.default_rng(8)
    rows = []
    for split, n in zip(("train", "val", "test"), n_per_split, strict=True):
        for i in range(n):
            window = random_dna(rng, 1, WINDOW)[0]
            offset = WINDOW // 2
            alt = next(b for b in "ACGT" if b != window[offset])
            label = i % 2
            consequence = "stop_gained" if label else rng.choice(["synonymous", "missense"])
            rows.append(
                (
                    f"{split}{i}",
                    "c1",
                    i + 1,
                    window[offset],
                    alt,
                    label,
                    "g1",
                    consequence,
                    0.5,
                    split,
                    window,
                    offset,
                )
            )
    columns = VARIANT_HEADER.strip().split("\t")
    columns.insert(8, "gene_fraction")
    pd.DataFrame(rows, columns=columns).to_csv(path, sep="\t", index=False)
    return path


def test_supervised_random_init_and_combined(tmp_path):
    model = tiny_model_dir(tmp_path / "model", window=WINDOW)
    table = _annotated_variants(tmp_path / "v.tsv")
    out = {}
    for method in ("supervised", "supervised_random_init", "combined", "consequence"):
        out[method] = score_variants(
            table, method, tmp_path / f"{method}.tsv", tmp_path / f"{method}.json", model_dir=model, threads=1
        )
    control = out["supervised_random_init"]
    assert control["encoder"] == "re-initialised from the pretrained config (seed 42)"
    assert control["features"] == out["supervised"]["features"] == "embedding alt-ref, mean"
    scores = {m: pd.read_csv(tmp_path / f"{m}.tsv", sep="\t")["score"] for m in out}
    assert not np.allclose(scores["supervised"], scores["supervised_random_init"])
    combined = out["combined"]
    assert combined["features"] == "embedding alt-ref, mean; consequence one-hot, position in gene"
    assert (
        combined["metrics"]["auroc"]["value"] > 0.9 and out["consequence"]["metrics"]["auroc"]["value"] > 0.9
    )
    # Without consequence codes there is nothing to combine with: a one-line error.
    pd.read_csv(table, sep="\t").drop(columns=["consequence"]).to_csv(
        tmp_path / "bare.tsv", sep="\t", index=False
    )
    with pytest.raises(GenolmError, match="no 'consequence' column"):
        score_variants(
            tmp_path / "bare.tsv", "combined", tmp_path / "b.tsv", tmp_path / "b.json", model_dir=model
        )
