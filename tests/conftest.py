"""Shared fixtures: paths, the real data folder, and one demo workflow run reused by many tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def pytest_addoption(parser):
    """`--fuzz-examples N`: examples per reader in tests/test_fuzz.py (else GENOLM_FUZZ_EXAMPLES or 50)."""
    parser.addoption("--fuzz-examples", type=int, default=None, help="hypothesis examples per fuzzed reader")


def shared_data(name: str) -> Path:
    """A folder of ../shared/data; skipped when absent locally, a failure in CI."""
    path = SHARED_DATA / name
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must run the real-data tests")
        pytest.skip(f"{path} is absent (real test data not available on this machine)")
    return path


def run_snakemake(workdir: Path, *args: str, configfiles=(), check: bool = True, timeout: int = 1500):
    """Run the real `snakemake` command on this workflow in `workdir`.

    `args` (options and targets) come before `--configfile`, whose list would otherwise swallow targets.
    """
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args]
    if configfiles:
        cmd += ["--configfile", *map(str, configfiles)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """The bundled demo (config/config.yaml) run once, end to end; returns its results folder."""
    workdir = tmp_path_factory.mktemp("demo")
    run_snakemake(workdir, configfiles=[REPO / "config" / "config.yaml"])
    return workdir / "results" / "demo"
