"""A small fine-tuning recipe experiment on a GUE-format CSV task: which of the learning-rate schedule,
reverse-complement augmentation and averaging, and the learning-rate grid moves the model's MCC.

Rows: `--train` rows drawn (seeded) from the task's train.csv.gz for training, `--val` more from the
same file for selection (epochs, learning rate), and the task's dev.csv.gz as the measured split, so the
benchmark's test file is never read. Every arm runs `genolm.finetune.run_finetune` (the workflow's own
code) with one torch thread and prints one JSON line; `--json` prints one object at the end.

    .venv/bin/python benchmarks/finetune_recipe.py --task ../shared/data/gue/tf0 --model MODEL_DIR --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from genolm.baselines.genes import run_baseline
from genolm.finetune import FinetuneSettings, run_finetune

OLD = {"warmup_fraction": 0.0, "schedule": "constant", "reverse_complement": False, "lr_factors": (1.0,)}
#: arm -> (method, settings changed from the base); grid points are separate arms (same seed and start).
ARMS = {
    "old_fixed_lr": ("finetune_full", OLD),
    "warmup_linear": ("finetune_full", {**OLD, "warmup_fraction": 0.1, "schedule": "linear"}),
    "warmup_linear_rc": ("finetune_full", {"lr_factors": (1.0,)}),
    "warmup_linear_rc_lr_x0.3": ("finetune_full", {"lr_factors": (0.3,)}),
    "warmup_linear_rc_lr_x3": ("finetune_full", {"lr_factors": (3.0,)}),
    "random_init_warmup_linear_rc": ("random_init", {"lr_factors": (1.0,)}),
    "probe": ("probe", {"reverse_complement": False}),
    "probe_rc": ("probe", {}),
}


def task_table(task: Path, n_train: int, n_val: int, seed: int, out: Path) -> Path:
    """A gene-table TSV: train and val rows drawn from train.csv.gz, the dev file as the test split."""
    train = pd.read_csv(task / "train.csv.gz").sample(n_train + n_val, random_state=seed)
    dev = pd.read_csv(task / "dev.csv.gz")
    parts = [train.iloc[:n_train].assign(split="train"), train.iloc[n_train:].assign(split="val")]
    table = pd.concat([*parts, dev.assign(split="test")], ignore_index=True)
    table.insert(0, "id", [f"r{i}" for i in range(len(table))])
    table["label"] = table["label"].astype(str)
    table[["id", "label", "split", "sequence"]].to_csv(out, sep="\t", index=False)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", type=Path, required=True, help="a folder with train.csv.gz and dev.csv.gz")
    p.add_argument("--model", type=Path, required=True, help="a pretrained model directory")
    p.add_argument("--train", type=int, default=2000)
    p.add_argument("--val", type=int, default=500)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seeds", type=int, nargs="+", default=[42])
    p.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out, tmp = {}, Path(tempfile.mkdtemp(prefix="finetune_recipe_"))
    table = task_table(args.task, args.train, args.val, 0, tmp / "table.tsv")
    kmer = run_baseline(table, "kmer_lr", tmp / "k.tsv", tmp / "k.json", task_type="binary")
    out["kmer_lr"] = {"mcc": kmer["metrics"]["mcc"]["value"]}
    base = FinetuneSettings(epochs=args.epochs, lr=args.lr, batch_size=16, max_chunks=1, threads=1)
    for seed in args.seeds:
        for arm in args.arms:
            method, change = ARMS[arm]
            settings = replace(base, seed=seed, **change)
            start = time.process_time()
            m = run_finetune(table, args.model, tmp / "p.tsv", tmp / "m.json", settings, method=method)
            row = {
                "seed": seed,
                "method": method,
                "mcc": m["metrics"]["mcc"]["value"],
                "mcc_ci": [m["metrics"]["mcc"]["ci_low"], m["metrics"]["mcc"]["ci_high"]],
                "val_scores": m.get("lr_grid", {}).get("val_scores"),
                "best_epoch": m.get("best_epoch"),
                "cpu_s": round(time.process_time() - start, 1),
                "loadavg": os.getloadavg()[0],
            }
            out[f"{arm}/seed{seed}"] = row
            print(json.dumps({arm: row}), file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
