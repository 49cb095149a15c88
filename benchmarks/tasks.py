"""The evidence: every shared real-data task through the real snakemake at a fixed pretraining budget.

Tasks (data under --data, default ../shared/data; nothing is copied into the repository):

- `gue_tf0`, `gue_tf1`, `gue_prom_core_all`: `gue/<task>/{train,dev,test}.csv.gz` as a `csv:` gene-function
  task (metric MCC, as GUE reports). `sources.genome` is required, and a corpus of `sequences: true` records
  goes whole to train, leaving pretraining no val/test windows; so the task's training sequences are written
  as a FASTA (one record a row, `<workdir>/inputs/<task>/train.fa`) and used as the genome, split by contig
  (5% val, 5% test), with the window set to the shortest training sequence. Model and recipe: GUE_BASE plus
  the schema's defaults.
- `ecoli_ec_class` (macro-F1) and `ecoli_enzyme` (AUROC): config/ecoli.yaml's two tasks on the local
  `ecoli_k12/` FASTA and GenBank files (`path:` sources); one run (one pretraining) serves both.
- `mtdna` (AUROC): config/mtdna.yaml on `clinvar_mtdna/`'s rCRS and ClinVar VCF.

Budget: `--minutes M` per run goes to pretraining through `pretrain.max_minutes`, which stops, validates and
exports after M minutes. The learning-rate schedule is a cosine over `pretrain.max_steps`, so a time cap alone
would stop it mid-decay; a timed probe first (the same config with `max_minutes` = --probe-minutes and no step
limit, in the same results folder) measures steps per minute, and `max_steps` is set to what M minutes hold
(warm-up capped at a tenth of it). The JSON records the probe, the steps and why pretraining stopped.
Fine-tuning, baselines and the report then run as the workflow runs them (every method the config and
genolm.names give: model methods, baselines, random-init controls), so a task's wall-clock exceeds M.

`--family bert convnet` runs every task once per model family at the same pretraining wall-clock; task keys
become `<task>/<family>` and `family_comparison` gives each later family's best model method minus the
first's, paired over the same test rows. `--set KEY=VALUE` (dotted config key, YAML value) overrides any
config key of every run (e.g. `--set gene_function.seeds=3 model.preset=tiny`).

With --json, stdout holds exactly one JSON object (snakemake's output goes to `<workdir>/<run>.snakemake.log`,
progress to stderr): {"tasks": {NAME: {"metric", "methods": {METHOD: {"value", "ci_low", "ci_high"}},
"best_model", "best_baseline", "best_model_minus_best_baseline", "pretrained_minus_random_init", "minutes",
"family", "pretrain", "wall_minutes", "cpu_minutes"}}, "family_comparison", "load_avg", "machine", "workdir"}.
The two differences are genolm.report.paired.compare's paired bootstrap CIs over the same test rows (None
where a method is missing); a method with seeds adds "seeds" and "seed_sd". wall_minutes is this
invocation's (a rerun counts only the jobs it ran); cpu_minutes sums the run's job benchmark files. A failed
run gives its tasks an "error" and the script exits 1 after printing the JSON.
Rerunning with the same --workdir reuses the probe and every finished job.

    .venv/bin/python benchmarks/tasks.py --json                                  # all tasks, 15 min each
    .venv/bin/python benchmarks/tasks.py --tasks gue_tf0 --minutes 10 --family bert convnet --json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

from genolm.names import BASELINE_METHODS, MODEL_METHODS, PRETRAINING_CONTROLS
from genolm.report.load import best, tasks
from genolm.report.paired import compare

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
DATA = REPO.parent / "shared" / "data"
#: The GUE runs' settings beside what the data fixes (window, split); the schema gives the rest. The recipe
#: fits issue 16's 30 minutes a task with the default budget: a 0.33 M-parameter convnet (a tiny BERT does
#: not learn TF binding in one epoch; benchmarks/RESULTS.md), finetune_full only (its random_init control and
#: the baselines run beside it), one pass over the tens of thousands of train rows a GUE task holds.
GUE_BASE = {
    "seed": 42,
    "tokenizer": {"kind": "char"},
    "model": {"family": "convnet", "preset": "tiny", "dropout": 0.0},
    "pretrain": {"batch_size": 32, "lr": 0.001, "warmup_steps": 100, "eval_every": 200},
    "gene_function": {"methods": ["finetune_full"], "finetune": {"epochs": 1}},
}
GUE_SPLIT = {"method": "contigs", "val_fraction": 0.05, "test_fraction": 0.05}
PROBE_STEPS = 10_000_000  # no step limit in the probe: its max_minutes stops it
CALIBRATION_NOTE = (
    "pretrain.max_minutes caps pretraining at the budget; pretrain.max_steps (the length of the cosine "
    "schedule) is the budget times the steps per minute of a timed probe of the same config"
)


@dataclass(frozen=True)
class Task:
    """One benchmark task: the run (one config, one pretraining) it belongs to and how it is scored."""

    group: str  # run group: tasks of one group share a config and a pretraining
    stage: str  # gene_function or disease_risk
    task: str  # the task's name in the workflow config
    metric: str


TASKS = {
    "gue_tf0": Task("gue_tf0", "gene_function", "gue_tf0", "mcc"),
    "gue_tf1": Task("gue_tf1", "gene_function", "gue_tf1", "mcc"),
    "gue_prom_core_all": Task("gue_prom_core_all", "gene_function", "gue_prom_core_all", "mcc"),
    "ecoli_ec_class": Task("ecoli", "gene_function", "ec_class", "macro_f1"),
    "ecoli_enzyme": Task("ecoli", "gene_function", "enzyme", "auroc"),
    "mtdna": Task("mtdna", "disease_risk", "clinvar_mt", "auroc"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    p.add_argument("--minutes", type=float, default=15.0, help="pretraining budget per run (wall-clock)")
    p.add_argument("--probe-minutes", type=float, help="timed probe (default: a tenth of --minutes, ≤ 1)")
    p.add_argument("--family", nargs="+", help="model families to compare (default: each config's own)")
    p.add_argument("--data", type=Path, default=DATA, help="folder holding gue/, ecoli_k12/, clinvar_mtdna/")
    p.add_argument("--workdir", type=Path, help="keep the runs here (default: a new temporary folder, kept)")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="config overrides, every run")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--json", action="store_true", help="print one JSON object (else one line a task)")
    return p.parse_args(argv)


def log(message: str) -> None:
    print(f"[tasks] {message}", file=sys.stderr, flush=True)


def one_file(folder: Path, pattern: str) -> Path:
    """The single file of `folder` matching `pattern`.

    Raises:
        SystemExit: none or several match (names the folder and pattern).
    """
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise SystemExit(f"{folder}: expected one file matching {pattern}, found {len(found)}")
    return found[0]


def write_if_changed(path: Path, text: str) -> None:
    """Write `text` unless `path` holds it already: a rerun keeps the mtime, so snakemake keeps its jobs."""
    if path.is_file() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def gue_config(name: str, folder: Path, inputs: Path) -> dict:
    """A GUE task as a csv: task, pretrained on its own training sequences (see the module docstring)."""
    csv = {part: folder / f"{part}.csv.gz" for part in ("train", "dev", "test")}
    missing = [str(p) for p in csv.values() if not p.is_file()]
    if missing:
        raise SystemExit(f"{name}: missing {', '.join(missing)}")
    sequences = pd.read_csv(csv["train"], usecols=["sequence"], dtype=str)["sequence"].str.upper()
    fasta = inputs / name / "train.fa"
    write_if_changed(fasta, "".join(f">train_{i}\n{s}\n" for i, s in enumerate(sequences)))
    window = int(sequences.str.len().min())
    config = {
        **copy.deepcopy(GUE_BASE),
        "sources": {"genome": {"path": str(fasta)}},
        "preprocess": {"window": window, "stride": window, "split": dict(GUE_SPLIT)},
    }
    config["gene_function"]["tasks"] = {name: {"csv": {k: str(v) for k, v in csv.items()}, "type": "binary"}}
    return config


def ecoli_config(folder: Path, task_names: Iterable[str]) -> dict:
    """config/ecoli.yaml on the local NCBI files, with only the asked tasks."""
    config = yaml.safe_load((REPO / "config" / "ecoli.yaml").read_text())
    config["sources"] = {
        "genome": {"path": str(one_file(folder, "*_genomic.fna.gz"))},
        "annotation": {"path": str(one_file(folder, "*_genomic.gbff.gz"))},
    }
    wanted = set(task_names)
    config["gene_function"]["tasks"] = {
        k: v for k, v in config["gene_function"]["tasks"].items() if k in wanted
    }
    return config


def mtdna_config(folder: Path) -> dict:
    """config/mtdna.yaml on the local rCRS and ClinVar mtDNA VCF."""
    config = yaml.safe_load((REPO / "config" / "mtdna.yaml").read_text())
    config["sources"] = {
        "genome": {"path": str(one_file(folder, "*.fa.gz"))},
        "variants": {"path": str(one_file(folder, "*.vcf.gz"))},
    }
    return config


def group_config(group: str, task_names: list[str], data: Path, inputs: Path) -> dict:
    """The base config of one run group (before family, overrides and budget)."""
    if group == "ecoli":
        return ecoli_config(data / "ecoli_k12", task_names)
    if group == "mtdna":
        return mtdna_config(data / "clinvar_mtdna")
    return gue_config(group, data / "gue" / group.removeprefix("gue_"), inputs)


def apply_overrides(config: dict, settings: Iterable[str]) -> dict:
    """`config` with each `dotted.key=yaml value` set (missing mappings are created).

    Raises:
        SystemExit: a setting without `=` (names it).
    """
    out = copy.deepcopy(config)
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {setting}: expected KEY=VALUE, e.g. gene_function.seeds=3")
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return out


def finish_config(base: dict, run: str, family: str | None, overrides: Iterable[str]) -> dict:
    """A run's config: its name and model family, no optional analyses, then the user's overrides."""
    config = copy.deepcopy(base)
    config["run"] = run
    if family:
        config.setdefault("model", {})["family"] = family
    for optional in ("interpret", "compress"):
        config[optional] = {**config.get(optional, {}), "enabled": False}
    config["compress"]["distill"] = {**config["compress"].get("distill", {}), "enabled": False}
    return apply_overrides(config, overrides)


def probe_config(config: dict, probe_minutes: float) -> dict:
    """The probe: the same run stopped by time alone (no step limit, no early stopping)."""
    out = copy.deepcopy(config)
    pretrain = out.setdefault("pretrain", {})
    pretrain.pop("patience", None)
    pretrain.update(max_minutes=probe_minutes, max_steps=PROBE_STEPS)
    return out


def budgeted_config(config: dict, minutes: float, steps_per_minute: float) -> dict:
    """`config` with pretraining capped at `minutes` and its schedule as long as the probe says they hold."""
    out = copy.deepcopy(config)
    pretrain = out.setdefault("pretrain", {})
    steps = max(1, int(steps_per_minute * minutes))
    pretrain.update(max_minutes=minutes, max_steps=steps)
    warmup = pretrain.get("warmup_steps")
    if warmup is not None and warmup > steps // 10:
        pretrain["warmup_steps"] = steps // 10
    return out


def run_workflow(workdir: Path, config: dict, targets: list[str], cores: int) -> float:
    """Run the real snakemake on `config` in `workdir` for `targets`; returns its wall seconds.

    Raises:
        RuntimeError: snakemake failed (the message ends with the tail of its log).
    """
    configfile = workdir / f"{config['run']}.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    logfile = workdir / f"{config['run']}.snakemake.log"
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", str(cores)]
    cmd += [*targets, "--configfile", str(configfile)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    start = time.monotonic()
    with open(logfile, "a") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False)
    if proc.returncode:
        tail = logfile.read_text()[-3000:]
        raise RuntimeError(f"snakemake failed for {configfile} (log {logfile}):\n{tail}")
    return time.monotonic() - start


def calibrate(workdir: Path, config: dict, probe_minutes: float, cores: int) -> dict:
    """Steps per minute of `config`'s pretraining, from a timed probe (reused when already measured)."""
    probe = probe_config(config, probe_minutes)
    record_path = workdir / f"{config['run']}.calibration.json"
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        if record["probe_config"] == probe:
            return record["calibration"]
    results = workdir / "results" / config["run"]
    log(f"{config['run']}: probing pretraining speed for {probe_minutes:g} min")
    run_workflow(workdir, probe, [f"results/{config['run']}/pretrain/metrics.json"], cores)
    steps = json.loads((results / "pretrain" / "metrics.json").read_text())["steps"]
    calibration = {
        "probe_minutes": probe_minutes,
        "probe_steps": steps,
        "steps_per_minute": steps / probe_minutes,
        "note": CALIBRATION_NOTE,
    }
    record_path.write_text(json.dumps({"probe_config": probe, "calibration": calibration}, indent=2))
    return calibration


