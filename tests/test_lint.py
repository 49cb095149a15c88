"""Static checks CI runs: snakemake --lint, snakefmt, ruff check and ruff format (the `make lint` set)."""

from __future__ import annotations

import subprocess

import pytest
from conftest import REPO, SNAKEMAKE, run_snakemake

BIN = SNAKEMAKE.parent
PYTHON_PATHS = ["genolm", "tests", "workflow", "benchmarks"]


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.workflow
def test_snakemake_lint_is_clean(tmp_path):
    proc = run_snakemake(tmp_path, "--lint", configfiles=[REPO / ".test" / "config.yaml"], check=False)
    lines = (proc.stdout + proc.stderr).splitlines()
    findings = [line.strip() for line in lines if line.lstrip().startswith(("Lints for", "* "))]
    assert not findings, "\n".join(findings)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_snakefmt_check():
    proc = _run(str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/rules")
    changed = [line for line in proc.stderr.splitlines() if "would be changed" in line or "ERROR" in line]
    assert proc.returncode == 0, f"run `make format`: {changed or proc.stderr[-2000:]}"


def test_ruff_check():
    proc = _run(str(BIN / "ruff"), "check", *PYTHON_PATHS)
    assert proc.returncode == 0, proc.stdout[-4000:]


def test_ruff_format_check():
    proc = _run(str(BIN / "ruff"), "format", "--check", *PYTHON_PATHS)
    assert proc.returncode == 0, proc.stdout[-4000:]
