"""Pretraining: masking, batch splitting, DDP, exact resume, the NaN guard, stopping rules, devices."""

from __future__ import annotations

import ast
import csv
import json
import os
import runpy
import signal
import sys
from dataclasses import replace
from graphlib import TopologicalSorter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

import genolm.job
import genolm.pretrain.batches as batches_mod
import genolm.pretrain.loop as loop_mod
from genolm.errors import GenolmError
from genolm.inference import load_pretrained
from genolm.models import build_config, build_model, model_size
from genolm.pretrain import PretrainSettings, train
from genolm.pretrain.batches import (
    PAIR_KEPT,
    PAIR_REPLACED,
    mask_span,
    mask_tokens,
    max_tokens,
    pair_sample,
    shard_chunks,
    tokenize_pairs,
)
from genolm.pretrain.checkpoint import run_fingerprint
from genolm.pretrain.ddp import read_spec, srun_argv, torchrun_argv, write_spec
from genolm.pretrain.loss import LMLoss
from genolm.pretrain.runtime import resolve_runtime
from genolm.pretrain.settings import RunPaths, gpus_per_node, recorded_settings, world_size
from genolm.sequence import reverse_complement_codes
from genolm.tokenizers import build_tokenizer, save_tokenizer
from tests.conftest import REPO, run_snakemake

BASE = PretrainSettings(
    max_steps=8, batch_size=8, eval_every=4, eval_batches=1, warmup_steps=2, checkpoint_every=3, seed=3
)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """64 training and 16 validation windows of 48 bases (a noisy repeated motif) and a char tokenizer."""
    root = tmp_path_factory.mktemp("pretrain_data")
    rng = np.random.default_rng(0)
    motif = rng.integers(0, 4, 12, dtype=np.uint8)
    windows = np.tile(motif, (80, 4))
    noise = rng.random(windows.shape) < 0.3
    windows[noise] = rng.integers(0, 4, int(noise.sum()), dtype=np.uint8)
    (root / "windows").mkdir()
    np.save(root / "windows" / "train.npy", windows[:64])
    np.save(root / "windows" / "val.npy", windows[64:])
    save_tokenizer(root / "windows" / "train.npy", root / "tokenizer", kind="char", window=48)
    return root


def _run(data: Path, out: Path, settings: PretrainSettings) -> dict:
    return train(
        data / "windows",
        data / "tokenizer",
        out / "model",
        out / "log.csv",
        out / "metrics.json",
        out / "checkpoints",
        settings,
    )


def _log(out: Path) -> list[dict]:
    with open(out / "log.csv") as fh:
        return list(csv.DictReader(fh))


def _losses(out: Path) -> np.ndarray:
    return np.array([float(r["loss"]) for r in _log(out)])


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(out / "model" / "model.safetensors")


def _max_weight_diff(a: Path, b: Path) -> float:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


def test_mask_tokens_rate_specials_and_replacements():
    tokenizer = build_tokenizer("char")
    ids = torch.randint(5, 10, (64, 200))
    ids[:, 0], ids[:, -1] = tokenizer.cls_token_id, tokenizer.sep_token_id
    inputs, selected = mask_tokens(ids, tokenizer, 0.15, torch.Generator().manual_seed(0))
    assert 0.13 < selected[:, 1:-1].float().mean() < 0.17
    assert not selected[:, 0].any() and not selected[:, -1].any()
    masked = (inputs[selected] == tokenizer.mask_token_id).float().mean()
    assert 0.75 < masked < 0.85
    assert torch.equal(inputs[~selected], ids[~selected])