def pretrain_record(results: Path, calibration: dict) -> dict:
    """What pretraining did: budget, steps (asked and run), why it stopped, its val metrics and cost."""
    metrics = json.loads((results / "pretrain" / "metrics.json").read_text())
    cost = pd.read_csv(results / "benchmarks" / "pretrain.tsv", sep="\t").iloc[0]
    settings = metrics["settings"]
    return {
        "budget_minutes": settings["max_minutes"],
        "max_steps": settings["max_steps"],
        "warmup_steps": settings["warmup_steps"],
        "steps": metrics["steps"],
        "stop_reason": metrics["stop_reason"],
        "parameters": metrics["parameters"],
        "val": metrics["val"],
        "wall_s": float(cost["s"]),
        "cpu_s": float(cost["cpu_time"]),
        "calibration": calibration,
    }


def job_cpu_minutes(results: Path) -> float:
    """CPU minutes of every job of the run (its benchmark files): steadier than wall-clock on a shared CPU."""
    files = results.glob("benchmarks/**/*.tsv")
    return sum(float(pd.read_csv(f, sep="\t")["cpu_time"].iloc[0]) for f in files) / 60


def default_family() -> str:
    """The schema's default `model.family` (what a config without one pretrains)."""
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    return schema["properties"]["model"]["properties"]["family"]["default"]


