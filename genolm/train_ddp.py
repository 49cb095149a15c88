"""Data-parallel pretraining: launch `torchrun` workers and run the loop of one worker.

`launch` is called by `genolm.train.pretrain` when more than one process is configured; it writes the run's
arguments to a JSON file, starts `python -m torch.distributed.run --standalone` on this module, relays the
workers' output to the log and forwards SIGTERM (torchrun passes it on to every worker, which checkpoints).
Each worker joins the process group (gloo on CPU, nccl on GPU) and runs `genolm.train.train`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import torch.distributed as dist

from genolm.atomic import write_json
from genolm.errors import GenolmError

LOG = logging.getLogger(__name__)
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def torchrun_argv(spec: str | Path, nproc: int) -> list[str]:
    """The torchrun command line that runs `nproc` workers of this module on one machine."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "genolm.train_ddp",
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


def launch(kwargs: dict, settings: dict, world: int) -> dict:
    """Run `genolm.train.train` in `world` torchrun workers; returns rank 0's metrics."""
    spec = Path(kwargs["checkpoint_dir"]) / "torchrun.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    write_json(spec, {"kwargs": kwargs, "settings": settings})
    argv = torchrun_argv(spec, world)
    LOG.info("launching %s", " ".join(argv))
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=worker_env(settings["threads"], world),
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
    return json.loads(Path(kwargs["metrics_json"]).read_text())


def main(spec_path: str) -> None:
    """One torchrun worker: join the group, train, leave; a GenolmError is one ERROR line and exit 1."""
    import torch

    from genolm.logs import setup_logging
    from genolm.train import PretrainSettings, train

    spec = json.loads(Path(spec_path).read_text())
    settings = PretrainSettings(**spec["settings"])
    rank = int(os.environ["RANK"])
    setup_logging(level=logging.INFO if rank == 0 else logging.WARNING)
    dist.init_process_group("nccl" if settings.gpus > 0 and torch.cuda.is_available() else "gloo")
    try:
        train(settings=settings, **spec["kwargs"])
    except GenolmError as err:
        logging.getLogger("genolm").error("%s", err)
        sys.exit(1)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
