"""Shared fixtures: paths, the real data folder, and one demo workflow run reused by many tests."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
#: Tiers beside `unit`: a test marked with none of them is `unit` (see pytest_collection_modifyitems).
HEAVY_TIERS = ("workflow", "slurm", "browser")

# Nothing reaches a model hub, in this process or in the snakemake runs it starts (set before any test
# module imports transformers).
os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
_RUNNING: list[pytest.Item] = []


def pytest_collection_modifyitems(items):
    """Every test without a heavy tier marker is `unit`: `make check` (`-m unit`) runs exactly those."""
    for item in items:
        if not any(item.get_closest_marker(tier) for tier in HEAVY_TIERS):
            item.add_marker(pytest.mark.unit)


def pytest_runtest_setup(item):
    _RUNNING[:] = [item]


def _require_workflow_tier() -> None:
    """A unit-tier test that starts snakemake is mis-marked: it would slow `make check` down unseen."""
    if _RUNNING and not _RUNNING[0].get_closest_marker("workflow"):
        raise AssertionError(f"{_RUNNING[0].nodeid} runs snakemake: mark it `pytest.mark.workflow`")


def pytest_addoption(parser):
    """`--fuzz-examples N`: examples per reader in tests/test_fuzz.py (else GENOLM_FUZZ_EXAMPLES or 50)."""
    parser.addoption("--fuzz-examples", type=int, default=None, help="hypothesis examples per fuzzed reader")


def shared_data(name: str) -> Path:
    """A folder or file of ../shared/data; skipped when absent locally, a failure in CI."""
    path = SHARED_DATA / name
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must run the real-data tests")
        pytest.skip(f"{path} is absent (real test data not available on this machine)")
    return path


def run_snakemake(workdir: Path, *args: str, configfiles=(), check: bool = True, timeout: int = 1500):
    """Run the real `snakemake` command on this workflow in `workdir`.

    `args` (options and targets) come before `--configfile`, whose list would otherwise swallow targets.
    """
    _require_workflow_tier()
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args]
    if configfiles:
        cmd += ["--configfile", *map(str, configfiles)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
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


DIGESTS = REPO / "tests" / "data" / "digests"


def changed_outputs(results: Path, name: str) -> list[str]:
    """Recorded outputs of `tests/data/digests/<name>.sha256` whose bytes differ in `results` (or are gone).

    The digests pin the numbers a config gives (metrics, predictions, scores, splits, summaries) across
    refactors; a change that means to alter them updates the file and says why in CHANGELOG.md.
    """
    changed = []
    for line in (DIGESTS / f"{name}.sha256").read_text().splitlines():
        digest, rel = line.split(maxsplit=1)
        path = results / rel
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            changed.append(rel)
    return changed
