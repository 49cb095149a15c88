"""The accelerator check behind benchmarks/gpu.sh: one JSON object on stdout, logs on stderr.

    benchmarks/gpu.sh [--gue DIR]          # on a CUDA machine: about 5-7 minutes on one H100/H200
    benchmarks/gpu.sh --cpu                # the CPU smoke mode (tiny sizes, seconds; what CI runs)

Sections (each reports its own `error` instead of stopping the others):
- `pretrain`, `pretrain_compiled` (GPU mode): genolm's loop (`pretrain.gpus` 1, bf16 autocast) on the
  `base` preset, 512-token windows; steady-state tokens/s over the second half of the steps, and MFU =
  tokens/s x FLOPs per token / peak, with the FLOP count of benchmarks/pretrain.py (6 N + 12 L s d). The
  peak is the GPU's dense bf16 datasheet figure where known (`peak_source`), else the measured bf16
  matmul peak, which is reported too (`matmul_peak_tflops`).
- `finetune`: one epoch of `finetune_full` on the GUE tf0 train split (`--gue`, $GENOLM_GUE_TF0, or
  ../shared/data/gue/tf0; else a generated stand-in of the same shape, 101-base sequences in two classes,
  and `gue.stand_in` says so) starting from the pretrained model, on the device and on 2 CPU threads;
  `sequences_per_s_ratio` is device / CPU.
- `zero_shot`: zero-shot variant scores (both strands, masked LM) per second on 128-base windows.
- `end_to_end`: `.test/config.yaml` through snakemake (simulate, pretrain, fine-tune, score, report) with
  every torch stage's `gpus` set to 1, and its wall time; a dry run in the smoke mode. Skipped, saying
  why, when snakemake is not installed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genolm.finetune import (  # noqa: E402
    Classifier,
    FinetuneSettings,
    PooledClassifier,
    fit_classifier,
    imbalance_loss,
    load_table,
    split_parts,
    targets,
)
from genolm.inference import load_pretrained  # noqa: E402
from genolm.pretrain import PretrainSettings, train  # noqa: E402
from genolm.tokenizers import save_tokenizer  # noqa: E402
from genolm.variants import zero_shot_llr  # noqa: E402

LOG = logging.getLogger("gpu-benchmark")
#: Dense bf16 tensor-core peaks (datasheet, SXM parts), FLOP/s, by a substring of the device name.
BF16_PEAKS = {"H200": 989.4e12, "H100": 989.4e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12}
DEFAULT_GUE = REPO.parent / "shared" / "data" / "gue" / "tf0"


@dataclass(frozen=True)
class Sizes:
    """What each section runs: GPU mode (the base preset) or the CPU smoke mode (tiny)."""

    model: dict
    window: int
    batch: int
    steps: int
    train_rows: int
    cpu_rows: int
    variants: int
    variant_window: int


GPU_SIZES = Sizes({"preset": "base"}, 510, 64, 60, 4096, 32, 8192, 128)
SMOKE_SIZES = Sizes(
    {"preset": "tiny", "hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32},
    30,
    4,
    4,
    48,
    16,
    24,
    24,
)


def _pretrain_flops(name: str):
    """benchmarks/pretrain.py's `flops_per_token`: one FLOP count for both benchmarks."""
    spec = importlib.util.spec_from_file_location("benchmark_pretrain", REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peak_flops(device: torch.device) -> tuple[float, str, float]:
    """(peak FLOP/s used for MFU, where it comes from, measured matmul FLOP/s) on `device`."""
    n, dtype = (8192, torch.bfloat16) if device.type == "cuda" else (512, torch.float32)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(10):
        a @ b
    _sync(device)
    measured = 10 * 2 * n**3 / (time.perf_counter() - start)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, value in BF16_PEAKS.items():
            if key in name:
                return value, f"{key} dense bf16 datasheet peak", measured
    return measured, f"measured {dtype} {n}x{n} matmul", measured


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def steady_tokens_per_s(log_csv: Path) -> float:
    """Tokens/s over the second half of the train steps, from the log's running averages (equal steps)."""
    rows = pd.read_csv(log_csv).query("phase == 'train'")
    steps, avg = rows["step"].to_numpy(float), rows["tokens_per_s"].to_numpy(float)
    a = len(steps) // 2
    if a == 0:
        return float(avg[-1])
    # avg_k = k t / S_k with t tokens per step, so the seconds of steps a..b are t (b / avg_b - a / avg_a).
    return float((steps[-1] - steps[a - 1]) / (steps[-1] / avg[-1] - steps[a - 1] / avg[a - 1]))


def pretrain(root: Path, sizes: Sizes, gpus: int, compile_model: bool, tag: str) -> dict:
    """Train genolm's loop on synthetic windows; tokens/s, FLOPs per token and MFU."""
    device = torch.device("cuda" if gpus else "cpu")
    settings = PretrainSettings(
        family="bert",
        **sizes.model,
        dropout=0.0,
        max_steps=sizes.steps,
        batch_size=sizes.batch,
        warmup_steps=5,
        eval_every=10**9,
        eval_batches=1,
        checkpoint_every=10**9,
        compile=compile_model,
        gpus=gpus,
        threads=min(8, os.cpu_count() or 1),
        seed=0,
    )
    out = root / tag
    start = time.perf_counter()
    train(
        root / "windows",
        root / "tokenizer",
        out / "model",
        out / "log.csv",
        out / "m.json",
        out / "ck",
        settings,
    )
    wall = time.perf_counter() - start
    model = load_pretrained(out / "model").model
    config = model.config
    seq = sizes.window + 2
    fpt = _pretrain_flops("pretrain").flops_per_token(
        model, config.num_hidden_layers, seq, config.hidden_size
    )
    peak, source, measured = peak_flops(device)
    tokens_per_s = steady_tokens_per_s(out / "log.csv")
    return {
        "model": {**sizes.model, "parameters": sum(p.numel() for p in model.parameters())},
        "tokens_per_window": seq,
        "batch_size": sizes.batch,
        "steps": sizes.steps,
        "compile": compile_model,
        "precision": json.loads((out / "m.json").read_text()).get("precision"),
        "wall_s": wall,
        "tokens_per_s": tokens_per_s,
        "flops_per_token": fpt,
        "mfu": tokens_per_s * fpt / peak,
        "peak_tflops": peak / 1e12,
        "peak_source": source,
        "matmul_peak_tflops": measured / 1e12,
        "model_dir": str(out / "model"),
    }


def gue_table(gue: Path | None, sizes: Sizes, out: Path) -> tuple[Path, dict]:
    """A gene table (train and val) of GUE tf0, or of a generated stand-in of the same shape."""
    if gue is not None and (gue / "train.csv.gz").is_file():
        train_rows = pd.read_csv(gue / "train.csv.gz").head(sizes.train_rows)
        val_rows = pd.read_csv(gue / "dev.csv.gz").head(sizes.batch * 4)
        about = {"path": str(gue), "stand_in": False}
    else:
        rng = np.random.default_rng(0)
        n = sizes.train_rows + sizes.batch * 4
        seqs = ["".join(rng.choice(list("ACGT"), 101)) for _ in range(n)]
        labels = rng.integers(0, 2, n)
        seqs = [s[:40] + "TGACTCA" + s[47:] if y else s for s, y in zip(seqs, labels, strict=True)]
        frame = pd.DataFrame({"sequence": seqs, "label": labels})
        train_rows, val_rows = frame.iloc[: sizes.train_rows], frame.iloc[sizes.train_rows :]
        about = {"path": str(gue) if gue else None, "stand_in": True, "why": "GUE tf0 not found there"}
    table = pd.concat([train_rows.assign(split="train"), val_rows.assign(split="val")], ignore_index=True)
    table.insert(0, "id", [f"s{i}" for i in range(len(table))])
    table[["id", "label", "split", "sequence"]].to_csv(out, sep="\t", index=False)
    return out, {**about, "train_rows": len(train_rows), "length": int(table["sequence"].str.len().median())}


def finetune_rate(model_dir: str, table_tsv: Path, device: torch.device, rows: int, threads: int) -> float:
    """Train sequences per second of one finetune_full epoch (plus one validation batch) on `device`."""
    torch.set_num_threads(threads)
    table, classes = load_table(table_tsv, "binary")
    parts = split_parts(table)
    settings = FinetuneSettings(epochs=1, max_chunks=1, patience=1, seed=0, threads=threads)
    parts = {"train": parts["train"].head(rows), "val": parts["val"].head(settings.batch_size)}
    pre = load_pretrained(model_dir)
    module = PooledClassifier(pre.model.base_model, pre.model.config.hidden_size, len(classes))
    clf = Classifier(module, pre, classes, "binary", 1, settings.batch_size).to(device)
    y = targets(parts["train"])
    loss_fn = imbalance_loss(y, len(classes), "binary").to(device)

    def batch_loss(logits, idx):
        return loss_fn(logits, torch.from_numpy(y[idx]).to(device))

    if device.type == "cuda":  # kernels, autotuning and allocator warm up on a few batches
        warm = {"train": parts["train"].head(settings.batch_size * 4), "val": parts["val"]}
        fit_classifier(clf, warm, batch_loss, settings, settings.lr)
    _sync(device)
    start = time.perf_counter()
    fit_classifier(clf, parts, batch_loss, settings, settings.lr)
    _sync(device)
    return len(parts["train"]) / (time.perf_counter() - start)


def finetune(model_dir: str, gue: Path | None, sizes: Sizes, device: torch.device, root: Path) -> dict:
    table_tsv, about = gue_table(gue, sizes, root / "gue.tsv")
    threads = min(16, os.cpu_count() or 1)
    fast = finetune_rate(model_dir, table_tsv, device, sizes.train_rows, threads)
    cpu = finetune_rate(model_dir, table_tsv, torch.device("cpu"), sizes.cpu_rows, 2)
    return {
        "gue": about,
        "method": "finetune_full",
        "batch_size": FinetuneSettings().batch_size,
        "device": str(device),
        "sequences_per_s": fast,
        "cpu_2_threads_sequences_per_s": cpu,
        "sequences_per_s_ratio": fast / cpu,
    }


def zero_shot(model_dir: str, sizes: Sizes, device: torch.device) -> dict:
    """Zero-shot scores per second of random SNVs at the centre of `variant_window`-base windows."""
    rng = np.random.default_rng(1)
    w, o = sizes.variant_window, sizes.variant_window // 2
    refs = ["".join(rng.choice(list("ACGT"), w)) for _ in range(sizes.variants)]
    alts = [r[:o] + "ACGT"[("ACGT".index(r[o]) + 1) % 4] + r[o + 1 :] for r in refs]
    table = pd.DataFrame({"ref_window": refs, "alt_window": alts, "offset": o})
    pre = load_pretrained(model_dir, device)
    zero_shot_llr(pre, table.head(64))  # warm-up
    _sync(device)
    start = time.perf_counter()
    zero_shot_llr(pre, table)
    _sync(device)
    return {
        "variants": len(table),
        "window": w,
        "device": str(device),
        "variants_per_s": len(table) / (time.perf_counter() - start),
    }


def end_to_end(root: Path, gpus: int, dry_run: bool, timeout_s: int) -> dict:
    """`.test/config.yaml` through snakemake with every torch stage on `gpus` GPUs; its wall time."""
    if importlib.util.find_spec("snakemake") is None:
        return {"skipped": "snakemake is not installed in this Python (see benchmarks/RESULTS.md)"}
    config = yaml.safe_load((REPO / ".test" / "config.yaml").read_text())
    config["pretrain"]["gpus"] = gpus
    config["gene_function"]["finetune"]["gpus"] = gpus
    config.setdefault("disease_risk", {})["gpus"] = gpus
    config.setdefault("interpret", {})["gpus"] = gpus
    (root / "e2e").mkdir()
    (root / "e2e" / "config.yaml").write_text(json.dumps(config))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(root / "e2e")]
    cmd += ["--cores", str(os.cpu_count() or 1), "--configfile", str(root / "e2e" / "config.yaml")]
    cmd += ["-n"] if dry_run else []
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    wall = time.perf_counter() - start
    sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
    report = root / "e2e" / "results" / "mini" / "report.html"
    jobs = re.search(r"^total\s+(\d+)$", proc.stdout, re.M)
    out = {"config": ".test/config.yaml", "gpus": gpus, "dry_run": dry_run, "returncode": proc.returncode}
    return {**out, "jobs": int(jobs[1]) if jobs else None, "wall_s": wall, "report": report.is_file()}