def test_overlapping_kmers_are_masked_in_spans_of_k():
    k = 4
    tokenizer = build_tokenizer("kmer_overlap", k=k)
    ids = torch.randint(5, len(tokenizer), (32, 300))
    ids[:, 0], ids[:, -1] = tokenizer.cls_token_id, tokenizer.sep_token_id
    span = mask_span(tokenizer)
    _, selected = mask_tokens(ids, tokenizer, 0.15, torch.Generator().manual_seed(1), span=span)
    assert span == k
    assert 0.11 < selected.float().mean() < 0.17
    for row in selected[:, 1:-1].int().tolist():
        runs = "".join(map(str, row)).strip("0").split("0")
        inner = [r for r in runs if r][1:-1]  # runs cut by the edges may be shorter
        assert inner and min(len(r) for r in inner) >= k


@pytest.mark.parametrize(("n", "world", "micro"), [(8, 1, None), (8, 2, 3), (12, 3, 2), (5, 2, 1)])
def test_shard_chunks_partition_the_batch(n, world, micro):
    chunks = [shard_chunks(n, rank, world, micro) for rank in range(world)]
    rows = sorted(int(i) for rank in chunks for c in rank for i in c)
    assert rows == list(range(n))
    for rank, parts in enumerate(chunks):
        assert all(set(c) <= set(range(rank, n, world)) for c in parts)
        assert all(len(c) <= (micro or n) for c in parts)


def test_gradient_accumulation_does_not_change_training(data, tmp_path):
    _run(data, tmp_path / "whole", replace(BASE, dropout=0.0))
    _run(data, tmp_path / "micro", replace(BASE, dropout=0.0, micro_batch_size=3))
    np.testing.assert_allclose(_losses(tmp_path / "micro"), _losses(tmp_path / "whole"), atol=1e-5)
    assert _max_weight_diff(tmp_path / "micro", tmp_path / "whole") < 1e-5


def test_two_gloo_processes_match_one_process(data, tmp_path):
    settings = replace(BASE, dropout=0.0, micro_batch_size=2)
    single = _run(data, tmp_path / "one", settings)
    double = _run(data, tmp_path / "two", replace(settings, processes=2))
    assert double["processes"] == 2 and single["processes"] == 1
    diff = np.abs(_losses(tmp_path / "two") - _losses(tmp_path / "one")).max()
    assert diff < 1e-5, diff
    assert _max_weight_diff(tmp_path / "two", tmp_path / "one") < 1e-5
    assert abs(double["val"]["loss"] - single["val"]["loss"]) < 1e-5
    assert [r["step"] for r in _log(tmp_path / "two")] == [r["step"] for r in _log(tmp_path / "one")]


