"""Finish a labelled table: drop rare classes, refuse untrainable tasks, write the table and its summary.

The summary says what was dropped and why, what the annotation reader tolerated, and warns when the
test split is too small for its metrics to mean much, so no number in the report goes out unqualified.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pandas as pd

from genolm.atomic import atomic_path, write_json
from genolm.errors import GenolmError
from genolm.io.contigs import canonical_contig
from genolm.names import SPLITS

LOG = logging.getLogger(__name__)

#: Fewer test rows than this, or fewer test rows of some class than MIN_TEST_PER_CLASS: a warning.
MIN_TEST_ROWS = 30
MIN_TEST_PER_CLASS = 5


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False)


def finish_gene_table(
    table: pd.DataFrame,
    dropped: Counter,
    what: str,
    task_type: str,
    min_class_size: int,
    out_tsv: str | Path,
    summary_json: str | Path,
    *,
    extra: dict | None = None,
) -> pd.DataFrame:
    """Drop rare classes (counted), refuse untrainable tasks, and write the table and its summary.

    `extra` ({"annotation_issues": ..., "warnings": [...]}) is added to the summary; small-sample
    warnings are appended to its "warnings" list (created when absent).
    """
    if task_type == "multilabel":
        return finish_multilabel_table(
            table, dropped, what, min_class_size, out_tsv, summary_json, extra=extra
        )
    counts = table["label"].value_counts()
    rare = sorted(counts[counts < min_class_size].index)
    if rare:
        dropped["rare_class"] += int(table["label"].isin(rare).sum())
        LOG.warning("%s: dropped classes with < %d rows: %s", what, min_class_size, ", ".join(rare))
        table = table[~table["label"].isin(rare)]
    check_classes(table, what)
    if task_type == "binary" and table["label"].nunique() != 2:
        raise GenolmError(f"{what}: a binary task needs exactly 2 classes, got {table['label'].nunique()}")
    summary = class_summary(table, dropped)
    summary.update(with_sample_warnings(extra, summary, what))
    write_table(table, out_tsv)
    write_json(summary_json, summary)
    return table


def finish_multilabel_table(
    table: pd.DataFrame,
    dropped: Counter,
    what: str,
    min_class_size: int,
    out_tsv: str | Path,
    summary_json: str | Path,
    *,
    extra: dict | None = None,
) -> pd.DataFrame:
    """Multilabel: drop labels held by < min_class_size genes, then genes left with none; write both files.

    A label without positives in some split is only warned about (and listed in the summary): with
    many labels that is common, and the metrics skip such labels; an empty split is an error.
    """
    sets = table["label"].str.split(";")
    counts = Counter(label for labels in sets for label in labels)
    rare = {label: n for label, n in counts.items() if n < min_class_size}
    if rare:
        LOG.warning("%s: dropped %d labels held by < %d genes", what, len(rare), min_class_size)
        sets = sets.map(lambda labels: [label for label in labels if label not in rare])
        left = sets.map(bool)
        if (~left).any():
            dropped["only_rare_labels"] += int((~left).sum())
        table = table.assign(label=sets.map(";".join))[left]
        sets = sets[left]
    kept = len(counts) - len(rare)
    if kept < 2:
        raise GenolmError(f"{what}: {kept} label(s) held by >= {min_class_size} genes, expected at least 2")
    for split in SPLITS:
        if not (table["split"] == split).any():
            raise GenolmError(f"{what}: no labelled rows fall in the {split} split")
    summary = class_summary(table.assign(label=sets).explode("label"), dropped)
    summary["rows"] = int(len(table))
    summary["task_type"] = "multilabel"
    summary["labels_per_gene"] = round(float(sets.map(len).mean()), 4)
    summary["rare_labels"] = dict(sorted(rare.items()))
    missing = {
        split: sorted(set(summary["classes"]) - set(summary["per_split"].get(split, {}))) for split in SPLITS
    }
    summary["labels_missing_in_split"] = {split: labels for split, labels in missing.items() if labels}
    for split, labels in summary["labels_missing_in_split"].items():
        LOG.warning("%s: %d labels have no gene in the %s split: %s", what, len(labels), split, labels[:5])
    test_rows = int((table["split"] == "test").sum())
    summary.update(with_sample_warnings(extra, summary, what, test_rows=test_rows))
    write_table(table, out_tsv)
    write_json(summary_json, summary)
    return table


def check_classes(table: pd.DataFrame, what: str) -> None:
    """Refuse a task that cannot be trained or evaluated: one class, or a split without rows."""
    if table["label"].nunique() < 2:
        raise GenolmError(
            f"{what}: {table['label'].nunique()} class(es) after filtering, expected at least 2"
        )
    for split in SPLITS:
        if not (table["split"] == split).any():
            raise GenolmError(f"{what}: no labelled rows fall in the {split} split")
    train_labels = set(table.loc[table["split"] == "train", "label"])
    unseen = set(table["label"]) - train_labels
    if unseen:
        raise GenolmError(
            f"{what}: class(es) {', '.join(map(str, sorted(unseen)))} absent from the train split"
        )


def class_summary(table: pd.DataFrame, dropped: Counter) -> dict:
    """Class counts per split plus counted reasons for dropped rows."""
    per_split = table.groupby(["split", "label"]).size()
    return {
        "rows": int(len(table)),
        "classes": {str(k): int(v) for k, v in table["label"].value_counts().sort_index().items()},
        "per_split": {s: {str(k): int(v) for k, v in per_split[s].items()} for s in SPLITS if s in per_split},
        "dropped": dict(sorted(dropped.items())),
    }


def sample_warnings(
    classes: dict[str, int], test: dict[str, int], *, test_rows: int | None = None
) -> list[str]:
    """Warnings for a test split too small to trust: < MIN_TEST_ROWS rows, or a class < MIN_TEST_PER_CLASS.

    Args:
        classes: every class (or label) of the task with its row count.
        test: rows per class in the test split.
        test_rows: test rows when they differ from sum(test) (multilabel rows hold several labels).
    """
    rows = sum(test.values()) if test_rows is None else test_rows
    warnings = []
    if rows < MIN_TEST_ROWS:
        warnings.append(
            f"the test split has only {rows} rows (fewer than {MIN_TEST_ROWS}): "
            "its metrics are too uncertain to rank methods"
        )
    few = {c: test.get(c, 0) for c in classes if test.get(c, 0) < MIN_TEST_PER_CLASS}
    if few:
        shown = ", ".join(f"{c} ({n})" for c, n in list(few.items())[:8]) + (", ..." if len(few) > 8 else "")
        warnings.append(
            f"{len(few)} of {len(classes)} classes have fewer than {MIN_TEST_PER_CLASS} test rows: {shown}; "
            "their per-class metrics mean little"
        )
    return warnings


def with_sample_warnings(extra: dict | None, summary: dict, what: str, test_rows: int | None = None) -> dict:
    """`extra` with the small-sample warnings of `summary` appended to its "warnings" (each logged)."""
    out = dict(extra or {})
    found = sample_warnings(summary["classes"], summary["per_split"].get("test", {}), test_rows=test_rows)
    for warning in found:
        LOG.warning("%s: %s", what, warning)
    out["warnings"] = [*out.get("warnings", []), *found]
    return out


def contig_warnings(mapping: dict[str, str], source: str) -> list[str]:
    """A warning per contig mapped onto a differently named one only because the genome has one contig."""
    return [
        f"{source}: contig {name!r} is not in the genome; read as its only contig {ref!r}"
        for name, ref in mapping.items()
        if name != ref and canonical_contig(name) != canonical_contig(ref)
    ]
