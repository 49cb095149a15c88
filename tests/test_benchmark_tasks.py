"""benchmarks/tasks.py: its JSON from fake result folders, its budget arithmetic, and one real tiny run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from sklearn.metrics import matthews_corrcoef

from genolm.names import BASELINE_METHODS, PRETRAINING_CONTROLS
from genolm.report.paired import compare

CONTROL = PRETRAINING_CONTROLS["finetune_full"]


def _script():
    spec = importlib.util.spec_from_file_location("benchmark_tasks", REPO / "benchmarks" / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass looks its module up while it is being defined
    spec.loader.exec_module(module)
    return module


tasks_script = _script()
LABELS = np.array([0, 1] * 20)


def _write_method(task_dir, method, accuracy_rows: int, value: float, seed: int = 0) -> np.ndarray:
    """predictions.tsv right on the first `accuracy_rows` rows, and a metrics.json giving MCC `value`."""
    rng = np.random.default_rng(seed)
    p1 = np.where(LABELS == 1, 0.8, 0.2) + rng.uniform(-0.1, 0.1, len(LABELS))
    p1[accuracy_rows:] = 1 - p1[accuracy_rows:]
    folder = task_dir / method
    folder.mkdir(parents=True)
    table = pd.DataFrame(
        {
            "id": [f"test.csv:{i}" for i in range(len(LABELS))],
            "label": LABELS.astype(str),
            "prediction": (p1 > 0.5).astype(int).astype(str),
            "p_0": 1 - p1,
            "p_1": p1,
        }
    )
    table.to_csv(folder / "predictions.tsv", sep="\t", index=False)
    metrics = {"mcc": {"value": value, "ci_low": value - 0.1, "ci_high": value + 0.1}}
    (folder / "metrics.json").write_text(json.dumps({"method": method, "metrics": metrics, "n": len(LABELS)}))
    return (p1 > 0.5).astype(int)


def _fake_run(results, values: dict[str, tuple[int, float]]) -> dict[str, np.ndarray]:
    task_dir = results / "gene_function" / "gue_tf0"
    return {m: _write_method(task_dir, m, rows, v, seed=k) for k, (m, (rows, v)) in enumerate(values.items())}


def _mcc_difference(predictions, a, b) -> float:
    return matthews_corrcoef(LABELS, predictions[a]) - matthews_corrcoef(LABELS, predictions[b])


def test_task_entry_reads_each_method_and_pairs_best_model_with_best_baseline_and_control(tmp_path):
    values = {
        "finetune_full": (34, 0.7),
        "probe": (30, 0.5),
        CONTROL: (24, 0.2),
        "kmer_lr": (32, 0.6),
        "majority": (20, 0.0),
    }
    predictions = _fake_run(tmp_path, values)
    entry = tasks_script.task_entry(tmp_path, tasks_script.TASKS["gue_tf0"])
    assert entry["metric"] == "mcc"
    assert entry["methods"] == {
        m: {"value": v, "ci_low": v - 0.1, "ci_high": v + 0.1} for m, (_, v) in values.items()
    }
    assert (entry["best_model"], entry["best_baseline"]) == ("finetune_full", "kmer_lr")
    versus = entry["best_model_minus_best_baseline"]
    assert (versus["a"], versus["b"], versus["n"]) == ("finetune_full", "kmer_lr", len(LABELS))
    assert versus["value"] == pytest.approx(_mcc_difference(predictions, "finetune_full", "kmer_lr"))
    assert versus["ci_low"] <= versus["value"] <= versus["ci_high"]
    control = entry["pretrained_minus_random_init"]
    assert (control["a"], control["b"]) == ("finetune_full", CONTROL)
    assert control["value"] == pytest.approx(_mcc_difference(predictions, "finetune_full", CONTROL))


def test_task_entry_without_control_or_baseline_gives_none(tmp_path):
    _fake_run(tmp_path, {"probe": (30, 0.5)})
    entry = tasks_script.task_entry(tmp_path, tasks_script.TASKS["gue_tf0"])
    assert entry["best_model"] == "probe" and entry["best_baseline"] is None
    assert entry["best_model_minus_best_baseline"] is None and entry["pretrained_minus_random_init"] is None
    with pytest.raises(RuntimeError, match="no method metrics"):
        tasks_script.task_entry(tmp_path / "elsewhere", tasks_script.TASKS["gue_tf0"])


def test_summary_keys_tasks_by_family_and_pairs_the_families_best_models(tmp_path):
    root = tmp_path / "results"
    bert = _fake_run(root / "gue_tf0_bert", {"finetune_full": (26, 0.3), "kmer_lr": (30, 0.5)})
    convnet = _fake_run(root / "gue_tf0_convnet", {"probe": (36, 0.8), "kmer_lr": (30, 0.5)})
    task = tasks_script.TASKS["gue_tf0"]
    results = {
        family: {
            "gue_tf0": {
                **tasks_script.task_entry(root / f"gue_tf0_{family}", task),
                "run": f"gue_tf0_{family}",
            }
        }
        for family in ("bert", "convnet")
    }
    summary = tasks_script.summarise(results, root)
    assert list(summary["tasks"]) == ["gue_tf0/bert", "gue_tf0/convnet"]
    assert summary["tasks"]["gue_tf0/convnet"]["best_model"] == "probe"
    comparison = summary["family_comparison"]["gue_tf0"]
    assert (comparison["reference"], comparison["reference_best_model"]) == ("bert", "finetune_full")
    diff = comparison["families"]["convnet"]["minus_reference"]
    expected = matthews_corrcoef(LABELS, convnet["probe"]) - matthews_corrcoef(LABELS, bert["finetune_full"])
    assert diff["value"] == pytest.approx(expected) and diff["n"] == len(LABELS)
    assert len(summary["load_avg"]) == 3
    single = tasks_script.summarise({"": results["bert"]}, root)
    assert list(single["tasks"]) == ["gue_tf0"] and single["family_comparison"] == {}


def test_budget_comes_from_the_probe_and_caps_warmup():
    config = {"run": "r", "pretrain": {"max_steps": 2000, "warmup_steps": 100, "patience": 5}}
    probe = tasks_script.probe_config(config, 0.5)
    assert probe["pretrain"] == {
        "max_steps": tasks_script.PROBE_STEPS,
        "warmup_steps": 100,
        "max_minutes": 0.5,
    }
    budget = tasks_script.budgeted_config(config, 3.0, steps_per_minute=150.0)
    assert budget["pretrain"] == {"max_steps": 450, "warmup_steps": 45, "patience": 5, "max_minutes": 3.0}
    assert tasks_script.budgeted_config(config, 30.0, 150.0)["pretrain"]["warmup_steps"] == 100
    assert config["pretrain"]["max_steps"] == 2000  # the input is left alone


def test_overrides_set_dotted_keys_as_yaml_values():
    config = tasks_script.apply_overrides(
        {"model": {"preset": "small"}}, ["model.preset=tiny", "gene_function.seeds=3"]
    )
    assert config == {"model": {"preset": "tiny"}, "gene_function": {"seeds": 3}}
    with pytest.raises(SystemExit, match="--set seeds: expected KEY=VALUE"):
        tasks_script.apply_overrides({}, ["seeds"])


def _write_gue_task(folder, rows=(200, 50, 50), length=60, seed=0) -> None:
    """A GUE-format task (gzipped sequence,label CSVs) whose positives carry a planted motif."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for part, n in zip(("train", "dev", "test"), rows, strict=True):
        labels = np.arange(n) % 2
        sequences = []
        for y in labels:
            bases = rng.choice(list("ACGT"), length)
            if y:
                start = rng.integers(0, length - 12)
                bases[start : start + 12] = list("TATAAAGGCGCC")
            sequences.append("".join(bases))
        pd.DataFrame({"sequence": sequences, "label": labels}).to_csv(folder / f"{part}.csv.gz", index=False)


