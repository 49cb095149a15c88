"""Config validation: a bad config stops `snakemake -n` with ONE line naming the key; all keys documented."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import REPO, run_snakemake

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
GOOD = {"run": "x", "sources": {"genome": {"simulated": "genome"}}, "simulate": {}}


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("config", "path", "words"),
    [
        pytest.param({**GOOD, "pretrain": {"max_stepz": 5}}, "pretrain", ["max_stepz"], id="typo"),
        pytest.param(
            {**GOOD, "pretrain": {"max_steps": "many"}}, "pretrain.max_steps", ["integer"], id="type"
        ),
        pytest.param({k: v for k, v in GOOD.items() if k != "run"}, "<top level>", ["'run'"], id="missing"),
        pytest.param(
            {**GOOD, "gene_function": {"tasks": {"t1": {"type": "binary"}}}},
            "gene_function.tasks.t1",
            ["'label'", "required"],
            id="missing-nested",
        ),
    ],
)
def test_bad_config_gives_one_line_naming_the_key(tmp_path, config, path, words):
    configfile = tmp_path / "bad.yaml"
    configfile.write_text(yaml.safe_dump(config))
    proc = run_snakemake(tmp_path, "-n", configfiles=[configfile], check=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"genolm config error at '{path}': "), errors[0]
    for word in words:
        assert word in errors[0]
    assert "Traceback" not in proc.stderr and not (tmp_path / "results").exists()


@pytest.mark.workflow
def test_valid_config_passes(tmp_path):
    configfile = tmp_path / "good.yaml"
    configfile.write_text(yaml.safe_dump(GOOD))
    proc = run_snakemake(tmp_path, "-n", "--quiet", "all", configfiles=[configfile], check=False)
    assert "config error" not in proc.stderr


def _keys(schema: dict, prefix: str = ""):
    """Every property path of the schema (task maps use `<task>` for the user's task name)."""
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        yield path, sub
        yield from _keys(sub, f"{path}.")
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and "properties" in extra:
            yield from _keys(extra, f"{path}.<task>.")


def test_every_schema_key_is_documented_in_config_readme():
    guide = (REPO / "config" / "README.md").read_text()
    documented = set(re.findall(r"`([a-z_<>.]+)`", guide))
    missing = [path for path, _ in _keys(SCHEMA) if path not in documented]
    assert not missing, f"config/README.md does not document: {missing}"
