"""The recorded-results check itself: byte digests, and value checks for the CNN's CPU-dependent digits."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import DIGESTS, JSON_ATOL, TABLE_ATOL, changed_outputs

CNN_TABLE = "gene_function/function_class/cnn/predictions.tsv"
CNN_METRICS = "gene_function/function_class/cnn/metrics.json"


@pytest.fixture
def recorded_demo(tmp_path):
    """A results folder holding exactly the demo's recorded value-checked outputs (no byte-digested ones)."""
    shutil.copytree(DIGESTS / "demo", tmp_path / "demo")
    return tmp_path / "demo"


def _missing_byte_digested():
    return [line.split()[1] for line in (DIGESTS / "demo.sha256").read_text().splitlines()]


def test_recorded_copies_agree_and_every_byte_digest_is_reported_missing(recorded_demo):
    assert changed_outputs(recorded_demo, "demo") == _missing_byte_digested()


def _edit_first_row(path, column: int, edit) -> None:
    """Rewrite one field of the table's first data row: `edit(old text) -> new text`."""
    lines = path.read_text().splitlines()
    fields = lines[1].split("\t")
    fields[column] = edit(fields[column])
    lines[1] = "\t".join(fields)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(("delta", "agrees"), [(TABLE_ATOL / 2, True), (TABLE_ATOL * 2, False)])
def test_a_table_float_must_stay_within_the_tolerance(recorded_demo, delta, agrees):
    _edit_first_row(recorded_demo / CNN_TABLE, -1, lambda p: repr(float(p) + delta))
    assert (CNN_TABLE in changed_outputs(recorded_demo, "demo")) is not agrees


def test_a_table_label_must_not_change(recorded_demo):
    classes = ("class_A", "class_B", "class_C")
    _edit_first_row(recorded_demo / CNN_TABLE, 2, lambda label: next(c for c in classes if c != label))
    assert CNN_TABLE in changed_outputs(recorded_demo, "demo")


@pytest.mark.parametrize(
    ("edit", "agrees"),
    [
        (lambda m: m["metrics"]["auroc"].update(value=m["metrics"]["auroc"]["value"] + JSON_ATOL / 2), True),
        (lambda m: m["metrics"]["auroc"].update(value=m["metrics"]["auroc"]["value"] + JSON_ATOL * 2), False),
        (lambda m: m["confusion"][0].__setitem__(0, m["confusion"][0][0] + 1), False),
        (lambda m: m["cnn"].update(lr=m["cnn"]["lr"] * 3), False),
        (lambda m: m["cnn"]["settings"].pop("kernel"), False),
        (
            lambda m: m["cnn"]["settings"].update(
                reverse_complement=not m["cnn"]["settings"]["reverse_complement"]
            ),
            False,
        ),
    ],
    ids=["auroc-within", "auroc-beyond", "confusion-count", "chosen-lr", "missing-key", "boolean"],
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
