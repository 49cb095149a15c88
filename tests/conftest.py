"""Shared fixtures: paths, the real data folder, and one demo workflow run reused by many tests."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
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
#: Largest difference allowed between a recorded value-checked output and a new one: class probabilities
#: (`p_` columns), other table floats (variant scores, attributions), measured floats in JSON. CPU models
#: differ in their float kernels (oneDNN and the BLAS pick them by instruction set), so a model's outputs
#: differ between machines in their last digits and a bootstrap CI bound can move further where scores
#: nearly tie. Measured (AVX-512 against AVX2 kernels on one AMD EPYC host, and that host against the one
#: that recorded the mini cnn): class probabilities at most 5.8e-4 (the demo's function_class cnn), most
#: below 1e-5; variant scores (log-odds) at most 1.3e-2 (the mini run's supervised_random_init); metrics
#: at most 1.9e-2 (a zeroshot_calibrated AUPRC CI bound).
PROBABILITY_ATOL, TABLE_ATOL, JSON_ATOL = 5e-3, 3e-2, 3e-2
#: The measured sections of a JSON output (elsewhere, such as the settings and the chosen learning rate,
#: floats must be equal): metrics and their seeds, training and grid histories, interpretation scores,
#: compressed-model metrics, prioritisation results.
MEASURED_KEYS = frozenset(
    {
        "metrics",
        "per_class",
        "val_scores",
        "mean",
        "sd",
        "seeds",
        "history",
        "lr_grid",
        "val",
        "variants",
        "genes",
        "seqlets",
        "models",
        "disease_risk",
        "size_ratio",
        "methods",
    }
)
#: Outputs of the calls (argmax class, variant score > 0) rather than of the scores: skipped in a
#: `metrics.json` whose recorded table has a call on its boundary (`_agree`).
DECISIONS = frozenset({"confusion", "per_class", "accuracy", "macro_f1", "mcc"})


def changed_outputs(results: Path, name: str) -> list[str]:
    """Recorded outputs of the `name` run that differ in `results` (or are gone).

    The record pins the numbers a config gives (metrics, predictions, scores, splits, summaries) across
    refactors; a change that means to alter them updates it and says why in CHANGELOG.md. Files listed
    in `tests/data/digests/<name>.sha256` must be byte-identical (outputs no torch kernel computes: splits,
    k-mer, majority and consequence baselines). Files copied under `tests/data/digests/<name>/` (every
    output a network computes, whose last digits differ between CPU models) must agree by value: the same
    columns, keys, ids, labels, integers and settings, and measured floats within `PROBABILITY_ATOL`,
    `TABLE_ATOL` or `JSON_ATOL`.
    """
    changed = []
    for line in (DIGESTS / f"{name}.sha256").read_text().splitlines():
        digest, rel = line.split(maxsplit=1)
        path = results / rel
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            changed.append(rel)
    recorded = DIGESTS / name
    for copy in sorted(p for p in recorded.rglob("*") if p.is_file()):
        rel = copy.relative_to(recorded).as_posix()
        path = results / rel
        if not path.is_file() or not _agree(copy, path):
            changed.append(rel)
    return changed


def _agree(recorded: Path, found: Path) -> bool:
    """Whether a value-checked output agrees with its recorded copy (see `changed_outputs`).

    A call whose recorded score sits within the tolerance of its decision boundary (`_borderline`) may go
    either way on another CPU: such a row's `prediction` is not compared, and when the recorded table
    beside a `metrics.json` has such rows, its confusion matrix may move by them alone and the metrics
    computed from the calls (`DECISIONS`) are not compared.
    """
    if recorded.suffix == ".json":
        old, new = json.loads(recorded.read_text()), json.loads(found.read_text())
        tables = [recorded.with_name(n) for n in ("predictions.tsv", "scores.tsv")]
        near = sum(int(_borderline(_read_table(t)).sum()) for t in tables if t.is_file())
        if not near:
            return _json_agree(old, new)
        moved = np.abs(np.subtract(old.get("confusion", 0), new.get("confusion", 0))).sum()
        return moved <= 2 * near and _json_agree(old, new, skip=DECISIONS)  # a flip moves two cells
    old, new = _read_table(recorded), _read_table(found)
    if list(old.columns) != list(new.columns) or len(old) != len(new):
        return False
    floats = [c for c in old.columns if old[c].dtype.kind == "f"]
    exact = [c for c in old.columns if c not in floats and c != "prediction"]
    same = old[exact].equals(new[exact])
    if "prediction" in old.columns:
        settled = ~_borderline(old)
        same = same and bool((old["prediction"][settled] == new["prediction"][settled]).all())
    return same and all(
        np.allclose(old[c], new[c], atol=PROBABILITY_ATOL if c.startswith("p_") else TABLE_ATOL, rtol=0)
        for c in floats
    )


def _read_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", keep_default_na=False)


def _borderline(table: pd.DataFrame) -> np.ndarray:
    """Rows whose call is within the tolerance of its boundary: a variant `score` (called at 0) within
    `TABLE_ATOL` of 0; a gene's two most probable classes (rows that sum to 1: the argmax is called) closer
    than twice `PROBABILITY_ATOL`, or a label's probability (multi-label: called at 0.5) that close to 0.5."""
    if "score" in table.columns:
        return (table["score"].abs() < TABLE_ATOL).to_numpy()
    probs = table[[c for c in table.columns if c.startswith("p_")]].to_numpy(dtype=float)
    if probs.shape[1] < 2:
        return np.zeros(len(table), dtype=bool)
    if np.allclose(probs.sum(axis=1), 1.0, atol=1e-4 * probs.shape[1]):
        top = np.sort(probs, axis=1)
        return top[:, -1] - top[:, -2] < 2 * PROBABILITY_ATOL
    return (np.abs(probs - 0.5) < PROBABILITY_ATOL).any(axis=1)


def _json_agree(old, new, measured: bool = False, skip: frozenset[str] = frozenset()) -> bool:
    """Equal structure, strings, booleans, integers and settings; floats under a `MEASURED_KEYS` key
    within `JSON_ATOL`; the values of keys in `skip` (anywhere) not compared."""
    if measured and isinstance(old, float) and isinstance(new, (int, float)) and not isinstance(new, bool):
        return abs(old - new) <= JSON_ATOL
    if isinstance(old, dict):
        return (
            isinstance(new, dict)
            and old.keys() == new.keys()
            and all(
                k in skip or _json_agree(old[k], new[k], measured or k in MEASURED_KEYS, skip) for k in old
            )
        )
    if isinstance(old, list):
        return (
            isinstance(new, list)
            and len(old) == len(new)
            and all(_json_agree(a, b, measured, skip) for a, b in zip(old, new, strict=True))
        )
    return type(old) is type(new) and old == new