def test_torchrun_command_line():
    argv = torchrun_argv("spec.json", 4)
    assert argv[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--standalone" in argv and "--nproc_per_node=4" in argv
    assert argv[-3:] == ["-m", "genolm.pretrain.worker", "spec.json"]


# A stand-in for SLURM's `srun` (start --ntasks copies of the command, each with its SLURM_PROCID, and fail
# when one fails) and `scontrol show hostnames` (the first node is this machine), so the multi-node
# launcher and the c10d rendezvous of its agents run without a cluster; tests/test_slurm.py runs them
# under a real SLURM.
FAKE_SRUN = """#!/bin/sh
echo "$@" > "$(dirname "$0")/srun.argv"
n=1
while [ $# -gt 0 ]; do
  case "$1" in --ntasks=*) n="${1#--ntasks=}";; -*) ;; *) break;; esac
  shift
done
pids=""
i=0
while [ $i -lt $n ]; do SLURM_PROCID=$i "$@" & pids="$pids $!"; i=$((i + 1)); done
status=0
for pid in $pids; do wait $pid || status=1; done
exit $status
"""


FAKE_SCONTROL = """#!/bin/sh
case "$2" in
  job) echo "JobId=$4 JobName=x NumNodes=2 NumCPUs=4 NumTasks=${FAKE_TASKS:-2} NodeList=localhost,node2";;
  hostnames) echo "$3" | tr , '\\n';;
esac
"""


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch) -> Path:
    """`srun` and `scontrol` stand-ins first on PATH, and the environment of a 2-task SLURM job."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text(FAKE_SRUN)
    (bin_dir / "scontrol").write_text(FAKE_SCONTROL)
    for tool in ("srun", "scontrol"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    return bin_dir


def test_srun_command_line_starts_one_torchrun_agent_per_node(fake_slurm):
    settings = replace(BASE, nodes=2, processes=2, threads=6)
    argv = srun_argv("spec.json", settings, dict(os.environ))
    assert argv[:5] == ["srun", "--nodes=2", "--ntasks=2", "--cpus-per-task=6", "--kill-on-bad-exit=1"]
    torchrun = argv[argv.index(sys.executable) :]
    assert torchrun[1:3] == ["-m", "torch.distributed.run"]
    rendezvous = {"--nnodes=2", "--nproc_per_node=2", "--rdzv_backend=c10d", "--rdzv_id=genolm-4242"}
    assert rendezvous <= set(torchrun)
    (endpoint,) = [a for a in torchrun if a.startswith("--rdzv_endpoint=")]
    host, port = endpoint.removeprefix("--rdzv_endpoint=").split(":")
    assert host == "localhost" and 1024 <= int(port) < 65536  # the allocation's first node
    assert "--standalone" not in torchrun and torchrun[-3:] == ["-m", "genolm.pretrain.worker", "spec.json"]


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({}, "pretrain.nodes is 2 but this job is not a SLURM allocation"),
        ({"SLURM_JOB_ID": "1"}, "the SLURM job has 1 task"),
    ],
)
def test_multi_node_outside_a_fitting_slurm_job_is_one_line(fake_slurm, monkeypatch, env, match):
    monkeypatch.setenv("FAKE_TASKS", "1")
    with pytest.raises(GenolmError, match=match):
        srun_argv("spec.json", replace(BASE, nodes=2), env)


def test_two_nodes_of_one_process_match_two_processes_on_one_node(data, tmp_path, fake_slurm):
    """Two torchrun agents (one per SLURM task) meet at the rendezvous and train as one 2-process run."""
    settings = replace(BASE, dropout=0.0, micro_batch_size=2, threads=1)
    local = _run(data, tmp_path / "local", replace(settings, processes=2))
    nodes = _run(data, tmp_path / "nodes", replace(settings, nodes=2))
    assert "--nnodes=2" in (fake_slurm / "srun.argv").read_text()
    assert nodes["processes"] == local["processes"] == 2 and nodes["settings"]["nodes"] == 2
    assert "nodes" not in local["settings"]  # one-node runs record what they did before `nodes` existed
    np.testing.assert_allclose(_losses(tmp_path / "nodes"), _losses(tmp_path / "local"), atol=1e-5)
    assert _max_weight_diff(tmp_path / "nodes", tmp_path / "local") < 1e-5


def test_process_layout_over_nodes():
    assert world_size(replace(BASE, nodes=2, processes=2)) == 4
    assert world_size(replace(BASE, nodes=2, gpus=2, batch_size=8)) == 4
    with pytest.raises(GenolmError, match="not divisible by the 6 training processes"):
        world_size(replace(BASE, nodes=3, processes=2))
    assert gpus_per_node(8, 2) == 4 and gpus_per_node(0, 3) == 0
    with pytest.raises(GenolmError, match="3 GPU.* do not split evenly over pretrain.nodes 2"):
        gpus_per_node(3, 2)


def test_the_run_crosses_the_process_boundary_typed(tmp_path):
    paths = RunPaths(*(str(tmp_path / n) for n in ("w", "t", "m", "l.csv", "m.json", "c")))
    settings = replace(BASE, pair_objective="strand", micro_batch_size=2, max_minutes=1.5)
    write_spec(tmp_path / "spec.json", paths, settings)
    assert read_spec(tmp_path / "spec.json") == (paths, settings)


def _pretrain_imports(path: Path) -> set[str]:
    """genolm.pretrain modules that `path` imports anywhere (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n.rsplit(".", 1)[-1] for n in names if n.startswith("genolm.pretrain.")}


