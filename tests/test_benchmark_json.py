"""Benchmarks speak JSON: with --json, stdout is exactly one JSON object and comparisons end in `_ratio`."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


def _benchmark(name: str):
    """A script of benchmarks/ imported as a module."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pretrain_benchmark_prints_one_json_object_and_the_trainer_logs_to_stderr():
    """A two-step run of a one-layer model: the Trainer's metrics dict must not reach stdout."""
    size = ["--hidden", "16", "--layers", "1", "--heads", "2", "--intermediate", "32", "--seq", "18"]
    cmd = [sys.executable, str(REPO / "benchmarks" / "pretrain.py"), *size, "--batch", "4", "--steps", "2"]
    cmd += ["--val-windows", "4", "--threads", "1", "--json"]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONHASHSEED": "0"}
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)  # fails on anything printed before or after the object
    runs = summary["runs"]
    assert set(runs) == {"genolm", "trainer"} and runs["genolm"]["steps"] == runs["trainer"]["steps"] == 2
    ratio = runs["genolm"]["tokens_per_s"] / runs["trainer"]["tokens_per_s"]
    assert summary["tokens_per_s_ratio"] == pytest.approx(ratio)
    assert "train_runtime" in proc.stderr  # the Trainer's metrics went to stderr instead


def _collected(macro_f1: float, auroc: float, cpu_s: float) -> dict:
    scores = {
        "gene_function/biotype/probe macro_f1": {"value": macro_f1, "ci_low": 0.0, "ci_high": 1.0},
        "disease_risk/clinvar_like/zeroshot auroc": {"value": auroc, "ci_low": 0.0, "ci_high": 1.0},
    }
    return {"scores": scores, "pretrain_s": cpu_s, "pretrain_cpu_s": cpu_s, "val": {"loss": 1.3}, "steps": 5}


def test_objectives_benchmark_json_compares_each_objective_with_the_first(tmp_path, monkeypatch, capsys):
    objectives = _benchmark("objectives")
    collected = {"demo_none": _collected(0.5, 0.8, 20.0), "demo_adjacent": _collected(0.6, 0.6, 40.0)}
    monkeypatch.setattr(objectives, "run_workflow", lambda *args: None)
    monkeypatch.setattr(objectives, "collect", lambda results: collected[results.name])
    (tmp_path / "config.yaml").write_text("run: demo\nseed: 1\n")
    argv = ["objectives.py", "--config", str(tmp_path / "config.yaml"), "--workdir", str(tmp_path / "w")]
    monkeypatch.setattr(sys, "argv", [*argv, "--json"])
    objectives.main()
    summary = json.loads(capsys.readouterr().out)
    assert list(summary["comparisons"]) == ["adjacent"]
    adjacent = summary["comparisons"]["adjacent"]
    assert adjacent["baseline"] == "none"
    assert adjacent["scores"] == {
        "gene_function/biotype/probe macro_f1_ratio": pytest.approx(1.2),
        "disease_risk/clinvar_like/zeroshot auroc_ratio": pytest.approx(0.75),
    }
    assert adjacent["pretrain_speed_ratio"] == pytest.approx(0.5)  # twice the CPU seconds: half the speed