def _section(results: dict, name: str, fn) -> dict | None:
    """Run one section; its result, or its error recorded (the traceback on stderr)."""
    start = time.perf_counter()
    try:
        results[name] = fn()
    except Exception as err:  # noqa: BLE001 - one failing section must not lose the others' figures
        traceback.print_exc()
        results[name] = {"error": f"{type(err).__name__}: {err}"}
    LOG.info("%s done in %.1f s", name, time.perf_counter() - start)
    return results[name]


def measure(smoke: bool, gue: Path | None) -> dict:
    sizes, gpus = (SMOKE_SIZES, 0) if smoke else (GPU_SIZES, 1)
    device = torch.device("cuda" if gpus else "cpu")
    results = {
        "mode": "cpu-smoke" if smoke else "gpu",
        "device": torch.cuda.get_device_name(device) if gpus else "cpu",
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "load_average_before": os.getloadavg(),
    }
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bench = _pretrain_flops("pretrain")
        (root / "windows").mkdir()
        np.save(
            root / "windows" / "train.npy",
            bench.synthetic_windows(sizes.batch * sizes.steps, sizes.window, 1),
        )
        np.save(root / "windows" / "val.npy", bench.synthetic_windows(sizes.batch, sizes.window, 2))
        save_tokenizer(root / "windows" / "train.npy", root / "tokenizer", kind="char", window=sizes.window)
        trained = _section(results, "pretrain", lambda: pretrain(root, sizes, gpus, False, "eager"))
        if not smoke:
            _section(results, "pretrain_compiled", lambda: pretrain(root, sizes, gpus, True, "compiled"))
        model_dir = (trained or {}).get("model_dir")
        if model_dir:
            _section(results, "finetune", lambda: finetune(model_dir, gue, sizes, device, root))
            _section(results, "zero_shot", lambda: zero_shot(model_dir, sizes, device))
        _section(results, "end_to_end", lambda: end_to_end(root, gpus, dry_run=smoke, timeout_s=240))
    results["wall_s"] = time.perf_counter() - start
    results["load_average_after"] = os.getloadavg()
    return results


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cpu", action="store_true", help="CPU smoke mode: tiny sizes, no GPU needed")
    p.add_argument("--gue", type=Path, help="GUE tf0 folder (train/dev/test.csv.gz); default $GENOLM_GUE_TF0")
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    smoke = a.cpu or os.environ.get("GENOLM_GPU_SMOKE") == "1"
    gue = a.gue or Path(os.environ.get("GENOLM_GUE_TF0") or DEFAULT_GUE)
    if not smoke and not torch.cuda.is_available():
        print(
            json.dumps({"mode": "gpu", "error": "no CUDA GPU is visible to torch; --cpu runs the smoke mode"})
        )
        return 1
    with contextlib.redirect_stdout(sys.stderr):  # whatever the libraries print stays off stdout
        results = measure(smoke, gue)
    print(json.dumps(results, indent=2))
    failed = [k for k, v in results.items() if isinstance(v, dict) and "error" in v]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
