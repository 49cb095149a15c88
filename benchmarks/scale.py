"""DAG scale: how long `snakemake -n` takes to plan a pretraining corpus of N genomes.

Writes N small seeded genome FASTAs (local `path:` sources), their corpus sheet and a config into a
temporary directory, then times a dry run of the whole workflow on it (`snakemake -n --quiet`: every
genome's download and plan job, the corpus shard checkpoint, pretraining and the report, about 2 jobs
a genome; quiet, so the time is the DAG's, not the terminal's). The dry run's CPU seconds and the load
average are recorded with its wall time, as the machine may be shared. Goal: under 10 s for 1000 genomes.

    .venv/bin/python benchmarks/scale.py --genomes 1000 [--json]

With --json, stdout holds exactly one JSON object: {"genomes", "dag_seconds", "dag_cpu_seconds", "load_avg"}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
GENOME_BASES = 4000


def write_corpus(root: Path, genomes: int, seed: int = 0) -> Path:
    """N genome FASTAs of GENOME_BASES random bases, their sheet and a config; returns the config."""
    rng = np.random.default_rng(seed)
    fasta_dir = root / "genomes"
    fasta_dir.mkdir()
    rows = ["name\tpath"]
    for i in range(genomes):
        path = fasta_dir / f"g{i:05d}.fa"
        seq = "".join(rng.choice(list("ACGT"), GENOME_BASES))
        path.write_text(f">chr1\n{seq}\n")
        rows.append(f"g{i:05d}\t{path}")
    (root / "corpus.tsv").write_text("\n".join(rows) + "\n")
    config = root / "config.yaml"
    config.write_text(
        "run: scale\n"
        "sources:\n"
        f"  genome: {{path: {fasta_dir / 'g00000.fa'}}}\n"
        f"  corpus: {{sheet: {root / 'corpus.tsv'}}}\n"
        "preprocess:\n"
        "  window: 200\n"
        "  stride: 200\n"
        "  split: {method: blocks, block_size: 1000, gap: 0}\n"
        "  corpus: {test_genomes: [g00001]}\n"
    )
    return config


def dry_run(root: Path, config: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of `snakemake -n --quiet` on the corpus config."""
    cmd = [str(SNAKEMAKE), "-n", "--quiet", "-s", str(REPO / "Snakefile"), "--directory", str(root)]
    cmd += ["--cores", "1", "--configfile", str(config)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"snakemake -n failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return seconds, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--genomes", type=int, default=1000, help="corpus genomes to generate")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="genolm-scale-") as tmp:
        root = Path(tmp)
        seconds, cpu = dry_run(root, write_corpus(root, args.genomes))
    result = {
        "genomes": args.genomes,
        "dag_seconds": round(seconds, 3),
        "dag_cpu_seconds": round(cpu, 3),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{args.genomes} genomes: snakemake -n took {seconds:.2f} s ({cpu:.2f} CPU s; "
            f"load {result['load_avg']})"
        )


if __name__ == "__main__":
    main()
