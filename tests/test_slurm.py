"""The mini workflow through a real single-node SLURM: `snakemake --profile profiles/slurm`.

The fixture installs Debian's slurm-wlm, slurmdbd, munge and mariadb-server when missing (root +
apt-get), starts munged, MariaDB, slurmdbd, slurmctld and slurmd as plain child processes (no
systemd, no cgroups), and stops every daemon it started afterwards. Accounting is real (slurmdbd on a
throwaway MariaDB database), so the executor's default `sacct` status check works and the test can
ask SLURM itself which jobs ran. A machine that cannot run SLURM fails this test in CI (skips
elsewhere) with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from conftest import REPO, SNAKEMAKE, run_snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

MARKER = "# written by genolm tests/test_slurm.py; removed when the test ends"
PACKAGES = ["slurm-wlm", "slurmdbd", "munge", "mariadb-server"]
BINARIES = ["munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacct", "sacctmgr", "sinfo"]
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
SLURM_CONF = Path("/etc/slurm/slurm.conf")  # the executor drops SLURM_CONF before `srun` in jobs
SLURMDBD_CONF = Path("/etc/slurm/slurmdbd.conf")
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
MYSQL_SOCKET = Path("/run/mysqld/mysqld.sock")
RUN_TIMEOUT = 900  # a limit for a hung run, not a speed check: the mini run takes 4–9 min on 2 cores
MINI = REPO / ".test" / "config.yaml"
# Pretraining as a 2-node job (one torchrun agent per SLURM task, gloo on CPU); the test cluster has one
# node, so `--set-resources pretrain:nodes=1` places both tasks on it.
TWO_AGENTS = "pretrain:\n  nodes: 2\n  threads: 1\n"


def _workflow_rules() -> tuple[set[str], set[str]]:
    """(rules the mini dry run schedules, every rule of the workflow), from snakemake itself.

    Rules change over time, and jobs behind a checkpoint only appear once it has run, so the dry
    run gives a lower bound and `--list-rules` an upper bound of what SLURM must have run.
    """
    workdir = Path(tempfile.mkdtemp())
    proc = run_snakemake(workdir, "-n", "--quiet", "rules", configfiles=[MINI])
    rows = [line.split() for line in proc.stdout.splitlines()]
    start = next(i for i, row in enumerate(rows) if row == ["job", "count"]) + 2  # skip the dashes
    end = next(i for i, row in enumerate(rows) if i > start and row[:1] == ["total"])
    listed = run_snakemake(workdir, "--list-rules", configfiles=[MINI]).stdout.splitlines()
    every = {line.split()[0] for line in listed if line and not line[0].isspace()}
    return {row[0] for row in rows[start:end]} - {"all"}, every - {"all"}


def _unavailable(reason: str):
    """CI must run this test; elsewhere a machine without root/apt-get may skip it."""
    if os.environ.get("CI"):
        pytest.fail(f"cannot run a local SLURM: {reason}")
    pytest.skip(f"cannot run a local SLURM: {reason}")


def _which(name: str) -> str | None:
    return shutil.which(name, path=SBIN_PATH)


def _sh(*cmd: str, check: bool = True, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=timeout)


def _install() -> None:
    if all(_which(b) for b in BINARIES):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        _unavailable(f"{', '.join(PACKAGES)} are not installed and this is not root with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
    ):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        if proc.returncode != 0:
            _unavailable(f"`{' '.join(cmd)}` failed: {proc.stderr.strip()[-500:]}")


def _wait(what: str, ready, logs: list[Path], timeout: float = 60) -> None:
    """Poll `ready()` until it is true; otherwise fail with the daemon logs' tails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.25)
    tails = "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-1500:]}" for p in logs if p.is_file())
    _unavailable(f"{what} not ready after {timeout:.0f} s\n{tails}")