def test_pretrain_modules_have_no_import_cycle():
    graph = {p.stem: _pretrain_imports(p) for p in (REPO / "genolm" / "pretrain").glob("*.py")}
    graph.pop("__init__")
    order = list(TopologicalSorter(graph).static_order())  # CycleError on a cycle
    assert order.index("settings") < order.index("loop") < order.index("run")
    assert "ddp" not in graph["loop"] and not graph["ddp"] & {"loop", "run", "worker"}


def test_gpus_resolve_a_cuda_device_through_the_cuda_branch(monkeypatch):
    """Without a GPU: torch is told CUDA is there, and the runtime takes the CUDA branch."""
    chosen = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    rt = resolve_runtime(replace(BASE, gpus=1))
    assert rt.device == torch.device("cuda", 0) and chosen == [torch.device("cuda", 0)]
    assert rt.autocast is torch.bfloat16 and (rt.rank, rt.world) == (0, 1)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_runtime(replace(BASE, gpus=1)).autocast is None  # pre-Ampere: full precision
    cpu = resolve_runtime(BASE)
    assert cpu.device == torch.device("cpu") and cpu.autocast is None and len(chosen) == 2


class _Named(SimpleNamespace):
    """A stand-in for a snakemake Namedlist: names from keys(), values as attributes."""

    def keys(self):
        return vars(self).keys()


@pytest.mark.parametrize(("nodes", "job_gpus", "gpus"), [(1, 1, 1), (2, 8, 4)])
def test_pretrain_script_takes_threads_and_gpus_from_the_job(monkeypatch, nodes, job_gpus, gpus):
    """`--set-threads` and a profile's `set-resources: gpu` reach the settings, not the config's values;
    the job's GPUs are all its nodes' together (`sbatch --gpus`), the settings' per node."""
    calls = []
    monkeypatch.setattr(genolm.job, "run_step", lambda func, log, **kwargs: calls.append((func, kwargs)))
    # The rule's settings: the model and pretrain sections (less the job's keys) and the seed.
    settings = {"family": "bert", "preset": "tiny", "max_steps": 5, "nodes": nodes, "seed": 7}
    job = SimpleNamespace(
        params=_Named(settings=settings, checkpoint_dir="checkpoints/pretrain"),
        threads=3,
        resources=SimpleNamespace(gpu=job_gpus, mem_mb=4000, runtime=240),
        input=_Named(windows=["w/train.npy", "w/val.npy"], tokenizer_dir="tokenizer"),
        output=_Named(model_dir="model", log_csv="log.csv", metrics_json="metrics.json"),
        wildcards=_Named(),
        log=["pretrain.log"],
    )
    runpy.run_path(str(REPO / "workflow" / "scripts" / "pretrain.py"), init_globals={"snakemake": job})
    (func, kwargs), *rest = calls
    assert func is train and not rest and kwargs["windows_dir"] == Path("w")
    assert kwargs["settings"] == PretrainSettings(
        family="bert", preset="tiny", max_steps=5, threads=3, gpus=gpus, nodes=nodes, seed=7
    )


class _Killed(BaseException):
    """Stands in for SIGKILL: nothing in the loop may catch it."""


def _killed_after_checkpoint(monkeypatch, data: Path, out: Path, settings: PretrainSettings, at_step: int):
    """Train until the checkpoint of `at_step` is on disk, then die as a SIGKILLed job would."""
    real_save = loop_mod.save_checkpoint

    def save_then_die(path, model, optimizer, step, history, fingerprint):
        real_save(path, model, optimizer, step, history, fingerprint)
        if step == at_step:
            raise _Killed

    monkeypatch.setattr(loop_mod, "save_checkpoint", save_then_die)
    with pytest.raises(_Killed):
        _run(data, out, settings)
    monkeypatch.setattr(loop_mod, "save_checkpoint", real_save)


