"""Pretraining objectives compared downstream: the demo run through the real snakemake once per objective.

Every run uses the same config (config/config.yaml unless --config), seed and data; only
`pretrain.pair_objective` differs (each run gets its own `run` name, so results/<run>/ stay apart, and the
optional interpret/compress stages are switched off since no compared number depends on them). The table
shows each gene-function method's macro-F1 and each disease-risk method's AUROC with their 95% bootstrap CIs
(from metrics.json), the pretraining validation (MLM on whole windows; pair accuracy where trained) and the
pretrain rule's wall-clock and CPU seconds (results/<run>/benchmarks/pretrain.tsv; CPU seconds are the
steadier measure on a shared machine). Rerunning with the same --workdir reuses finished runs.

With --json, stdout holds exactly one JSON object (snakemake's output is captured, errors go to stderr);
under `comparisons`, every objective after the first is compared with the first: `<score>_ratio` is its
score divided by the first's, `pretrain_speed_ratio` the first's pretraining CPU seconds divided by its own
(both higher is better).

    python benchmarks/objectives.py                                 # none vs adjacent, ~6-8 CPU minutes
    python benchmarks/objectives.py --objectives none adjacent strand --workdir /tmp/objectives
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
METRIC = {"gene_function": "macro_f1", "disease_risk": "auroc"}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    p.add_argument(
        "--objectives", nargs="+", default=["none", "adjacent"], help="pretrain.pair_objective values"
    )
    p.add_argument("--workdir", type=Path, help="keep the runs here (default: a temporary folder, removed)")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return p.parse_args()


def run_config(base: dict, objective: str, workdir: Path) -> tuple[str, Path]:
    """The base config with this pair objective, its own run name and no optional analyses."""
    config = json.loads(json.dumps(base))
    name = f"{base.get('run', 'run')}_{objective}"
    config["run"] = name
    config.setdefault("pretrain", {})["pair_objective"] = objective
    for optional in ("interpret", "compress"):
        config.setdefault(optional, {})["enabled"] = False
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return name, path


def run_workflow(workdir: Path, configfile: Path, cores: int) -> None:
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", str(cores)]
    cmd += ["--configfile", str(configfile)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(f"snakemake failed for {configfile.name}:\n{proc.stderr[-3000:]}")


def collect(results: Path) -> dict:
    """Downstream metrics, pretraining validation and pretraining seconds of one run."""
    scores = {}
    for family, metric in METRIC.items():
        for path in sorted(results.glob(f"{family}/*/*/metrics.json")):
            entry = json.loads(path.read_text())["metrics"].get(metric)
            if entry:
                task, method = path.parent.parent.name, path.parent.name
                scores[f"{family}/{task}/{method} {metric}"] = entry
    with open(results / "benchmarks" / "pretrain.tsv") as fh:
        cost = next(csv.DictReader(fh, delimiter="\t"))
    pretrain = json.loads((results / "pretrain" / "metrics.json").read_text())
    return {
        "scores": scores,
        "pretrain_s": float(cost["s"]),
        "pretrain_cpu_s": float(cost["cpu_time"]),
        "val": pretrain["val"],
        "steps": pretrain["steps"],
    }


def table(runs: dict[str, dict]) -> str:
    names = list(runs)
    rows = sorted({key for r in runs.values() for key in r["scores"]})
    width = max(len(r) for r in rows + ["pretrain val pair accuracy"]) + 2
    lines = [f"{'':<{width}}" + "".join(f"{n:>24}" for n in names)]
    for key in rows:
        cells = []
        for n in names:
            e = runs[n]["scores"].get(key)
            cells.append(f"{e['value']:.3f} [{e['ci_low']:.3f}, {e['ci_high']:.3f}]" if e else "-")
        lines.append(f"{key:<{width}}" + "".join(f"{c:>24}" for c in cells))
    extra = [("pretrain val MLM loss", "loss"), ("pretrain val pair accuracy", "pair_accuracy")]
    for label, field in extra:
        cells = [f"{runs[n]['val'][field]:.4f}" if field in runs[n]["val"] else "-" for n in names]
        lines.append(f"{label:<{width}}" + "".join(f"{c:>24}" for c in cells))
    for label, field in [("pretrain wall seconds", "pretrain_s"), ("pretrain CPU seconds", "pretrain_cpu_s")]:
        lines.append(f"{label:<{width}}" + "".join(f"{runs[n][field]:>24.1f}" for n in names))
    return "\n".join(lines)


def _ratio(ours: float, theirs: float) -> float | None:
    return ours / theirs if theirs else None


def comparisons(runs: dict[str, dict]) -> dict[str, dict]:
    """Every run after the first against the first (the baseline): ours / theirs, higher is better."""
    (baseline, base), *others = runs.items()
    out = {}
    for name, run in others:
        scores = {
            f"{key}_ratio": _ratio(entry["value"], base["scores"][key]["value"])
            for key, entry in run["scores"].items()
            if key in base["scores"]
        }
        speed = _ratio(base["pretrain_cpu_s"], run["pretrain_cpu_s"])
        out[name] = {"baseline": baseline, "scores": scores, "pretrain_speed_ratio": speed}
    return out


def main() -> None:
    a = parse_args()
    base = yaml.safe_load(a.config.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        workdir = a.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        runs = {}
        for objective in a.objectives:
            name, configfile = run_config(base, objective, workdir)
            run_workflow(workdir, configfile, a.cores)
            runs[objective] = collect(workdir / "results" / name)
    load = os.getloadavg()[0]
    if a.json:
        summary = {
            "config": str(a.config),
            "load_average": load,
            "runs": runs,
            "comparisons": comparisons(runs),
        }
        print(json.dumps(summary, indent=2))
        return
    seed = base.get("seed")
    print(f"{a.config.name} (seed {seed}), one column per pair_objective; 95% bootstrap CIs; load {load:.2f}")
    print(table(runs))


if __name__ == "__main__":
    main()
