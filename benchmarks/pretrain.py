"""Pretraining throughput: genolm's loop against transformers.Trainer on the same model and data, on CPU.

Both runs train the same randomly initialised BERT (same seed) on the same synthetic windows, one after the
other in this process, and each is then scored with the same fixed-mask validation
(genolm.pretrain.evaluate).

    python benchmarks/pretrain.py --seconds 50          # equal wall-clock budget per run (~2 minutes in all)
    python benchmarks/pretrain.py --steps 20 --json     # equal steps, machine-readable

With --json, stdout holds exactly one JSON object; everything else the runs print (logs, the Trainer's
metrics dict) goes to stderr. `tokens_per_s_ratio` is genolm's tokens/s divided by the Trainer's.

Achieved GFLOP/s = tokens/s * (6 * N + 12 * L * s * d) / 1e9, the PaLM model-FLOPs count per token: N the
non-embedding parameters (embeddings are lookups), L layers, s tokens per window, d hidden size (attention
scores and values). The same count is used for both loops, although genolm runs the MLM head on the masked
15% of tokens only. The peak is the best of five fp32 2048x2048 torch.matmul calls (2 * 2048^3 FLOPs each).
Peak RSS is the process high-water mark (VmHWM), reset before each run through /proc/self/clear_refs.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import logging
import os
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForMaskedLM

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genolm.models import build_config, build_model, count_parameters, model_size  # noqa: E402
from genolm.pretrain import PretrainSettings, train  # noqa: E402
from genolm.pretrain.batches import max_tokens, tokenize_batch  # noqa: E402
from genolm.pretrain.evaluate import evaluate  # noqa: E402
from genolm.pretrain.loss import LMLoss  # noqa: E402
from genolm.tokenizers import save_tokenizer  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=1024)
    p.add_argument("--seq", type=int, default=512, help="tokens per window, [CLS] and [SEP] included")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dropout", type=float, help="model.dropout for both loops (default: BERT's 0.1)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="train each loop for this many steps")
    budget.add_argument("--seconds", type=float, default=50.0, help="train each loop this long (default)")
    p.add_argument("--val-windows", type=int, default=64)
    p.add_argument("--compile", action="store_true", help="also time genolm's loop with pretrain.compile")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return p.parse_args()


def synthetic_windows(n: int, length: int, seed: int = 0) -> np.ndarray:
    """Windows made of 64 random 24-base motifs with 10% substitutions: learnable, unlike uniform noise."""
    rng = np.random.default_rng(seed)
    motifs = rng.integers(0, 4, (64, 24), dtype=np.uint8)
    per_window = -(-length // 24)
    windows = motifs[rng.integers(0, 64, (n, per_window))].reshape(n, -1)[:, :length].copy()
    noise = rng.random(windows.shape) < 0.1
    windows[noise] = rng.integers(0, 4, int(noise.sum()), dtype=np.uint8)
    return windows


def matmul_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)
    best = min(_timed(lambda: torch.matmul(a, b)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def reset_peak_rss() -> None:
    with contextlib.suppress(OSError):  # Linux only; elsewhere the peak covers both runs
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def flops_per_token(model, layers: int, seq: int, hidden: int) -> float:
    embeddings = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding))
    return 6 * (count_parameters(model) - embeddings) + 12 * layers * seq * hidden


def run_genolm(root: Path, settings: PretrainSettings, tag: str) -> dict:
    out = root / tag
    outputs = (out / name for name in ("model", "log.csv", "metrics.json", "checkpoints"))
    train(root / "windows", root / "tokenizer", *outputs, settings)
    with open(out / "log.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["phase"] == "train"]
    return {
        "steps": len(rows),
        "tokens_per_s": float(rows[-1]["tokens_per_s"]),
        "model": AutoModelForMaskedLM.from_pretrained(out / "model", local_files_only=True),
    }


def run_trainer(
    root: Path, settings: PretrainSettings, tokenizer, ids: torch.Tensor, config, budget_s
) -> dict:
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainerCallback, TrainingArguments

    class Clock(TrainerCallback):
        """Times the training steps and stops at the wall-clock budget."""

        def __init__(self) -> None:
            self.start, self.end, self.steps = None, None, 0

        def on_step_begin(self, args, state, control, **kwargs):
            self.start = self.start or time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.end, self.steps = time.perf_counter(), self.steps + 1
            if budget_s and self.end - self.start > budget_s:
                control.should_training_stop = True

    torch.manual_seed(settings.seed)
    model = build_model(config, "bert")
    dataset = [{"input_ids": row} for row in ids]
    args = TrainingArguments(
        output_dir=str(root / "trainer"),
        per_device_train_batch_size=settings.batch_size,
        max_steps=settings.max_steps,
        learning_rate=settings.lr,
        warmup_steps=settings.warmup_steps,
        lr_scheduler_type="cosine",
        weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_grad_norm,
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="no",
        report_to="none",
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
        seed=settings.seed,
    )
    collator = DataCollatorForLanguageModeling(
        tokenizer, mlm_probability=settings.mask_prob, seed=settings.seed
    )
    clock = Clock()
    Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator, callbacks=[clock]).train()
    tokens = clock.steps * settings.batch_size * ids.shape[1]
    return {"steps": clock.steps, "tokens_per_s": tokens / (clock.end - clock.start), "model": model}


def settings_for(a: argparse.Namespace) -> PretrainSettings:
    """The pretraining settings both loops run with (a time budget: constant lr after warm-up in both)."""
    budget_s = None if a.steps else a.seconds
    return PretrainSettings(
        family="bert",
        hidden_size=a.hidden,
        num_layers=a.layers,
        num_heads=a.heads,
        intermediate_size=a.intermediate,
        dropout=a.dropout,
        max_steps=a.steps or 1_000_000,
        batch_size=a.batch,
        lr=1e-3,
        warmup_steps=5,
        eval_every=10**9,
        eval_batches=max(1, a.val_windows // a.batch),
        checkpoint_every=10**9,
        max_minutes=budget_s / 60 if budget_s else None,
        threads=a.threads,
        seed=0,
    )


def measure(a: argparse.Namespace) -> dict:
    """Train both loops on the same data and model, and score each; returns the summary."""
    torch.set_num_threads(a.threads)
    load_before = os.getloadavg()
    peak = matmul_peak_gflops()
    window = a.seq - 2
    budget_s = None if a.steps else a.seconds
    settings = settings_for(a)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "windows").mkdir()
        n_train = max(4096, a.batch * (a.steps or 400))
        np.save(root / "windows" / "train.npy", synthetic_windows(n_train, window, seed=1))
        val = synthetic_windows(a.val_windows, window, seed=2)
        np.save(root / "windows" / "val.npy", val)
        tokenizer = save_tokenizer(
            root / "windows" / "train.npy", root / "tokenizer", kind="char", window=window
        )
        limit = max_tokens(tokenizer, window)
        size = model_size("small", hidden_size=a.hidden, num_layers=a.layers, num_heads=a.heads)
        config = build_config(
            "bert", {**size, "intermediate_size": a.intermediate}, tokenizer, limit, a.dropout
        )
        fpt = flops_per_token(build_model(config, "bert"), a.layers, a.seq, a.hidden)
        train_ids = tokenize_batch(tokenizer, np.load(root / "windows" / "train.npy"), limit)
        runs = [("genolm", lambda: run_genolm(root, settings, "genolm"))]
        runs.append(("trainer", lambda: run_trainer(root, settings, tokenizer, train_ids, config, budget_s)))
        if a.compile:
            runs.append(
                ("genolm_compile", lambda: run_genolm(root, replace(settings, compile=True), "compiled"))
            )
        for name, run in runs:
            reset_peak_rss()
            start = time.perf_counter()
            out = run()
            wall = time.perf_counter() - start
            loss_fn = LMLoss(out.pop("model"), "mlm")
            val_loss = evaluate(loss_fn, tokenizer, val, settings, limit)["loss"]
            results[name] = {
                **out,
                "wall_s": wall,
                "gflops": out["tokens_per_s"] * fpt / 1e9,
                "peak_fraction": out["tokens_per_s"] * fpt / 1e9 / peak,
                "peak_rss_mb": peak_rss_mb(),
                "val_loss": val_loss,
            }
    return {
        "config": vars(a),
        "flops_per_token": fpt,
        "matmul_peak_gflops": peak,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "runs": results,
        "tokens_per_s_ratio": results["genolm"]["tokens_per_s"] / results["trainer"]["tokens_per_s"],
    }


def print_table(summary: dict) -> None:
    """The summary as a table for people."""
    before, after = summary["load_average_before"][0], summary["load_average_after"][0]
    fpt = summary["flops_per_token"]
    print(
        f"matmul peak {summary['matmul_peak_gflops']:.1f} GFLOP/s; {fpt / 1e6:.2f} MFLOP per token; "
        f"load average {before:.2f} -> {after:.2f}"
    )
    print(f"{'run':<16}{'steps':>6}{'tokens/s':>10}{'GFLOP/s':>9}{'% peak':>8}{'RSS MB':>8}{'val loss':>10}")
    for name, r in summary["runs"].items():
        print(
            f"{name:<16}{r['steps']:>6}{r['tokens_per_s']:>10.0f}{r['gflops']:>9.1f}"
            f"{100 * r['peak_fraction']:>7.1f}%{r['peak_rss_mb']:>8.0f}{r['val_loss']:>10.4f}"
        )
    print(f"genolm / Trainer tokens/s: {summary['tokens_per_s_ratio']:.2f}x")


def main() -> None:
    a = parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its metrics dict
        summary = measure(a)
    if a.json:
        print(json.dumps(summary, indent=2))
    else:
        print_table(summary)


if __name__ == "__main__":
    main()
