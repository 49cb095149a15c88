"""Where the inputs came from and what made the outputs: sources, software, hardware, run times, config."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path

import yaml

from genolm.report.format import Block, fmt, h3, kv, note, p, pre, section, size, table
from genolm.report.load import Run, read_json
from genolm.report.sections.benchmarks import benchmarks

PACKAGES = (
    "genolm",
    "torch",
    "transformers",
    "tokenizers",
    "numpy",
    "pandas",
    "scikit-learn",
    "snakemake",
    "plotly",
)


def provenance_section(run: Run) -> Block:
    """Checksummed sources, workflow commit and package versions, this machine, run times, the config."""
    commit, dirty = git_state(run.workflow_dir) if run.workflow_dir else ("unknown", "unknown")
    plain = json.loads(json.dumps(run.config, default=str))
    blocks: list[Block] = [
        h3("Sources"),
        _sources(run.results / "data"),
        h3("Software"),
        kv(
            [
                ("Workflow commit", commit),
                ("Uncommitted changes", dirty),
                ("Python", platform.python_version()),
                *((name, _version(name)) for name in PACKAGES),
            ]
        ),
        h3("Hardware (machine that generated this report)"),
        kv(hardware()),
        h3("Run times per rule"),
        *benchmarks(run.results / "benchmarks"),
        h3("Configuration as run"),
        pre(yaml.safe_dump(plain, sort_keys=False, default_flow_style=False)),
        p(f"Report generated {run.generated}."),
    ]
    return section("provenance", "Provenance", blocks)


def _sources(directory: Path) -> Block:
    """One row per downloaded or simulated input, from its provenance record."""
    rows = []
    for path in sorted(directory.glob("*.provenance.json")):
        record = read_json(path)
        rows.append(
            [
                path.name.removesuffix(".provenance.json"),
                str(record.get("source", "–")),
                size(record.get("size")),
                str(record.get("md5", "–")),
                str(record.get("sha256", "–")),
                str(record.get("fetched_at", "–")),
                fmt(record.get("from_cache")),
            ]
        )
    if not rows:
        return note("No provenance records (data/*.provenance.json) in this run.")
    return table(["Input", "Source", "Size", "MD5", "SHA-256", "Fetched", "From cache"], rows, numeric=False)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def git_state(directory: Path) -> tuple[str, str]:
    """(commit, "yes"/"no" for uncommitted changes), or "unknown" when not a git checkout."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return "unknown", "unknown"
    status = git("status", "--porcelain")
    return commit.strip(), "unknown" if status is None else ("yes" if status.strip() else "no")


def hardware() -> list[tuple[str, str]]:
    """(name, value) rows describing the machine running this code: platform, CPUs, memory."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        memory = size(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        memory = "unknown"
    return [
        ("Platform", platform.platform()),
        ("CPU count", fmt(os.cpu_count())),
        ("CPU model", cpu),
        ("Memory", memory),
    ]
