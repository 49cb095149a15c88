"""`genolm embed`: mean-pooled embeddings of FASTA records, as genolm.inference.embed computes them;
`genolm predict`: a saved gene-function classifier applied to FASTA records."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from tiny_models import random_dna, tiny_model_dir

from genolm.cli import main
from genolm.finetune import FinetuneSettings, run_finetune
from genolm.inference import embed, load_pretrained


def test_embed_npy_and_tsv_match_the_library(tmp_path):
    model = tiny_model_dir(tmp_path / "model", window=32)
    seqs = random_dna(np.random.default_rng(3), 3, 100)
    seqs[1] = seqs[1][:20]  # shorter than the window
    fasta = tmp_path / "x.fa"
    fasta.write_text(
        "".join(f">rec{i} description\n{s.lower() if i == 2 else s}\n" for i, s in enumerate(seqs))
    )
    expected = embed(load_pretrained(model), seqs, max_chunks=4)
    base = ["embed", "--model", str(model), "--fasta", str(fasta), "--max-chunks", "4", "-o"]
    assert main([*base, str(tmp_path / "e.npy")]) == 0
    matrix = np.load(tmp_path / "e.npy")
    assert matrix.shape == (3, 16) and matrix.dtype == np.float32
    np.testing.assert_allclose(matrix, expected, rtol=1e-5, atol=1e-6)
    assert main([*base, str(tmp_path / "e.tsv")]) == 0
    table = pd.read_csv(tmp_path / "e.tsv", sep="\t")
    assert table["id"].tolist() == ["rec0", "rec1", "rec2"]
    assert list(table.columns[1:]) == [f"e{i}" for i in range(16)]
    np.testing.assert_allclose(table.iloc[:, 1:].to_numpy(), expected, rtol=1e-4, atol=1e-5)
    assert not np.allclose(matrix[0], matrix[1])


def test_embed_refuses_unknown_output_and_bad_model(tmp_path, capsys):
    model = tiny_model_dir(tmp_path / "model", window=32)
    (tmp_path / "x.fa").write_text(">a\nACGTACGT\n")
    assert (
        main(
            ["embed", "--model", str(model), "--fasta", str(tmp_path / "x.fa"), "-o", str(tmp_path / "e.csv")]
        )
        == 1
    )
    assert "expected an output ending in .npy or .tsv" in capsys.readouterr().err
    assert not (tmp_path / "e.csv").exists()
    assert (
        main(
            [
                "embed",
                "--model",
                str(tmp_path),
                "--fasta",
                str(tmp_path / "x.fa"),
                "-o",
                str(tmp_path / "e.npy"),
            ]
        )
        == 1
    )
    assert "no genolm.json" in capsys.readouterr().err


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A multi-label probe trained on genes labelled by the bases they are enriched in; its test rows."""
    root = tmp_path_factory.mktemp("predict")
    rng = np.random.default_rng(11)
    rows = []
    for split, n in (("train", 48), ("val", 20), ("test", 12)):
        for i in range(n):
            held = [i % 3 == 0 or i % 4 == 0, i % 2 == 1]
            weights = np.array([1 + 3 * held[0], 1, 1 + 3 * held[1], 1.0])
            seq = "".join(rng.choice(list("ACGT"), 60, p=weights / weights.sum()))
            label = ";".join(c for c, h in zip(["rich_A", "rich_G"], held, strict=True) if h) or "none"
            rows.append((f"{split}{i}", label, split, seq))
    table = pd.DataFrame(rows, columns=["id", "label", "split", "sequence"])
    table.to_csv(root / "table.tsv", sep="\t", index=False)
    model = tiny_model_dir(root / "lm", window=32)
    settings = FinetuneSettings(batch_size=8, max_chunks=2, threads=1)
    args = (root / "table.tsv", model, root / "p.tsv", root / "m.json", settings)
    run_finetune(*args, method="probe", task_type="multilabel", classifier_dir=root / "clf")
    return (
        root / "clf",
        table[table["split"] == "test"],
        pd.read_csv(root / "p.tsv", sep="\t", keep_default_na=False),
    )


def test_predict_reproduces_the_workflow_predictions(classifier, tmp_path):
    clf_dir, test, expected = classifier
    fasta = tmp_path / "genes.fa.gz"
    with gzip.open(fasta, "wt") as fh:
        fh.writelines(
            f">{i} gene\n{s[:30].lower()}\n{s[30:]}\n"
            for i, s in zip(test["id"], test["sequence"], strict=True)
        )
    assert (
        main(["predict", "--model", str(clf_dir), "--fasta", str(fasta), "--out", str(tmp_path / "p.tsv")])
        == 0
    )
    got = pd.read_csv(tmp_path / "p.tsv", sep="\t", keep_default_na=False)
    assert list(got.columns) == ["id", "prediction", "p_none", "p_rich_A", "p_rich_G"]
    assert got["id"].tolist() == test["id"].tolist()
    np.testing.assert_allclose(got.iloc[:, 2:].to_numpy(), expected.iloc[:, 3:].to_numpy(), atol=1e-5)
    assert got["prediction"].tolist() == expected["prediction"].tolist()
    assert any(";" in p for p in got["prediction"])  # several labels at p >= 0.5 are joined


def test_predict_errors_are_one_line_and_write_nothing(classifier, tmp_path, capsys):
    clf_dir, _, _ = classifier
    (tmp_path / "x.fa").write_text(">a\nACGTACGT\n")
    out = tmp_path / "p.tsv"
    assert (
        main(["predict", "--model", str(tmp_path), "--fasta", str(tmp_path / "x.fa"), "--out", str(out)]) == 1
    )
    err = capsys.readouterr().err
    assert "no classifier.json" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "bad.fa").write_text("ACGT\n")
    assert (
        main(["predict", "--model", str(clf_dir), "--fasta", str(tmp_path / "bad.fa"), "--out", str(out)])
        == 1
    )
    assert "expected a '>' header line first" in capsys.readouterr().err
    assert not out.exists()
