"""Data-parallel pretraining: start `torchrun` workers on this machine and follow them.

`launch` writes the run as JSON (`RunPaths` and `PretrainSettings` through `asdict`), starts
`python -m torch.distributed.run --standalone` on `genolm.pretrain.worker`, relays the workers' output to
the log and forwards SIGTERM (torchrun passes it on to every worker, which checkpoints). The workers read
the JSON back into the same dataclasses (`read_spec`), so the process boundary stays typed.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from genolm.atomic import write_json
from genolm.errors import GenolmError
from genolm.pretrain.settings import PretrainSettings, RunPaths

LOG = logging.getLogger(__name__)
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
WORKER_MODULE = "genolm.pretrain.worker"


def torchrun_argv(spec: str | Path, nproc: int) -> list[str]:
    """The torchrun command line that runs `nproc` workers on one machine."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        WORKER_MODULE,
        str(spec),
    ]


def worker_env(threads: int, world: int) -> dict[str, str]:
    """Environment of the workers: this package importable, no hub access, cores shared out."""
    path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": str(max(1, threads // world)),
    }


def write_spec(path: Path, paths: RunPaths, settings: PretrainSettings) -> None:
    """The run as JSON for the workers."""
    write_json(path, {"paths": asdict(paths), "settings": asdict(settings)})


def read_spec(path: str | Path) -> tuple[RunPaths, PretrainSettings]:
    """The run written by `write_spec`, typed again."""
    spec = json.loads(Path(path).read_text())
    return RunPaths(**spec["paths"]), PretrainSettings(**spec["settings"])


def launch(paths: RunPaths, settings: PretrainSettings, world: int) -> dict:
    """Run the loop in `world` torchrun workers and wait for them.

    Args:
        paths: the run's files; the spec is written to `checkpoint_dir/torchrun.json`.
        settings: the run's hyperparameters.
        world: the number of workers.

    Returns:
        Rank 0's metrics (read back from `paths.metrics_json`).

    Raises:
        GenolmError: a worker failed; the message is its first ERROR line.
    """
    spec = Path(paths.checkpoint_dir) / "torchrun.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    write_spec(spec, paths, settings)
    argv = torchrun_argv(spec, world)
    LOG.info("launching %s", " ".join(argv))
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=worker_env(settings.threads, world),
    )
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.send_signal(signal.SIGTERM))
    errors: list[str] = []
    try:
        for line in proc.stdout:
            line = line.rstrip()
            LOG.info("| %s", line)
            if " ERROR " in line:
                errors.append(line.split(": ", 1)[-1])
        code = proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            proc.kill()
    if code != 0:
        reason = errors[0] if errors else f"torchrun exited with status {code}"
        raise GenolmError(f"pretrain ({world} processes): {reason}")
    return json.loads(Path(paths.metrics_json).read_text())
