"""Data-parallel pretraining: start `torchrun` workers, on this machine or on every node of a SLURM job.

`launch` writes the run as JSON (`RunPaths` and `PretrainSettings` through `asdict`), starts torchrun on
`genolm.pretrain.worker`, relays the workers' output to the log and forwards SIGTERM (torchrun passes it
on to every worker, which checkpoints). The workers read the JSON back into the same dataclasses
(`read_spec`), so the process boundary stays typed.

On one node torchrun runs `--standalone`. With `pretrain.nodes` > 1 the job is a SLURM allocation of one
task per node (the rule's `nodes`/`tasks`/`mpi` resources, which the SLURM executor plugin turns into
`sbatch --nodes --ntasks` and runs without its own `srun` wrapper); `srun` then starts one torchrun agent
per task, and the agents meet at a c10d rendezvous on the allocation's first node, keyed by the job id.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from genolm.atomic import write_json
from genolm.errors import GenolmError
from genolm.pretrain.settings import PretrainSettings, RunPaths, processes_per_node

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


def srun_argv(spec: str | Path, settings: PretrainSettings, env: dict[str, str]) -> list[str]:
    """The `srun` command line that starts one torchrun agent per SLURM task, meeting at a c10d rendezvous.

    The allocation is read back from SLURM (`scontrol`), not from `SLURM_*` variables: the SLURM
    executor's job step removes those before it runs the rule.

    Args:
        spec: the run's JSON spec (on the shared file system).
        settings: `nodes` agents of `processes_per_node` workers each, `threads` CPUs per agent.
        env: the job's environment (`SLURM_JOB_ID`).

    Raises:
        GenolmError: not inside a SLURM job, no `srun`, or fewer SLURM tasks than `pretrain.nodes`.
    """
    nodes = settings.nodes
    if "SLURM_JOB_ID" not in env:
        raise GenolmError(
            f"pretrain.nodes is {nodes} but this job is not a SLURM allocation; "
            "run it with a SLURM profile (profiles/slurm-multinode)"
        )
    if shutil.which("srun") is None:
        raise GenolmError(f"pretrain.nodes is {nodes} but `srun` is not on this job's PATH")
    hosts, tasks = allocation(env["SLURM_JOB_ID"])
    if tasks < nodes:
        raise GenolmError(
            f"pretrain.nodes is {nodes} but the SLURM job has {tasks} task(s); "
            "expected one task per node (the pretrain rule's `tasks` resource)"
        )
    return [
        "srun",
        f"--nodes={min(len(hosts), nodes)}",  # with --ntasks equal to the nodes, one agent on each
        f"--ntasks={nodes}",
        f"--cpus-per-task={settings.threads}",
        "--kill-on-bad-exit=1",
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nnodes={nodes}",
        f"--nproc_per_node={processes_per_node(settings)}",
        "--rdzv_backend=c10d",
        f"--rdzv_endpoint={hosts[0]}:{free_port()}",  # the first node, where this launcher runs
        f"--rdzv_id=genolm-{env['SLURM_JOB_ID']}",
        "-m",
        WORKER_MODULE,
        str(spec),
    ]


def _scontrol(*args: str) -> str:
    proc = subprocess.run(["scontrol", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GenolmError(f"pretrain: `scontrol {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc.stdout


def allocation(job_id: str) -> tuple[list[str], int]:
    """The job's hosts (first node first) and its number of tasks, as SLURM records them."""
    fields = dict(f.split("=", 1) for f in _scontrol("show", "job", "-o", job_id).split() if "=" in f)
    hosts = _scontrol("show", "hostnames", fields.get("NodeList", "")).split()
    if not hosts or not fields.get("NumTasks", "").isdigit():
        raise GenolmError(f"pretrain: SLURM job {job_id} has no node list or task count")
    return hosts, int(fields["NumTasks"])


def free_port() -> int:
    """A TCP port free on this node now, for the rendezvous store."""
    with socket.socket() as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def worker_env(threads: int, processes: int) -> dict[str, str]:
    """Environment of the workers: this package importable, no hub access, a node's `threads` shared out
    over its `processes`."""
    path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": str(max(1, threads // processes)),
    }


def write_spec(path: Path, paths: RunPaths, settings: PretrainSettings) -> None:
    """The run as JSON for the workers."""
    write_json(path, {"paths": asdict(paths), "settings": asdict(settings)})


def read_spec(path: str | Path) -> tuple[RunPaths, PretrainSettings]:
    """The run written by `write_spec`, typed again."""
    spec = json.loads(Path(path).read_text())
    return RunPaths(**spec["paths"]), PretrainSettings(**spec["settings"])


def launch(paths: RunPaths, settings: PretrainSettings, world: int) -> dict:
    """Run the loop in `world` torchrun workers (over `settings.nodes` SLURM nodes) and wait for them.

    Args:
        paths: the run's files; the spec is written to `checkpoint_dir/torchrun.json`.
        settings: the run's hyperparameters.
        world: the number of workers over all nodes.

    Returns:
        Rank 0's metrics (read back from `paths.metrics_json`).

    Raises:
        GenolmError: a worker failed; the message is its first ERROR line.
    """
    spec = Path(paths.checkpoint_dir) / "torchrun.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    write_spec(spec, paths, settings)
    argv = torchrun_argv(spec, world) if settings.nodes == 1 else srun_argv(spec, settings, dict(os.environ))
    LOG.info("launching %s", " ".join(argv))
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=worker_env(settings.threads, processes_per_node(settings)),
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
