"""Gene-function tasks given as a community benchmark's CSV files (GUE / Genomic Benchmarks style)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, run_snakemake

from genolm.baselines.genes import run_baseline
from genolm.errors import GenolmError
from genolm.labels import build_csv_gene_table


def write_benchmark(folder, n=(40, 12, 12), length=60, seed=0):
    """train/dev/test CSVs whose class 1 sequences are GC-rich, in lower case to check uppercasing."""
    rng = np.random.default_rng(seed)
    paths = {}
    for part, rows in zip(("train", "dev", "test"), n, strict=True):
        labels = np.arange(rows) % 2
        seqs = [
            "".join(rng.choice(list("acgt"), length, p=[0.1, 0.4, 0.4, 0.1] if y else [0.4, 0.1, 0.1, 0.4]))
            for y in labels
        ]
        paths[part] = folder / f"{part}.csv"
        pd.DataFrame({"sequence": seqs, "label": labels}).to_csv(paths[part], index=False)
    return paths


def test_csv_task_keeps_the_benchmark_split_and_runs_a_baseline(tmp_path):
    paths = write_benchmark(tmp_path)
    out = tmp_path / "task.tsv"
    table = build_csv_gene_table(**paths, out_tsv=out, summary_json=tmp_path / "s.json", type="binary")
    written = pd.read_csv(out, sep="\t", dtype={"label": str})
    assert list(written.columns) == ["id", "contig", "start", "end", "strand", "label", "split", "sequence"]
    assert written["split"].value_counts().to_dict() == {"train": 40, "val": 12, "test": 12}
    assert written["id"].iloc[0] == "train.csv:1" and written["id"].iloc[40] == "dev.csv:1"
    assert (
        (written["contig"] == "-").all()
        and (written["start"] == -1).all()
        and (written["strand"] == ".").all()
    )
    source = pd.read_csv(paths["test"])
    test = written[written["split"] == "test"]
    assert test["sequence"].tolist() == source["sequence"].str.upper().tolist()
    assert test["label"].tolist() == source["label"].astype(str).tolist()
    assert json.loads((tmp_path / "s.json").read_text())["per_split"]["val"] == {"0": 6, "1": 6}
    assert len(table) == 64
    metrics = run_baseline(out, "kmer_lr", tmp_path / "p.tsv", tmp_path / "m.json", seed=1)
    assert metrics["n"] == 12
    assert metrics["metrics"]["auroc"]["value"] > 0.9  # GC content separates the classes


@pytest.mark.parametrize(
    ("sequence", "message"),
    [("ACGTXA", "row 3 has non-DNA character 'X'"), ("", "row 3 has an empty sequence")],
)
def test_bad_sequence_names_file_and_row(tmp_path, sequence, message):
    paths = write_benchmark(tmp_path)
    frame = pd.read_csv(paths["dev"], keep_default_na=False, dtype=str)
    frame.loc[2, "sequence"] = sequence
    frame.to_csv(paths["dev"], index=False)
    out = tmp_path / "task.tsv"
    with pytest.raises(GenolmError) as err:
        build_csv_gene_table(**paths, out_tsv=out, summary_json=tmp_path / "s.json")
    assert str(err.value) == f"{paths['dev']}: {message}; expected A, C, G, T or N"
    assert not out.exists()


def test_missing_columns_and_single_class_are_refused(tmp_path):
    paths = write_benchmark(tmp_path)
    pd.DataFrame({"seq": ["ACGT"], "label": [1]}).to_csv(paths["test"], index=False)
    with pytest.raises(GenolmError, match=r"test.csv: expected columns sequence and label, got seq, label"):
        build_csv_gene_table(**paths, out_tsv=tmp_path / "t.tsv", summary_json=tmp_path / "s.json")
    paths = write_benchmark(tmp_path)
    for path in paths.values():
        pd.read_csv(path).assign(label="x").to_csv(path, index=False)
    with pytest.raises(GenolmError, match=r"1 class\(es\) after filtering, expected at least 2"):
        build_csv_gene_table(**paths, out_tsv=tmp_path / "t.tsv", summary_json=tmp_path / "s.json")


@pytest.mark.workflow
def test_csv_task_through_the_workflow_without_annotation(tmp_path):
    """A config with no annotation source runs a CSV task; the baselines need no genome or model."""
    paths = write_benchmark(tmp_path)
    config = yaml.safe_load((REPO / ".test" / "config.yaml").read_text())
    config.update(
        run="csv",
        sources={"genome": {"simulated": "genome"}},
        disease_risk={"tasks": {}},
        gene_function={"tasks": {"bench": {"csv": {k: str(v) for k, v in paths.items()}, "type": "binary"}}},
    )
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    out = tmp_path / "results" / "csv" / "gene_function" / "bench"
    targets = [str((out / m / "metrics.json").relative_to(tmp_path)) for m in ("kmer_lr", "majority", "cnn")]
    # An option ends --configfile's file list (run_snakemake puts it before these args).
    run_snakemake(tmp_path, *targets, configfiles=[configfile])
    table = pd.read_csv(tmp_path / "results" / "csv" / "labels" / "genes" / "bench.tsv", sep="\t")
    assert table["split"].value_counts().to_dict() == {"train": 40, "val": 12, "test": 12}
    kmer = json.loads((out / "kmer_lr" / "metrics.json").read_text())
    majority = json.loads((out / "majority" / "metrics.json").read_text())
    assert kmer["n"] == majority["n"] == 12
    assert kmer["metrics"]["auroc"]["value"] > majority["metrics"]["auroc"]["value"]
    assert not (tmp_path / "results" / "csv" / "data" / "annotation").exists()
    # Rows of a benchmark CSV come in an arbitrary orientation: the cnn reads both strands.
    assert json.loads((out / "cnn" / "metrics.json").read_text())["cnn"]["settings"]["reverse_complement"]
