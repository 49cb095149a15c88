"""`genolm embed`: mean-pooled embeddings of FASTA records, as genolm.inference.embed computes them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from tiny_models import random_dna, tiny_model_dir

from genolm.cli import main
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
