"""genolm.job: what the workflow scripts take from a Snakemake job alike (a stand-in job, no snakemake)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from genolm.job import job_resources, label_job, optional_input

pytestmark = pytest.mark.unit


def test_job_resources_are_the_jobs_not_the_configs():
    job = SimpleNamespace(threads=5, resources=SimpleNamespace(gpu="1"))
    assert job_resources(job) == {"threads": 5, "gpus": 1}


def test_optional_input_is_the_one_file_or_none():
    assert optional_input([]) is None
    assert optional_input(["motifs.jaspar"]) == "motifs.jaspar"


def test_label_job_names_the_sources_as_configured():
    job = SimpleNamespace(
        input=SimpleNamespace(genome="results/data/genome", splits="results/preprocess/splits.tsv"),
        output=SimpleNamespace(table="t.tsv", summary="t.summary.json"),
        params=SimpleNamespace(strict=True, sources={"genome": {"path": "my/genome.fa"}}),
    )
    assert label_job(job) == {
        "genome": "results/data/genome",
        "splits": "results/preprocess/splits.tsv",
        "out_tsv": "t.tsv",
        "summary_json": "t.summary.json",
        "strict": True,
        "sources": {"genome": "my/genome.fa"},
    }