def test_resume_after_sigterm_or_kill_is_exact(data, tmp_path, monkeypatch):
    full = _run(data, tmp_path / "full", BASE)

    real_indices = batches_mod.batch_indices

    def sigterm_at_step_4(step, *args):
        if step == 4:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_indices(step, *args)

    monkeypatch.setattr(batches_mod, "batch_indices", sigterm_at_step_4)
    with pytest.raises(GenolmError, match="stopped by SIGTERM at step 5"):
        _run(data, tmp_path / "term", BASE)
    assert not (tmp_path / "term" / "model").exists()
    assert json.loads((tmp_path / "term/checkpoints/latest/state.json").read_text())["step"] == 5
    monkeypatch.setattr(batches_mod, "batch_indices", real_indices)

    _killed_after_checkpoint(monkeypatch, data, tmp_path / "kill", BASE, at_step=6)

    for name in ("term", "kill"):
        resumed = _run(data, tmp_path / name, BASE)
        a, b = _weights(tmp_path / name), _weights(tmp_path / "full")
        assert all(torch.equal(a[k], b[k]) for k in b), name
        assert np.array_equal(_losses(tmp_path / name), _losses(tmp_path / "full")), name
        assert resumed["val"] == full["val"]


def test_checkpoint_of_other_settings_is_not_resumed(data, tmp_path, monkeypatch):
    """A rerun after a config change starts afresh instead of continuing the old trajectory."""
    _killed_after_checkpoint(monkeypatch, data, tmp_path / "run", BASE, at_step=6)
    changed = replace(BASE, lr=BASE.lr / 2)
    resumed = _run(data, tmp_path / "run", changed)
    fresh = _run(data, tmp_path / "fresh", changed)
    assert np.array_equal(_losses(tmp_path / "run"), _losses(tmp_path / "fresh"))
    assert resumed["val"] == fresh["val"]


def test_nan_loss_names_the_step_and_exports_nothing(data, tmp_path, monkeypatch):
    real_forward = LMLoss.forward
    calls = []

    def nan_on_third_step(self, *args):
        loss, correct = real_forward(self, *args)
        calls.append(1)
        return (loss * float("nan") if len(calls) == 3 else loss), correct

    monkeypatch.setattr(LMLoss, "forward", nan_on_third_step)
    with pytest.raises(GenolmError, match=r"loss is nan at step 3; lower pretrain.lr"):
        _run(data, tmp_path, BASE)
    assert not (tmp_path / "model").exists() and not (tmp_path / "metrics.json").exists()


def test_huge_learning_rate_is_caught_before_export(data, tmp_path):
    with pytest.raises(GenolmError, match=r"(loss|gradient norm) is (nan|inf) at step \d+"):
        _run(data, tmp_path, replace(BASE, lr=1e30, warmup_steps=0, max_steps=20, max_grad_norm=1e38))
    assert not (tmp_path / "model").exists()


def test_patience_stops_and_exports_the_best_validation(data, tmp_path, monkeypatch):
    scripted = iter([2.0, 1.0, 1.5, 1.7, 0.1])

    def fake_evaluate(*args, **kwargs):
        return {"loss": next(scripted), "perplexity": 1.0, "accuracy": 0.5}

    monkeypatch.setattr(loop_mod, "evaluate", fake_evaluate)
    metrics = _run(data, tmp_path, replace(BASE, max_steps=50, eval_every=2, patience=2))
    assert metrics["stop_reason"] == "patience"
    assert metrics["steps"] == 8 and metrics["exported_step"] == 4 and metrics["val"]["loss"] == 1.0
    best = load_file(tmp_path / "checkpoints" / "best" / "model.safetensors")
    exported = _weights(tmp_path)
    assert all(torch.equal(best[k], exported[k]) for k in best)