def pretrained_methods() -> tuple[str, ...]:
    """Model methods that read the pretrained weights (the random-init controls are not among them)."""
    controls = set(PRETRAINING_CONTROLS.values())
    return tuple(m for m in MODEL_METHODS if m not in controls)


def _difference(task_dir: Path, stage: str, a: str, b: str, metric: str, multilabel: bool) -> dict | None:
    diff = compare(task_dir, stage, a, b, metric, multilabel)
    return None if diff is None else {"a": a, "b": b, **diff}


def task_entry(results: Path, task: Task) -> dict:
    """One task's methods on its metric, the best model and baseline, and the two paired differences.

    Args:
        results: the run's results folder.
        task: the task (stage, workflow name, metric).

    Returns:
        {"metric", "methods", "best_model", "best_baseline", "best_model_minus_best_baseline",
        "pretrained_minus_random_init"}; a difference is compare's {"n", "value", "ci_low", "ci_high",
        "p_a_better"} plus the two methods as "a" and "b", or None where a method is missing.

    Raises:
        RuntimeError: the run has no metrics for the task.
    """
    found = tasks(results, task.stage).get(task.task)
    if not found:
        raise RuntimeError(f"{results}/{task.stage}/{task.task}: no method metrics")
    methods = {}
    for method, record in found.items():
        entry = record.get("metrics", {}).get(task.metric)
        if entry is None:
            continue
        methods[method] = {k: entry[k] for k in ("value", "ci_low", "ci_high")}
        if "sd" in record:  # several fine-tuning seeds: their spread beside the first seed's CI
            methods[method] |= {"seeds": len(record["seeds"]), "seed_sd": record["sd"][task.metric]}
    multilabel = any(r.get("task_type") == "multilabel" for r in found.values())
    task_dir = results / task.stage / task.task
    model = best(found, task.metric, pretrained_methods())
    baseline = best(found, task.metric, BASELINE_METHODS)
    versus_baseline = (
        _difference(task_dir, task.stage, model[0], baseline[0], task.metric, multilabel)
        if model and baseline
        else None
    )
    best_model = model[0] if model else None
    pairs = [(p, c) for p, c in PRETRAINING_CONTROLS.items() if p in found and c in found]
    pairs.sort(key=lambda pair: pair[0] != best_model)  # the best model's own control first, if it has one
    versus_control = _difference(task_dir, task.stage, *pairs[0], task.metric, multilabel) if pairs else None
    return {
        "metric": task.metric,
        "methods": methods,
        "best_model": best_model,
        "best_baseline": baseline[0] if baseline else None,
        "best_model_minus_best_baseline": versus_baseline,
        "pretrained_minus_random_init": versus_control,
    }


