"""Reading a run's result files: the only place the report touches the disk for its inputs.

Every reader returns None for an absent file (most parts of a run are optional) and turns a malformed
one into a one-line `GenolmError` naming the file. `Run` bundles what every section builder gets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from genolm.errors import GenolmError
from genolm.names import BASELINE_METHODS, CONTROL_METHODS, MODEL_METHODS, SPLITS
from genolm.report.format import is_number

FAMILIES = {"gene_function": "Gene function", "disease_risk": "Disease risk"}
HEADLINE = {"gene_function": "macro_f1", "disease_risk": "auroc"}
# Shown in this order where present; the last three are those of multi-label tasks only.
METRICS = (
    "accuracy",
    "macro_f1",
    "mcc",
    "auroc",
    "auprc",
    "brier",
    "micro_f1",
    "hamming_loss",
    "subset_accuracy",
)

#: family -> task -> method -> that method's metrics.json content.
Tasks = dict[str, dict[str, dict[str, dict]]]


@dataclass(frozen=True)
class Run:
    """What a section builder may read: the results folder and how the run was configured.

    `tasks` is read on first use, so a section that needs only files under `results` costs nothing more.
    """

    results: Path
    config: dict = field(default_factory=dict)
    workflow_dir: Path | None = None
    generated: str = ""

    @cached_property
    def tasks(self) -> Tasks:
        """Every family's task metrics (see `tasks`)."""
        return {family: tasks(self.results, family) for family in FAMILIES}

    def configured(self, family: str) -> bool:
        """Whether the config asks for tasks of `family` (so missing results mean an incomplete run)."""
        return bool((self.config.get(family) or {}).get("tasks"))


def read_json(path: Path) -> Any:
    """Parsed JSON, or None when the file is absent (optional parts of a run).

    Raises:
        GenolmError: the file is not valid JSON (names the file and line).
    """
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise GenolmError(f"{path}: line {err.lineno}: not valid JSON ({err.msg})") from None


def read_table(path: Path, sep: str = "\t", **kwargs: Any) -> pd.DataFrame | None:
    """A delimited table, or None when absent.

    Raises:
        GenolmError: the file is not a `sep`-separated table (names the file).
    """
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, sep=sep, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        kind = "tab" if sep == "\t" else "comma"
        raise GenolmError(f"{path}: expected a {kind}-separated table ({err})") from None


def require(table: pd.DataFrame, columns: tuple[str, ...], path: Path) -> pd.DataFrame:
    """`table` itself, once it is known to hold `columns`.

    Raises:
        GenolmError: a column is missing (names the file and the columns).
    """
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise GenolmError(f"{path}: missing column(s) {', '.join(missing)}")
    return table


def tasks(results: Path, family: str) -> dict[str, dict[str, dict]]:
    """task -> method -> metrics.json content, ordered model methods first, then baselines."""
    out: dict[str, dict[str, dict]] = {}
    for task_dir in sorted(p for p in (results / family).glob("*") if p.is_dir()):
        methods = {m.parent.name: read_json(m) for m in task_dir.glob("*/metrics.json")}
        if methods:
            out[task_dir.name] = {m: methods[m] for m in sorted(methods, key=method_rank)}
    return out


def _index(order: tuple[str, ...], item: str) -> int:
    """Position of `item` in a preferred order; unknown items go last."""
    return order.index(item) if item in order else len(order)


def method_rank(method: str) -> tuple[int, str]:
    """Sort key: model methods, their random-init controls, then baselines, each in their `genolm.names`
    order; unknown ones last."""
    return (_index(MODEL_METHODS + CONTROL_METHODS + BASELINE_METHODS, method), method)


def split_rank(split: str) -> tuple[int, str]:
    """Sort key: train, val, test, then any other split by name."""
    return (_index(SPLITS, split), split)


def role(method: str) -> str:
    """ "model" for a method that reads the pretrained model, else "baseline"."""
    return "model" if method in MODEL_METHODS else "baseline"


def best(methods: dict[str, dict], metric: str, allowed: tuple[str, ...] | None) -> tuple[str, dict] | None:
    """(method, metric dict) with the highest finite value of `metric` among `allowed` methods (None: all)."""
    found = [
        (m, d["metrics"][metric])
        for m, d in methods.items()
        if (allowed is None or m in allowed) and is_number(d.get("metrics", {}).get(metric, {}).get("value"))
    ]
    return max(found, key=lambda x: x[1]["value"]) if found else None
