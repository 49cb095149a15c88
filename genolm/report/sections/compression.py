"""Smaller models beside the originals: the int8 language model and each distilled gene classifier."""

from __future__ import annotations

from pathlib import Path

from genolm.report.format import Block, fmt, h3, size, slug, table, with_ci
from genolm.report.load import read_json

DISTILL_NAMES = {
    "teacher": "teacher (finetune_full)",
    "student": "distilled student",
    "int8_teacher": "int8 teacher",
}


def compression(results: Path) -> list[Block]:
    """The fp32 and int8 language models: size, speed, test LM metrics and zero-shot AUROC per task."""
    metrics = read_json(results / "compress" / "metrics.json")
    if not metrics:
        return []
    timing = read_json(results / "compress" / "timing.json") or {}
    models = metrics.get("models", {})
    tasks = metrics.get("disease_risk", {})
    rows = [
        [
            name,
            size(m.get("size_bytes")),
            timing.get("sequences_per_s", {}).get(name),
            m.get("test_lm", {}).get("loss"),
            m.get("test_lm", {}).get("accuracy"),
            *(with_ci(t.get("auroc", {}).get(name)) for t in tasks.values()),
        ]
        for name, m in models.items()
    ]
    caption = (
        f"{metrics.get('method')}: size ratio {fmt(metrics.get('size_ratio'))}, speed-up "
        f"{fmt(timing.get('speedup'))} on {fmt(metrics.get('n_windows'))} test windows with "
        f"{fmt(timing.get('threads'))} threads; same seeded masks and test variants for both. "
        + " ".join(
            f"{t}: Spearman {fmt(v.get('spearman'))} between fp32 and int8 scores." for t, v in tasks.items()
        )
    )
    columns = ["Model", "Size", "Sequences/s (CPU)", "Test LM loss", "Test token accuracy"]
    columns += [f"{t} zero-shot AUROC [95% CI]" for t in tasks]
    return [h3("Compression", "compression"), table(columns, rows, caption)]


def distillation(results: Path) -> list[Block]:
    """Per gene-function task: the fine-tuned teacher beside its distilled student and its int8 copy."""
    blocks: list[Block] = []
    for path in sorted((results / "compress").glob("*/comparison.json")):
        comparison = read_json(path)
        timing = read_json(path.parent / "distill" / "timing.json") or {}
        student = read_json(path.parent / "distill" / "metrics.json") or {}
        headline = comparison.get("headline", "macro_f1")
        speed = timing.get("genes_per_s", {})
        models = comparison.get("models", {})
        rows = [
            [
                DISTILL_NAMES[name],
                m.get("parameters"),
                size(m.get("size_bytes")),
                speed.get(name),
                with_ci(m.get(headline)),
                comparison.get("metric_change", {}).get(name),
                m.get("agreement_with_teacher"),
            ]
            for name in DISTILL_NAMES
            if (m := models.get(name))
        ]
        shape = student.get("student_config", {})
        settings = student.get("settings", {})
        blocks.append(h3(f"Compression: {path.parent.name}", slug("compress", path.parent.name)))
        blocks.append(
            table(
                ["Model", "Parameters", "Size", "Genes/s (CPU)", f"Test {headline} [95% CI]", "Change"]
                + ["Agreement with teacher"],
                rows,
                f"Same {fmt(comparison.get('n_test'))} test genes for all; student: {shape.get('layers')} "
                f"layers, width {shape.get('hidden_size')}, {shape.get('heads')} heads, initialised from "
                f"{settings.get('init')}, trained {fmt(timing.get('train_seconds'), 1)} s with T = "
                f"{settings.get('temperature')}, alpha = {settings.get('alpha')} (best epoch "
                f"{student.get('best_epoch')}); throughput with batch {timing.get('batch_size')} and "
                f"{fmt(timing.get('threads'))} threads, best of 3. Agreement: share of test decisions "
                "equal to the teacher's.",
            )
        )
    return blocks
