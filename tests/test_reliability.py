"""Faults from outside: the pretrain job killed mid-run under the real snakemake, and a full disk.

The kill tests run .test/config.yaml up to pretraining (80 steps of batch 8, checkpoints every 20),
SIGTERM or SIGKILL the pretrain Python process once a checkpoint at step >= 40 exists, check that
snakemake reports the failure, rerun, and compare the resumed result with one uninterrupted run.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
import yaml
from conftest import REPO, SNAKEMAKE
from safetensors.torch import load_file

from genolm import download
from genolm.errors import GenolmError
from genolm.logs import run_step
from genolm.windows import preprocess_genome

R = Path("results/mini")
TARGET = str(R / "pretrain" / "metrics.json")
OVERRIDE = {"pretrain": {"max_steps": 80, "batch_size": 8, "checkpoint_every": 20, "eval_every": 40}}
KILL_AFTER_STEP = 40


def _command(workdir: Path) -> list[str]:
    return [
        str(SNAKEMAKE),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        TARGET,
        "--configfile",
        str(REPO / ".test" / "config.yaml"),
        str(workdir / "override.yaml"),
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _snakemake(workdir: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(_command(workdir), capture_output=True, text=True, timeout=600, env=_env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def _result(workdir: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    metrics = json.loads((workdir / R / "pretrain" / "metrics.json").read_text())
    return metrics, load_file(workdir / R / "pretrain" / "model" / "model.safetensors")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """One uninterrupted run of the same config, shared by the kill tests."""
    workdir = tmp_path_factory.mktemp("uninterrupted")
    (workdir / "override.yaml").write_text(yaml.safe_dump(OVERRIDE))
    _snakemake(workdir)
    return workdir


def _checkpoint_step(state: Path) -> int:
    try:
        return int(json.loads(state.read_text())["step"])
    except (OSError, ValueError, KeyError):  # absent, or between the checkpoint's delete and rename
        return -1


def _pretrain_process(snakemake_pid: int) -> psutil.Process:
    """The Python process running the pretrain rule's script, below snakemake (what SLURM signals)."""
    for child in psutil.Process(snakemake_pid).children(recursive=True):
        try:
            cmdline = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "python" in Path(cmdline[0]).name and any(arg.endswith("pretrain.py") for arg in cmdline[1:]):
            return child
    raise AssertionError("no pretrain python process below snakemake")


@pytest.mark.workflow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_pretrain_resumes_to_the_uninterrupted_result(reference, tmp_path, sig):
    workdir = tmp_path / "run"
    shutil.copytree(reference, workdir, symlinks=True)
    for produced in (R / "pretrain", R / "checkpoints"):
        shutil.rmtree(workdir / produced)
    state = workdir / R / "checkpoints" / "pretrain" / "latest" / "state.json"
    with open(tmp_path / "first.out", "w") as out:
        proc = subprocess.Popen(
            _command(workdir), stdout=out, stderr=subprocess.STDOUT, env=_env(), start_new_session=True
        )
        try:
            deadline = time.monotonic() + 300
            while _checkpoint_step(state) < KILL_AFTER_STEP:
                assert proc.poll() is None, "snakemake ended before the checkpoint to kill at"
                assert time.monotonic() < deadline, "no checkpoint at step >= 40 within 300 s"
                time.sleep(0.05)
            _pretrain_process(proc.pid).send_signal(sig)
            assert proc.wait(timeout=300) != 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    first = (tmp_path / "first.out").read_text()
    assert "Error in rule pretrain" in first
    assert not (workdir / R / "pretrain" / "metrics.json").exists()
    stopped_at = _checkpoint_step(state)
    log = (workdir / R / "logs" / "pretrain.log").read_text()
    if sig == signal.SIGTERM:
        errors = [line for line in log.splitlines() if " ERROR " in line]
        assert len(errors) == 1 and errors[0].endswith(
            f"pretrain: stopped by SIGTERM at step {stopped_at}; rerun to resume from "
            f"{R}/checkpoints/pretrain/latest"
        ), log[-2000:]
        assert stopped_at >= KILL_AFTER_STEP
    else:
        assert stopped_at >= KILL_AFTER_STEP and stopped_at % OVERRIDE["pretrain"]["checkpoint_every"] == 0
    assert stopped_at < OVERRIDE["pretrain"]["max_steps"]

    rerun = _snakemake(workdir)
    assert "Rule: simulate" not in rerun.stderr and "Rule: windows" not in rerun.stderr  # only pretrain reran
    log = (workdir / R / "logs" / "pretrain.log").read_text()
    assert f"resumed from {R}/checkpoints/pretrain/latest at step {stopped_at}" in log
    metrics, weights = _result(workdir)
    want_metrics, want_weights = _result(reference)
    assert metrics["steps"] == want_metrics["steps"] == OVERRIDE["pretrain"]["max_steps"]
    assert metrics["val"] == want_metrics["val"]  # exact: CPU training is deterministic step by step
    assert weights.keys() == want_weights.keys()
    assert all(torch.equal(weights[k], want_weights[k]) for k in weights)


