"""genolm.names is the one source of shared names: the schema, the rules and the settings agree with it."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import REPO

from genolm import names

pytestmark = pytest.mark.unit

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
RULES = REPO / "workflow" / "rules"


def _node(*keys: str) -> dict:
    """The schema node at a path of property names (`tasks` steps into its per-task schema)."""
    node = SCHEMA
    for key in keys:
        node = node["properties"][key]
        if key == "tasks":
            node = node["additionalProperties"]
    return node


def test_schema_method_enums_are_the_names():
    assert tuple(_node("gene_function", "methods")["items"]["enum"]) == names.GENE_MODEL_METHODS
    assert tuple(_node("interpret", "gene_method")["enum"]) == names.EXPLAINABLE_GENE_METHODS
    assert tuple(_node("gene_function", "tasks", "type")["enum"]) == names.GENE_TASK_TYPES


def test_schema_default_methods_are_known():
    assert set(_node("gene_function", "methods")["default"]) <= set(names.GENE_MODEL_METHODS)
    assert _node("interpret", "gene_method")["default"] in names.EXPLAINABLE_GENE_METHODS


def test_rules_spell_no_method_or_split_list_of_their_own():
    """Wildcard constraints come from genolm.names, so a new method is added in one place."""
    every = {*names.MODEL_METHODS, *names.CONTROL_METHODS, *names.BASELINE_METHODS, *names.SPLITS}
    for rule_file in RULES.glob("*.smk"):
        for pattern in re.findall(r'(?:method|split)="([^"]*)"', rule_file.read_text()):
            assert not set(pattern.split("|")) & every, f"{rule_file.name}: literal names {pattern!r}"


def test_method_families_are_disjoint_and_complete():
    assert not set(names.GENE_MODEL_METHODS) & set(names.GENE_BASELINES)
    assert not set(names.VARIANT_MODEL_METHODS) & set(names.VARIANT_BASELINES)
    assert set(names.MODEL_METHODS) == set(names.GENE_MODEL_METHODS) | set(names.VARIANT_MODEL_METHODS)
    assert set(names.BASELINE_METHODS) == set(names.GENE_BASELINES) | set(names.VARIANT_BASELINES)
    assert set(names.EXPLAINABLE_GENE_METHODS) < set(names.GENE_MODEL_METHODS)
    assert set(names.CONTROL_METHODS) == set(names.GENE_CONTROLS) | set(names.VARIANT_CONTROLS)
    assert not set(names.CONTROL_METHODS) & (set(names.MODEL_METHODS) | set(names.BASELINE_METHODS))
    assert set(names.VARIANT_METHODS) == (
        set(names.VARIANT_MODEL_METHODS) | set(names.VARIANT_BASELINES) | set(names.VARIANT_CONTROLS)
    )


def test_every_control_pairs_with_a_model_method_and_annotation_methods_are_variant_methods():
    assert set(names.PRETRAINING_CONTROLS.values()) == set(names.CONTROL_METHODS)
    assert set(names.PRETRAINING_CONTROLS) <= set(names.MODEL_METHODS)
    assert set(names.ANNOTATION_METHODS) < set(names.VARIANT_METHODS)


def test_gene_methods_add_the_baselines_and_each_configured_methods_control():
    assert names.gene_methods(["probe", "finetune_full"]) == [
        "probe",
        "finetune_full",
        *names.GENE_BASELINES,
        "probe_random_init",
        "random_init",
    ]
    assert names.gene_methods(["finetune_lora"]) == ["finetune_lora", *names.GENE_BASELINES]
    # A csv task's rows have no known reading frame: no codon_lr there.
    assert names.gene_methods(["probe"], in_frame=False) == [
        "probe",
        *(b for b in names.GENE_BASELINES if b != "codon_lr"),
        "probe_random_init",
    ]
    assert set(names.IN_FRAME_BASELINES) < set(names.GENE_BASELINES)


def test_alternation_matches_exactly_the_names():
    pattern = re.compile(f"^(?:{names.alternation(names.GENE_BASELINES)})$")
    assert all(pattern.match(n) for n in names.GENE_BASELINES)
    assert not pattern.match("kmer_lr_extra") and not pattern.match("probe")