def _ok(*cmd: str) -> bool:
    try:
        return _sh(*cmd, check=False, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _node_memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            # Memory is bookkeeping here (no cgroups): declare at least 16 GB so a small CI
            # machine still accepts the rules' mem_mb requests.
            return max(int(line.split()[1]) // 1024, 16000)
    raise AssertionError("no MemTotal in /proc/meminfo")


def _slurm_conf(state: Path, database: str) -> tuple[str, str]:
    slurm = f"""{MARKER}
ClusterName=genolm
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/d
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MinJobAge=600
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoreFlags=job_comment
NodeName=localhost NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={_node_memory_mb()} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""
    dbd = f"""{MARKER}
DbdHost=localhost
SlurmUser=root
AuthType=auth/munge
PidFile={state}/slurmdbd.pid
LogFile={state}/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc={database}
"""
    return slurm, dbd


class Cluster:
    """The daemons this test started (and only those), stopped in reverse order."""

    def __init__(self, state: Path):
        self.state = state
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.database = f"genolm_test_{uuid.uuid4().hex[:12]}"
        self.wrote_confs = False
        self.mariadb_ours = False

    def start(self, name: str, cmd: list[str], **kwargs) -> None:
        log = (self.state / f"{name}.out").open("w")
        self.procs.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, **kwargs)))

    def logs(self, *names: str) -> list[Path]:
        return [self.state / f"{n}.out" for n in names] + [self.state / f"{n}.log" for n in names]

    def stop(self) -> None:
        if _which("scancel"):
            _sh("scancel", "--user", "root", check=False)
        for name, proc in reversed(self.procs):
            if name == "mariadbd":
                _sh("mariadb", "-e", f"DROP DATABASE IF EXISTS {self.database}", check=False)
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if not self.mariadb_ours and self.wrote_confs:
            _sh("mariadb", "-e", f"DROP DATABASE IF EXISTS {self.database}", check=False)
        if self.wrote_confs:
            SLURM_CONF.unlink(missing_ok=True)
            SLURMDBD_CONF.unlink(missing_ok=True)


def _boot(cluster: Cluster) -> None:
    for conf in (SLURM_CONF, SLURMDBD_CONF):
        if conf.exists() and MARKER not in conf.read_text():
            _unavailable(f"{conf} exists and is not ours; refusing to replace a real SLURM setup")
    if _ok("scontrol", "ping"):
        _unavailable("a slurmctld is already running on this machine")
    state = cluster.state
    (state / "ctld").mkdir()
    (state / "d").mkdir()
    slurm, dbd = _slurm_conf(state, cluster.database)
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SLURM_CONF.write_text(slurm)
    SLURMDBD_CONF.write_text(dbd)
    SLURMDBD_CONF.chmod(0o600)
    cluster.wrote_confs = True

    if not _ok("munge", "-n"):
        for folder in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
            Path(folder).mkdir(parents=True, exist_ok=True)
            shutil.chown(folder, "munge", "munge")
        cluster.start("munged", [_which("munged"), "--foreground"], user="munge", group="munge")
        _wait("munged", lambda: _ok("munge", "-n"), cluster.logs("munged"))

    if not _ok("mariadb-admin", "ping"):
        MYSQL_SOCKET.parent.mkdir(parents=True, exist_ok=True)
        shutil.chown(MYSQL_SOCKET.parent, "mysql", "mysql")
        cluster.start("mariadbd", [_which("mariadbd"), "--user=mysql", "--skip-networking"])
        cluster.mariadb_ours = True
        _wait("mariadbd", lambda: _ok("mariadb-admin", "ping"), cluster.logs("mariadbd"))

    cluster.start("slurmdbd", [_which("slurmdbd"), "-D"])
    _wait("slurmdbd", lambda: _ok("sacctmgr", "-n", "list", "cluster"), cluster.logs("slurmdbd"))
    _sh("sacctmgr", "-i", "add", "cluster", "genolm", check=False)
    cluster.start("slurmctld", [_which("slurmctld"), "-D"])
    _wait("slurmctld", lambda: _ok("scontrol", "ping"), cluster.logs("slurmctld"))
    cluster.start("slurmd", [_which("slurmd"), "-D", "-N", "localhost"])

    def idle() -> bool:
        proc = _sh("sinfo", "-h", "-N", "-o", "%T", check=False)
        return proc.returncode == 0 and proc.stdout.strip() == "idle"

    _wait("slurmd (node idle in sinfo)", idle, cluster.logs("slurmctld", "slurmd"))


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    """Boot SLURM, run the mini workflow through the slurm profile once; yields what the tests need."""
    started = time.monotonic()
    rules = _workflow_rules()
    _install()
    cluster = Cluster(tmp_path_factory.mktemp("slurm-state"))
    try:
        _boot(cluster)
        booted = time.monotonic()
        workdir = tmp_path_factory.mktemp("slurm-run")
        (workdir / "two_agents.yaml").write_text(TWO_AGENTS)
        env = {
            **os.environ,
            "PATH": os.pathsep.join([str(SNAKEMAKE.parent), SBIN_PATH]),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "SLURM_ACCOUNT": "root",
            "SLURM_PARTITION": "debug",
        }
        cmd = [
            *("timeout", "-k", "10", str(RUN_TIMEOUT)),
            *(str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir)),
            *("--configfile", str(MINI), str(workdir / "two_agents.yaml")),
            *("--profile", str(REPO / "profiles" / "slurm")),
            *("--set-resources", "pretrain:nodes=1"),
            *("--slurm-init-seconds-before-status-checks", "1", "--jobs", "4"),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
        ran = time.monotonic()
        acct = _sh(
            "sacct",
            "-X",
            "-n",
            "-P",
            "-a",
            "--format=JobIDRaw,JobName%64,Comment%200,Account,Partition,State",
        )
        jobs = [
            dict(
                zip(("id", "name", "comment", "account", "partition", "state"), line.split("|"), strict=True)
            )
            for line in acct.stdout.splitlines()
            if line
        ]
        steps = _sh("sacct", "-n", "-P", "-a", "--format=JobIDRaw,NTasks,AllocCPUS,State")
        print(f"SLURM: install+boot {booted - started:.1f} s, workflow {ran - booted:.1f} s")
        yield {
            "proc": proc,
            "jobs": jobs,
            "steps": [line.split("|") for line in steps.stdout.splitlines() if line],
            "rules": rules,
            "results": workdir / "results" / "mini",
        }
    finally:
        cluster.stop()


def test_workflow_completes_through_sbatch(slurm_run):
    proc = slurm_run["proc"]
    assert proc.returncode == 0, f"snakemake failed ({proc.returncode}):\n{proc.stderr[-6000:]}"
    assert (slurm_run["results"] / "report.html").is_file()
    assert (slurm_run["results"] / "pretrain" / "model" / "model.safetensors").is_file()


def test_sacct_records_every_rule_completed(slurm_run):
    jobs = slurm_run["jobs"]
    assert jobs, "sacct recorded no jobs: nothing went through sbatch"
    rules = {j["comment"].removeprefix("rule_").split("_wildcards_")[0] for j in jobs}
    scheduled, every = slurm_run["rules"]  # `all` has no action: snakemake does not submit it
    assert scheduled <= rules <= every, f"missing {scheduled - rules}, unknown {rules - every}"
    assert {j["state"] for j in jobs} == {"COMPLETED"}, jobs
    # The profile took account and partition from $SLURM_ACCOUNT / $SLURM_PARTITION.
    assert {(j["account"], j["partition"]) for j in jobs} == {("root", "debug")}
    # One workflow run: every job carries the same run id as its name.
    assert len({j["name"] for j in jobs}) == 1


def test_pretraining_ran_as_two_torchrun_agents_started_by_srun(slurm_run):
    """One sbatch job of 2 tasks; inside it the code's `srun` started a 2-task step of torchrun agents
    that met at the c10d rendezvous and trained as one 2-process run."""
    (job,) = [j for j in slurm_run["jobs"] if j["comment"].startswith("rule_pretrain")]
    steps = {row[0]: row[1:] for row in slurm_run["steps"]}
    assert steps[job["id"]][1] == "2"  # the allocation: 2 tasks of 1 CPU
    agents = [
        step for step_id, step in steps.items() if step_id.startswith(f"{job['id']}.") and step[0] == "2"
    ]
    assert agents and agents[0][2] == "COMPLETED", steps
    results = slurm_run["results"]
    metrics = json.loads((results / "pretrain" / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["settings"]["nodes"] == 2
    log = (results / "logs" / "pretrain.log").read_text()
    launch = next(line for line in log.splitlines() if "launching srun " in line)
    assert {"--ntasks=2", "--rdzv_backend=c10d", "--nnodes=2", "--nproc_per_node=1"} <= set(launch.split())


class _Resources(dict):
    __getattr__ = dict.__getitem__


def _profile(name: str, monkeypatch, **env: str) -> dict[str, list[str] | str]:
    from snakemake.profiles import ProfileConfigFileParser

    for var in ("SLURM_ACCOUNT", "SLURM_PARTITION", "SLURM_GPU_MODEL", "SLURM_GPU_PARTITION"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    with (REPO / "profiles" / name / "config.yaml").open() as stream:
        return ProfileConfigFileParser().parse(stream)


def test_gpu_profile_gives_pretrain_and_finetune_sbatch_gpus(monkeypatch):
    """What profiles/slurm-gpu sets becomes `--gpus` through the plugin's own gres builder."""
    from types import SimpleNamespace

    from snakemake_executor_plugin_slurm.utils import set_gres_string

    settings = _profile("slurm-gpu", monkeypatch, SLURM_GPU_MODEL="a100", SLURM_GPU_PARTITION="gpu")
    per_rule: dict[str, dict[str, str]] = {}
    for item in settings["set-resources"]:
        rule, _, assignment = item.partition(":")
        key, _, value = assignment.partition("=")
        per_rule.setdefault(rule, {})[key] = value
    assert set(per_rule) == {"pretrain", "finetune", "distill", "score_cohort", "score_variants"}
    for rule, resources in per_rule.items():
        if rule == "score_variants":
            continue  # per-job expressions (model methods only); tests/test_devices.py evaluates them
        assert resources["slurm_partition"] == "gpu"
        job = SimpleNamespace(resources=_Resources(resources))
        assert set_gres_string(job).strip() == "--gpus=a100:1"
    plain = _profile("slurm-gpu", monkeypatch)
    fixed = [item for item in plain["set-resources"] if not item.startswith("score_variants:")]
    assert fixed == ["pretrain:gpu=1", "finetune:gpu=1", "distill:gpu=1", "score_cohort:gpu=1"]
    assert set_gres_string(SimpleNamespace(resources=_Resources(gpu=1))).strip() == "--gpus=1"


def test_slurm_profile_reads_account_and_partition_from_environment(monkeypatch):
    assert _profile("slurm", monkeypatch)["default-resources"] == ["mem_mb=2000", "runtime=60"]
    with_env = _profile("slurm", monkeypatch, SLURM_ACCOUNT="lab42", SLURM_PARTITION="short")
    assert {"slurm_account=lab42", "slurm_partition=short"} <= set(with_env["default-resources"])
    assert with_env["executor"] == "slurm"