def family_comparison(root: Path, entries: Mapping[str, dict], task: Task) -> dict | None:
    """Each later family's best model method minus the first family's, on the same test rows.

    Args:
        root: the results root (`<workdir>/results`).
        entries: family -> that family's task entry (with "run"), in the order asked.
        task: the task.
    """
    (first, base), *others = entries.items()
    if not others or base.get("best_model") is None:
        return None
    out = {"reference": first, "reference_best_model": base["best_model"], "families": {}}
    multilabel = False  # no task of TASKS is multi-label
    for family, entry in others:
        if entry.get("best_model") is None:
            continue
        # compare reads <root>/<a>/predictions.tsv: paths below the results root name methods of two runs.
        a = f"{entry['run']}/{task.stage}/{task.task}/{entry['best_model']}"
        b = f"{base['run']}/{task.stage}/{task.task}/{base['best_model']}"
        diff = compare(root, task.stage, a, b, task.metric, multilabel)
        out["families"][family] = {"best_model": entry["best_model"], "minus_reference": diff}
    return out


def run_group(group: str, names: list[str], family: str | None, a: argparse.Namespace, workdir: Path) -> dict:
    """Calibrate, run and collect one run group for one family; returns task name -> entry."""
    base = group_config(group, [TASKS[n].task for n in names], a.data, workdir / "inputs")
    family = family or apply_overrides(base, a.set).get("model", {}).get("family") or default_family()
    run = f"{group}_{family}"
    config = finish_config(base, run, family, a.set)
    probe_minutes = a.probe_minutes or min(1.0, a.minutes / 10)
    common = {"minutes": a.minutes, "family": family, "run": run}
    try:
        calibration = calibrate(workdir, config, probe_minutes, a.cores)
        final = budgeted_config(config, a.minutes, calibration["steps_per_minute"])
        log(f"{run}: {final['pretrain']['max_steps']} pretraining steps in {a.minutes:g} min, then the tasks")
        seconds = run_workflow(workdir, final, [f"results/{run}/report.html"], a.cores)
        results = workdir / "results" / run
        pretrain = pretrain_record(results, calibration)
        done = {"pretrain": pretrain, "wall_minutes": seconds / 60, "cpu_minutes": job_cpu_minutes(results)}
        done["load_avg"] = list(os.getloadavg())
        return {n: {**task_entry(results, TASKS[n]), **common, **done} for n in names}
    except RuntimeError as err:
        log(str(err))
        return {n: {"error": str(err).splitlines()[0], **common} for n in names}