@pytest.mark.workflow
def test_one_tiny_gue_task_through_the_workflow_gives_the_metrics_json_numbers(tmp_path):
    _write_gue_task(tmp_path / "data" / "gue" / "tf0")
    tiny = ["pretrain.batch_size=16", "pretrain.eval_every=10", "pretrain.eval_batches=2"]
    tiny += ["pretrain.checkpoint_every=1000"]
    tiny += ["gene_function.cnn.epochs=1", "gene_function.cnn.lrs=[0.003]", "gene_function.cnn.channels=16"]
    cmd = [sys.executable, str(REPO / "benchmarks" / "tasks.py"), "--tasks", "gue_tf0", "--json"]
    cmd += ["--minutes", "0.1", "--probe-minutes", "0.05", "--data", str(tmp_path / "data")]
    cmd += ["--workdir", str(tmp_path / "w"), "--set", *tiny]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads(proc.stdout)  # exactly one JSON object: fails on anything else on stdout
    assert set(summary) == {"tasks", "family_comparison", "load_avg", "machine", "workdir"}
    entry = summary["tasks"]["gue_tf0"]
    assert (entry["metric"], entry["family"], entry["minutes"]) == ("mcc", "convnet", 0.1)  # GUE_BASE's
    results = tmp_path / "w" / "results" / "gue_tf0_convnet"
    written = {
        p.parent.name: json.loads(p.read_text()) for p in results.glob("gene_function/gue_tf0/*/metrics.json")
    }
    # GUE_BASE's finetune_full, its control and the baselines; no codon_lr: a GUE row has no known frame
    assert set(written) == {"kmer_lr", "majority", "cnn", "finetune_full", "random_init"}
    assert set(entry["methods"]) == set(written)
    for method, record in written.items():
        got = entry["methods"][method]
        assert {k: got[k] for k in ("value", "ci_low", "ci_high")} == record["metrics"]["mcc"]
        if "sd" in record:  # a fine-tuned method: its seeds' spread (one seed here)
            assert (got["seeds"], got["seed_sd"]) == (len(record["seeds"]), record["sd"]["mcc"])
    model, baseline = entry["best_model"], entry["best_baseline"]
    values = {m: e["value"] for m, e in entry["methods"].items()}
    assert values[model] == max(v for m, v in values.items() if m in tasks_script.pretrained_methods())
    assert values[baseline] == max(v for m, v in values.items() if m in BASELINE_METHODS)
    task_dir = results / "gene_function" / "gue_tf0"
    versus = entry["best_model_minus_best_baseline"]
    assert versus == {"a": model, "b": baseline, **compare(task_dir, "gene_function", model, baseline, "mcc")}
    assert versus["n"] == 50  # every test row
    control = PRETRAINING_CONTROLS[model]
    expected = compare(task_dir, "gene_function", model, control, "mcc")
    assert entry["pretrained_minus_random_init"] == {"a": model, "b": control, **expected}
    pretrain = json.loads((results / "pretrain" / "metrics.json").read_text())
    record = entry["pretrain"]
    assert record["steps"] == pretrain["steps"] and record["max_steps"] == pretrain["settings"]["max_steps"]
    calibration = record["calibration"]
    assert record["max_steps"] == max(1, int(calibration["steps_per_minute"] * 0.1))
    assert calibration["steps_per_minute"] == calibration["probe_steps"] / 0.05
    assert record["budget_minutes"] == 0.1 and record["stop_reason"] in ("max_steps", "max_minutes")
    assert (results / "report.html").is_file()
    fasta = (tmp_path / "w" / "inputs" / "gue_tf0" / "train.fa").read_text().split()
    assert (
        len(fasta) == 400
        and fasta[1] == pd.read_csv(tmp_path / "data" / "gue" / "tf0" / "train.csv.gz")["sequence"][0]
    )