def test_wall_clock_budget_stops_validates_and_exports(data, tmp_path):
    metrics = _run(data, tmp_path, replace(BASE, max_steps=1000, max_minutes=1e-6))
    assert metrics["stop_reason"] == "max_minutes" and metrics["steps"] == 1
    assert [r["phase"] for r in _log(tmp_path)] == ["train", "val"]
    assert (tmp_path / "model" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        (replace(BASE, processes=3), "batch_size 8 is not divisible by the 3 training processes"),
        (replace(BASE, gpus=2, processes=3), "expected 1 or the number of GPUs"),
    ],
)
def test_bad_process_layouts(data, tmp_path, settings, match):
    with pytest.raises(GenolmError, match=match):
        _run(data, tmp_path, settings)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only message")
def test_gpus_without_cuda_is_one_line(data, tmp_path):
    with pytest.raises(GenolmError, match="pretrain.gpus is 1 but no CUDA GPU is visible"):
        _run(data, tmp_path, replace(BASE, gpus=1))


@pytest.mark.workflow
def test_causal_lm_runs_through_the_workflow(tmp_path):
    """gpt2 through pretrain and zero-shot variant scoring; the export loads as a causal LM."""
    (tmp_path / "clm.yaml").write_text("model: {family: gpt2, preset: tiny}\npretrain: {max_steps: 6}\n")
    results = tmp_path / "results" / "mini"
    target = "results/mini/disease_risk/clinvar_like/zeroshot/metrics.json"
    # "--" ends --configfile's list, so the target is not read as a config file.
    run_snakemake(tmp_path, target, configfiles=[REPO / ".test" / "config.yaml", tmp_path / "clm.yaml"])
    model_dir = results / "pretrain" / "model"
    assert json.loads((model_dir / "genolm.json").read_text())["objective"] == "clm"
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    assert model.config.model_type == "gpt2"
    ids = tokenizer(["ACGTACGTAC"], return_tensors="pt", return_token_type_ids=False)["input_ids"]
    assert model(input_ids=ids).logits.shape == (1, ids.shape[1], len(tokenizer))
    metrics = json.loads((results / "pretrain" / "metrics.json").read_text())
    assert metrics["objective"] == "clm" and metrics["steps"] == 6 and "bits_per_base" in metrics["val"]
    scores = json.loads((tmp_path / target).read_text())
    assert scores["method"] == "zeroshot" and 0.0 <= scores["metrics"]["auroc"]["value"] <= 1.0


def _pair_windows(n: int = 12, width: int = 9) -> np.ndarray:
    return np.random.default_rng(5).integers(0, 5, (n, width), dtype=np.uint8)


def test_pair_sample_strand_halves_labels_and_determinism():
    windows = _pair_windows()
    rows = np.array([0, 2, 3, 5, 7, 8, 11])
    first, second, labels = pair_sample(windows, rows, "strand", np.random.default_rng(1))
    assert first.shape == second.shape == (7, 4)  # the odd 9th base is left out
    assert np.array_equal(first, windows[rows, :4])
    assert (labels == PAIR_REPLACED).sum() == 3 and set(labels.tolist()) == {PAIR_KEPT, PAIR_REPLACED}
    kept = labels == PAIR_KEPT
    assert np.array_equal(second[kept], windows[rows[kept], 4:8])
    assert np.array_equal(second[~kept], reverse_complement_codes(windows[rows[~kept], 4:8]))
    again = pair_sample(windows, rows, "strand", np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(again, (first, second, labels), strict=True))
    draws = {tuple(pair_sample(windows, rows, "strand", np.random.default_rng(s))[2]) for s in range(8)}
    assert len(draws) > 1


