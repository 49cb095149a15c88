"""Gene-function tasks: the best model method's confusion matrix, per-class table and history; ROC/PR."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genolm.names import MODEL_METHODS
from genolm.report.figures import confusion, history, roc_pr
from genolm.report.format import Block, figure, table
from genolm.report.load import Run, best, read_table, require
from genolm.report.sections.tasks import family_section

PER_CLASS = {"precision": "Precision", "recall": "Recall", "f1": "F1", "auroc": "AUROC", "support": "Support"}


def gene_function_section(run: Run) -> Block:
    """The gene-function family (see `family_section`)."""
    return family_section(run, "gene_function", gene_details)


def gene_details(task_dir: Path, methods: dict[str, dict]) -> list[Block]:
    """One task's details: the best model method by macro-F1 in depth, then every method's curves."""
    blocks: list[Block] = []
    found = best(methods, "macro_f1", MODEL_METHODS)
    if found and (model := methods.get(found[0])):
        blocks.extend(_best_model(found[0], model))
    first = next(iter(methods.values()))
    classes = first.get("classes", [])
    if len(classes) != 2 or first.get("task_type") == "multilabel":  # curves need one label per gene
        return blocks
    positive = str(classes[1])
    curves = {}
    for method in methods:
        path = task_dir / method / "predictions.tsv"
        pred = read_table(path, dtype={"label": str, "prediction": str})
        if pred is not None:
            require(pred, ("label", f"p_{positive}"), path)
            curves[method] = (
                (pred["label"] == positive).astype(int).to_numpy(),
                pred[f"p_{positive}"].to_numpy(),
            )
    if curves:
        blocks.append(figure(roc_pr(curves, positive)))
    return blocks


def _best_model(name: str, model: dict) -> list[Block]:
    """Confusion matrix, per-class metrics and fine-tuning history of one method, where it has them."""
    blocks: list[Block] = []
    classes = [str(c) for c in model.get("classes", [])]
    if model.get("confusion"):
        title = f"Confusion matrix ({name}, the best model method by macro-F1)"
        blocks.append(figure(confusion(model["confusion"], classes, title)))
    per_class = model.get("per_class") or {}
    if per_class:
        # Multi-label metrics add each label's AUROC (a dash where the test rows hold one class only).
        keys = [k for k in PER_CLASS if k != "auroc" or any("auroc" in v for v in per_class.values())]
        rows = [[c, *(v.get(k) for k in keys)] for c, v in per_class.items()]
        blocks.append(table(["Class", *(PER_CLASS[k] for k in keys)], rows, f"Per class, {name}."))
    if model.get("history"):
        blocks.append(figure(history(pd.DataFrame(model["history"]))))
    return blocks
