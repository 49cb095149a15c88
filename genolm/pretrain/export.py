"""What a finished run leaves behind: the model folder (weights, tokenizer, card) and the per-step log."""

from __future__ import annotations

import csv
from pathlib import Path

from genolm.atomic import atomic_path, write_json, write_text

#: Columns of pretrain/log.csv; the pair columns are added only when a pair objective was trained.
LOG_FIELDS = ["step", "phase", "loss", "accuracy", "perplexity", "bits_per_base", "lr", "tokens_per_s"]
PAIR_FIELDS = ["pair_loss", "pair_accuracy"]


def write_log(history: list[dict], path: str | Path) -> None:
    """Write the per-step log as CSV (one row per train step and per validation)."""
    fields = LOG_FIELDS + [f for f in PAIR_FIELDS if any(f in row for row in history)]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in history:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def export_model(model, tokenizer, model_dir: str | Path, metrics: dict) -> None:
    """Write the model folder, renamed into place as a whole.

    Args:
        model: the trained language model (the masked-LM part of a pair model).
        tokenizer: the run's tokenizer, saved beside the weights.
        model_dir: the folder to create (replaced when it exists).
        metrics: the run's metrics.json content, for the model card and `genolm.json`.
    """
    with atomic_path(model_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_text(tmp / "README.md", model_card(metrics))
        write_json(tmp / "genolm.json", {"window": metrics["window"], "objective": metrics["objective"]})


def model_card(metrics: dict) -> str:
    """A short model card: what was trained on what, and how well."""
    s, v = metrics["settings"], metrics["val"]
    lines = [
        "---",
        "library_name: transformers",
        "tags: [genomics, dna, genolm]",
        "---",
        f"# GenoLM {metrics['family']} ({metrics['objective'].upper()})",
        "",
        f"- Parameters: {metrics['parameters']:,}",
        f"- Steps: {metrics['steps']} x batch {s['batch_size']} ({metrics['train_windows']} windows)",
        f"- Validation: loss {v['loss']:.4f}, perplexity {v['perplexity']:.3f}, accuracy {v['accuracy']:.3f}",
        *(
            [
                f"- Pair objective: {s['pair_objective']} (weight {s['pair_weight']}), validation pair "
                f"accuracy {v['pair_accuracy']:.3f}; the pair head is not exported (masked-LM weights only)"
            ]
            if "pair_objective" in s
            else []
        ),
        "",
        "Load with `AutoModelForMaskedLM` (or `AutoModelForCausalLM`) and `AutoTokenizer` from here.",
    ]
    return "\n".join(lines) + "\n"