def test_pair_sample_adjacent_takes_another_windows_second_half():
    windows = _pair_windows(n=40, width=16)
    rows = np.arange(40)
    first, second, labels = pair_sample(windows, rows, "adjacent", np.random.default_rng(2))
    assert np.array_equal(first, windows[:, :8]) and (labels == PAIR_REPLACED).sum() == 20
    assert np.array_equal(second[labels == PAIR_KEPT], windows[labels == PAIR_KEPT, 8:])
    sources = []
    for i in np.flatnonzero(labels == PAIR_REPLACED):
        matches = np.flatnonzero((windows[:, 8:] == second[i]).all(1))
        assert len(matches) == 1 and matches[0] != i  # some other window's second half, never its own
        sources.append(int(matches[0]))
    assert len(set(sources)) > 10  # drawn across the windows, not one fixed partner
    with pytest.raises(GenolmError, match="needs at least 2 windows"):
        pair_sample(windows[:1], np.array([0]), "adjacent", np.random.default_rng(0))


def test_tokenize_pairs_layout_and_token_types():
    tokenizer = build_tokenizer("char")
    first = np.array([[0, 1, 2], [3, 3, 4]], dtype=np.uint8)
    second = np.array([[2, 2, 0], [1, 0, 3]], dtype=np.uint8)
    ids, types = tokenize_pairs(tokenizer, first, second)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    text = tokenizer.convert_ids_to_tokens
    assert (
        ids[:, 0].tolist() == [cls, cls]
        and ids[:, 4].tolist() == [sep, sep]
        and ids[:, 8].tolist() == [sep, sep]
    )
    assert "".join(text(ids[0, 1:4].tolist())) == "ACG" and "".join(text(ids[0, 5:8].tolist())) == "GGA"
    assert "".join(text(ids[1, 1:4].tolist())) == "TTN" and "".join(text(ids[1, 5:8].tolist())) == "CAT"
    assert types.tolist() == [[0] * 5 + [1] * 4] * 2
    assert ids.shape[1] == max_tokens(tokenizer, 6) + 1  # one position more than a plain window


@pytest.fixture(scope="module")
def strand_run(tmp_path_factory) -> Path:
    """A trivially learnable strand task: windows of A and C only, so a reverse-complemented half is G/T."""
    root = tmp_path_factory.mktemp("strand")
    windows = np.random.default_rng(0).integers(0, 2, (96, 32), dtype=np.uint8)
    (root / "windows").mkdir()
    np.save(root / "windows" / "train.npy", windows[:64])
    np.save(root / "windows" / "val.npy", windows[64:])
    save_tokenizer(root / "windows" / "train.npy", root / "tokenizer", kind="char", window=32)
    settings = replace(
        BASE,
        max_steps=16,
        batch_size=16,
        eval_every=8,
        checkpoint_every=8,
        eval_batches=2,
        lr=3e-3,
        dropout=0.0,
        pair_objective="strand",
    )
    _run(root, root / "out", settings)
    return root / "out"


def test_pair_objective_learns_and_logs_pair_metrics(strand_run):
    vals = [r for r in _log(strand_run) if r["phase"] == "val"]
    assert list(vals[0])[-2:] == ["pair_loss", "pair_accuracy"]
    assert float(vals[0]["pair_accuracy"]) <= 0.75 and float(vals[-1]["pair_accuracy"]) >= 0.95
    assert float(vals[-1]["pair_loss"]) < 0.5 * float(vals[0]["pair_loss"])
    assert all(r["pair_loss"] for r in _log(strand_run))  # train rows too
    metrics = json.loads((strand_run / "metrics.json").read_text())
    assert metrics["val"]["pair_accuracy"] == pytest.approx(float(vals[-1]["pair_accuracy"]), abs=1e-5)
    assert metrics["settings"]["pair_objective"] == "strand" and metrics["settings"]["pair_weight"] == 1.0
    assert 0 < metrics["val"]["loss"] < np.log(10)  # the MLM validation on whole windows is still there


