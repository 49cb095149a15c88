"""The recorded-results check itself: byte digests, and value checks for the CNN's CPU-dependent digits."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import DIGESTS, JSON_ATOL, PROBABILITY_ATOL, _agree, _borderline, _read_table, changed_outputs

CNN_TABLE = "gene_function/function_class/cnn/predictions.tsv"
CNN_METRICS = "gene_function/function_class/cnn/metrics.json"
CLASSES = ("class_A", "class_B", "class_C")


@pytest.fixture
def recorded_demo(tmp_path):
    """A results folder holding exactly the demo's recorded value-checked outputs (no byte-digested ones)."""
    shutil.copytree(DIGESTS / "demo", tmp_path / "demo")
    return tmp_path / "demo"


def _missing_byte_digested():
    return [line.split()[1] for line in (DIGESTS / "demo.sha256").read_text().splitlines()]


def test_recorded_copies_agree_and_every_byte_digest_is_reported_missing(recorded_demo):
    assert changed_outputs(recorded_demo, "demo") == _missing_byte_digested()


def _edit_row(path, column: int, edit, row: int = 0) -> None:
    """Rewrite one field of the table's data row `row`: `edit(old text) -> new text`."""
    lines = path.read_text().splitlines()
    fields = lines[row + 1].split("\t")
    fields[column] = edit(fields[column])
    lines[row + 1] = "\t".join(fields)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(("delta", "agrees"), [(PROBABILITY_ATOL / 2, True), (PROBABILITY_ATOL * 2, False)])
def test_a_table_probability_must_stay_within_the_tolerance(recorded_demo, delta, agrees):
    _edit_row(recorded_demo / CNN_TABLE, -1, lambda p: repr(float(p) + delta))
    assert (CNN_TABLE in changed_outputs(recorded_demo, "demo")) is not agrees


def test_a_table_label_must_not_change(recorded_demo):
    _edit_row(recorded_demo / CNN_TABLE, 1, lambda label: next(c for c in CLASSES if c != label))
    assert CNN_TABLE in changed_outputs(recorded_demo, "demo")


def test_a_settled_call_must_not_change(recorded_demo):
    """A predicted class whose probability leads by more than the tolerance allows is pinned."""
    settled = np.flatnonzero(~_borderline(_read_table(DIGESTS / "demo" / CNN_TABLE)))
    assert len(settled), "the demo cnn has no settled call to test with"
    row = int(settled[0])
    _edit_row(recorded_demo / CNN_TABLE, 2, lambda call: next(c for c in CLASSES if c != call), row)
    assert CNN_TABLE in changed_outputs(recorded_demo, "demo")


@pytest.mark.parametrize(
    ("edit", "agrees"),
    [
        (lambda m: m["metrics"]["auroc"].update(value=m["metrics"]["auroc"]["value"] + JSON_ATOL / 2), True),
        (lambda m: m["metrics"]["auroc"].update(value=m["metrics"]["auroc"]["value"] + JSON_ATOL * 2), False),
        (lambda m: m["confusion"][0].__setitem__(0, m["confusion"][0][0] + 1), True),  # a borderline call
        (lambda m: m["confusion"][0].__setitem__(0, m["confusion"][0][0] + m["n"]), False),
        (lambda m: m["cnn"].update(lr=m["cnn"]["lr"] * 3), False),
        (lambda m: m["cnn"]["settings"].pop("kernel"), False),
        (
            lambda m: m["cnn"]["settings"].update(
                reverse_complement=not m["cnn"]["settings"]["reverse_complement"]
            ),
            False,
        ),
    ],
    ids=[
        "auroc-within",
        "auroc-beyond",
        "confusion-one-call",
        "confusion-beyond-the-borderline-calls",
        "chosen-lr",
        "missing-key",
        "boolean",
    ],
)
def test_a_json_output_agrees_only_within_the_tolerance(recorded_demo, edit, agrees):
    path = recorded_demo / CNN_METRICS
    metrics = json.loads(path.read_text())
    edit(metrics)
    path.write_text(json.dumps(metrics))
    assert (CNN_METRICS in changed_outputs(recorded_demo, "demo")) is not agrees


def test_a_missing_value_checked_output_is_reported(recorded_demo):
    (recorded_demo / CNN_TABLE).unlink()
    assert CNN_TABLE in changed_outputs(recorded_demo, "demo")


def _write(folder, name: str, text: str):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


PREDICTIONS = "id\tlabel\tprediction\tp_a\tp_b\ng1\ta\t{call}\t{p_a}\t{p_b}\ng2\tb\tb\t0.1\t0.9\n"


@pytest.mark.parametrize(
    ("row", "agrees"),
    [({"p_a": 0.498, "p_b": 0.502}, True), ({"p_a": 0.2, "p_b": 0.8}, False)],
    ids=["borderline-flip", "settled-flip"],
)
def test_a_call_on_its_boundary_may_flip_and_a_settled_one_may_not(tmp_path, row, agrees):
    recorded = _write(tmp_path / "old", "predictions.tsv", PREDICTIONS.format(call="b", **row))
    found = _write(tmp_path / "new", "predictions.tsv", PREDICTIONS.format(call="a", **row))
    assert _agree(recorded, found) is agrees


SCORES = "id\tlabel\tscore\nv1\tbenign\t{s}\nv2\tpathogenic\t1.5\n"


@pytest.mark.parametrize(
    ("score", "edit", "agrees"),
    [
        (0.01, lambda m: m["confusion"][0].__setitem__(0, 0), True),
        (0.01, lambda m: m["metrics"]["mcc"].update(value=-1.0), True),
        (0.01, lambda m: m["metrics"]["auroc"].update(value=0.5), False),
        (0.50, lambda m: m["confusion"][0].__setitem__(0, 0), False),
    ],
    ids=["borderline-confusion", "borderline-mcc", "borderline-auroc", "settled-confusion"],
)
def test_metrics_of_calls_on_their_boundary_are_not_pinned(tmp_path, score, edit, agrees):
    metrics = {"confusion": [[1, 0], [0, 1]], "metrics": {"mcc": {"value": 1.0}, "auroc": {"value": 1.0}}}
    for side in ("old", "new"):
        _write(tmp_path / side, "scores.tsv", SCORES.format(s=score))
    recorded = _write(tmp_path / "old", "metrics.json", json.dumps(metrics))
    edit(metrics)
    found = _write(tmp_path / "new", "metrics.json", json.dumps(metrics))
    assert _agree(recorded, found) is agrees
