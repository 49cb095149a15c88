"""Same config, same seed, two workdirs: byte-identical results; and snakemake reruns only what changed."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from conftest import REPO, changed_outputs, run_snakemake

pytestmark = pytest.mark.workflow

MINI = REPO / ".test" / "config.yaml"
COMPARED = ["**/metrics.json", "**/predictions.tsv", "**/scores.tsv", "**/splits.tsv", "**/summary.json"]
TIMING_COLUMNS = ["tokens_per_s"]  # wall-clock speed: legitimately differs between runs


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The mini config run end to end in two separate workdirs; returns both workdirs."""
    workdirs = [tmp_path_factory.mktemp(f"repro{i}") for i in (1, 2)]
    for workdir in workdirs:
        run_snakemake(workdir, configfiles=[MINI], timeout=600)
    return workdirs


def _job_counts(stdout: str) -> dict[str, int]:
    """The `Job stats` table of a dry run as {rule: count}."""
    rows = [line.split() for line in stdout.splitlines()]
    start = next(i for i, row in enumerate(rows) if row == ["job", "count"]) + 2  # skip the dashes
    end = next(i for i, row in enumerate(rows) if i > start and row[:1] == ["total"])
    return {row[0]: int(row[1]) for row in rows[start:end]}


def test_results_are_byte_identical(two_runs):
    first, second = (w / "results" / "mini" for w in two_runs)
    found = {p.relative_to(first) for pattern in COMPARED for p in first.glob(pattern)}
    files = sorted(p for p in found if p.parts[0] != "benchmarks")  # benchmarks are timings
    assert len(files) >= 10, files
    assert any(p.name == "predictions.tsv" for p in files) and any(p.name == "scores.tsv" for p in files)
    differ = [str(p) for p in files if (first / p).read_bytes() != (second / p).read_bytes()]
    assert not differ, f"differ between two identical runs: {differ}"


def test_results_match_the_recorded_digests(two_runs):
    assert not changed_outputs(two_runs[0] / "results" / "mini", "mini")


def test_pretrain_log_identical_except_timing(two_runs):
    logs = [(w / "results" / "mini" / "pretrain" / "log.csv").read_text() for w in two_runs]
    frames = [pd.read_csv(io.StringIO(text)) for text in logs]
    assert set(TIMING_COLUMNS) <= set(frames[0].columns)
    pd.testing.assert_frame_equal(*(f.drop(columns=TIMING_COLUMNS) for f in frames), check_exact=True)


def test_finished_run_has_nothing_to_do(two_runs):
    proc = run_snakemake(two_runs[0], "-n", configfiles=[MINI])
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_finetune_parameter_change_reruns_only_finetune_its_explanation_and_report(two_runs, tmp_path):
    change = tmp_path / "epochs.yaml"
    change.write_text("gene_function:\n  finetune:\n    epochs: 2\n")
    proc = run_snakemake(two_runs[0], "-n", "--quiet", "rules", configfiles=[MINI, change])
    jobs = _job_counts(proc.stdout)
    assert jobs.get("finetune", 0) >= 1, jobs
    # interpret_classifier explains the saved classifier; pretraining, labels and baselines stay.
    assert set(jobs) - {"all"} == {"finetune", "interpret_classifier", "report"}, jobs