# ------------------------------------------------------------------ full disk


def _enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _FullDisk:
    """A file whose writes succeed for `room` bytes, then fail with ENOSPC (after writing what fits)."""

    def __init__(self, fh, room: int = 1000) -> None:
        self.fh, self.room = fh, room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            self.fh.write(data[: self.room])
            raise _enospc()
        self.room -= len(data)
        return self.fh.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.fh.close()


def _everything_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_local_copy_hitting_enospc_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    source = tmp_path / "src" / "genome.fa"
    source.parent.mkdir()
    source.write_bytes(b">a\n" + b"ACGT" * 5000 + b"\n")
    out = tmp_path / "out"
    out.mkdir()

    def copy_until_full(src, dst, **_kwargs):
        with open(src, "rb") as fin, _FullDisk(open(dst, "wb")) as fout:
            fout.write(fin.read())

    monkeypatch.setattr(shutil, "copyfile", copy_until_full)
    with pytest.raises(GenolmError) as info:
        download.fetch(str(source), out / "genome.fa")
    assert str(info.value) == (
        f"{source}: cannot write {out / 'genome.fa'} (No space left on device); free space in {out} and rerun"
    )
    assert _everything_under(out) == []


class _Payload(BaseHTTPRequestHandler):
    body = bytes(range(256)) * 400

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


def test_http_download_hitting_enospc_is_one_line_and_caches_nothing(tmp_path, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Payload)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/genome.fa"
    real_open = open

    def full_disk_open(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        return _FullDisk(fh) if any(m in mode for m in "wa") else fh

    monkeypatch.setattr(download, "open", full_disk_open, raising=False)
    dest, cache = tmp_path / "out" / "genome.fa", tmp_path / "cache"
    try:
        with pytest.raises(GenolmError, match=r"No space left on device\); free space in .*cache and rerun$"):
            download.fetch(url, dest, cache_dir=cache, retries=2, backoff=0.01)
    finally:
        server.shutdown()
    assert not dest.exists() and [p for p in _everything_under(tmp_path) if Path(p).suffix] == []


@pytest.fixture
def genome(tmp_path) -> Path:
    rng = np.random.default_rng(3)
    path = tmp_path / "g.fa"
    path.write_text("".join(f">c{i}\n{''.join(rng.choice(list('ACGT'), 6000))}\n" for i in range(3)))
    return path


@pytest.mark.parametrize("full_at", ["train", "val"])
def test_windows_gather_hitting_enospc_leaves_no_partial_file(genome, tmp_path, monkeypatch, full_at):
    real, opened = np.lib.format.write_array_header_1_0, []

    def header_until_full(fp, header):
        opened.append(fp.name)  # the file now exists, opened but unfilled: a partial
        if len(opened) == ["train", "val"].index(full_at) + 1:
            raise _enospc()
        return real(fp, header)

    monkeypatch.setattr(np.lib.format, "write_array_header_1_0", header_until_full)
    work = tmp_path / "work"
    split = {"method": "blocks", "block_size": 1000, "gap": 0}
    with pytest.raises(OSError) as info:
        preprocess_genome(genome, work, window=100, stride=100, split=split)
    assert info.value.errno == errno.ENOSPC
    windows = work / "preprocess" / "windows"
    left = _everything_under(windows)
    assert not (work / "preprocess" / "summary.json").exists()
    if full_at == "train":
        assert left == []
    else:  # train.npy was complete and renamed before val failed; snakemake deletes a failed job's outputs
        assert left == ["train.npy"] and np.load(windows / "train.npy").shape[1] == 100


def test_run_step_turns_enospc_into_one_error_line(genome, tmp_path, monkeypatch):
    def no_space(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "work" / "x.npy"))

    monkeypatch.setattr(np.lib.format, "write_array_header_1_0", no_space)
    log = tmp_path / "step.log"
    split = {"method": "blocks", "block_size": 1000, "gap": 0}
    with pytest.raises(SystemExit) as info:
        run_step(preprocess_genome, log, genome=genome, work_dir=tmp_path / "work", window=100, split=split)
    logging.shutdown()
    lines = log.read_text().splitlines()
    errors = [line for line in lines if " ERROR " in line]
    assert info.value.code == 1 and len(errors) == 1 and "Traceback" not in log.read_text()
    assert errors[0].endswith(
        f"preprocess_genome: No space left on device ({tmp_path / 'work' / 'x.npy'}); "
        "free disk space or memory and rerun"
    )