def machine() -> dict:
    """Where the numbers were measured (the CPU count matters: budgets are wall-clock)."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": metadata.version("torch"),
    }


def summarise(results: Mapping[str, Mapping[str, dict]], root: Path) -> dict:
    """The JSON object: task entries (keys `<task>/<family>` with several families) and family comparisons.

    Args:
        results: family (or "" for each config's own) -> task name -> entry.
        root: the results root, for the paired family comparison.
    """
    families = list(results)
    several = len(families) > 1
    out_tasks, comparisons = {}, {}
    for name in next(iter(results.values())):
        for family in families:
            out_tasks[f"{name}/{family}" if several else name] = results[family][name]
        if several:
            comparisons[name] = family_comparison(root, {f: results[f][name] for f in families}, TASKS[name])
    return {"tasks": out_tasks, "family_comparison": comparisons, "load_avg": list(os.getloadavg())}


def _cell(entry: dict | None) -> str:
    return "-" if not entry else f"{entry['value']:+.3f} [{entry['ci_low']:+.3f}, {entry['ci_high']:+.3f}]"


def table(summary: dict) -> str:
    """The summary as one line a task: best model and baseline, and the two paired differences."""
    lines = [f"load {summary['load_avg'][0]:.2f}; Δ with paired 95% CIs; results in {summary['workdir']}"]
    for name, e in summary["tasks"].items():
        if "error" in e:
            lines.append(f"{name}: failed ({e['error']})")
            continue
        lines.append(
            f"{name} {e['metric']}: {e['best_model']} vs {e['best_baseline']} "
            f"{_cell(e['best_model_minus_best_baseline'])}; pretrained - random init "
            f"{_cell(e['pretrained_minus_random_init'])}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    workdir = (a.workdir or Path(tempfile.mkdtemp(prefix="genolm-tasks-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    a.data = a.data.resolve()
    log(f"work directory {workdir}")
    groups: dict[str, list[str]] = {}
    for name in a.tasks:
        groups.setdefault(TASKS[name].group, []).append(name)
    results: dict[str, dict[str, dict]] = {}
    for family in a.family or [""]:
        results[family] = {}
        for group, names in groups.items():
            results[family] |= run_group(group, names, family or None, a, workdir)
    summary = summarise(results, workdir / "results")
    summary |= {"machine": machine(), "workdir": str(workdir)}
    print(json.dumps(summary, indent=2) if a.json else table(summary))
    return 1 if any("error" in e for e in summary["tasks"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