def test_pair_trained_export_loads_as_a_masked_lm(strand_run):
    model_dir = strand_run / "model"
    pretrained = load_pretrained(model_dir)
    assert type(pretrained.model).__name__ == "BertForMaskedLM" and pretrained.objective == "mlm"
    weights = _weights(strand_run)
    assert not any("pooler" in k or "seq_relationship" in k for k in weights)  # masked-LM part only
    model = AutoModelForMaskedLM.from_pretrained(model_dir, local_files_only=True).eval()
    ids = pretrained.tokenizer(["ACCA" * 8], return_tensors="pt", return_token_type_ids=False)["input_ids"]
    assert model(input_ids=ids).logits.shape == (1, 34, len(pretrained.tokenizer))
    checkpoint = load_file(strand_run / "checkpoints" / "latest" / "model.safetensors")
    assert "cls.seq_relationship.weight" in checkpoint  # the pair head is kept for resuming
    assert all(torch.equal(checkpoint[k], weights[k]) for k in weights)
    assert "Pair objective: strand" in (model_dir / "README.md").read_text()


def test_pair_run_resumes_exactly_and_is_fingerprinted(data, tmp_path, monkeypatch):
    settings = replace(BASE, pair_objective="adjacent", pair_weight=0.5)
    full = _run(data, tmp_path / "full", settings)
    _killed_after_checkpoint(monkeypatch, data, tmp_path / "kill", settings, at_step=6)
    resumed = _run(data, tmp_path / "kill", settings)
    assert np.array_equal(_losses(tmp_path / "kill"), _losses(tmp_path / "full"))
    a, b = _weights(tmp_path / "kill"), _weights(tmp_path / "full")
    assert all(torch.equal(a[k], b[k]) for k in b)
    assert resumed["val"] == full["val"]
    train_w = np.load(data / "windows" / "train.npy")
    val_w = np.load(data / "windows" / "val.npy")
    tokenizer = AutoTokenizer.from_pretrained(data / "tokenizer")
    prints = {
        run_fingerprint(s, train_w, val_w, tokenizer)
        for s in (
            BASE,
            settings,
            replace(settings, pair_weight=1.0),
            replace(settings, pair_objective="strand"),
        )
    }
    assert len(prints) == 4
    assert "pair_objective" not in recorded_settings(BASE)  # plain runs record what they did before
    assert recorded_settings(settings)["pair_weight"] == 0.5


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        (
            replace(BASE, family="roberta", pair_objective="adjacent"),
            "needs model.family bert .*got 'roberta'",
        ),
        (replace(BASE, family="gpt2", pair_objective="strand"), "needs model.family bert .*got 'gpt2'"),
        (replace(BASE, pair_objective="shuffle"), "pretrain.pair_objective: got 'shuffle', expected one of"),
    ],
)
def test_pair_objective_config_errors_are_one_line(data, tmp_path, settings, match):
    with pytest.raises(GenolmError, match=match) as err:
        _run(data, tmp_path, settings)
    assert "\n" not in str(err.value) and not (tmp_path / "model").exists()


def test_pair_objective_continues_from_a_pair_export_but_not_a_plain_model(strand_run, tmp_path):
    root = strand_run.parent
    settings = replace(BASE, max_steps=2, eval_every=2, batch_size=16, pair_objective="strand")
    continued = _run(root, tmp_path / "again", replace(settings, init_from=str(strand_run / "model")))
    assert continued["steps"] == 2 and 0 <= continued["val"]["pair_accuracy"] <= 1
    tokenizer = AutoTokenizer.from_pretrained(root / "tokenizer", local_files_only=True)
    plain = build_model(build_config("bert", model_size("tiny"), tokenizer, 64), "bert")
    plain.save_pretrained(tmp_path / "plain", safe_serialization=True)
    with pytest.raises(GenolmError, match="type_vocab_size 1; pretrain.pair_objective needs 2 token types"):
        _run(root, tmp_path / "refused", replace(settings, init_from=str(tmp_path / "plain")))
