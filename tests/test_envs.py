"""Conda envs, requirements.txt and rules agree: same pins, every rule has an existing env."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
import yaml
from conftest import REPO

ENVS = sorted((REPO / "envs").glob("*.yaml"))
CONDA_TO_PIP = {"pytorch": "torch", "python-isal": "isal"}
RULE = re.compile(r"^(?:rule|checkpoint)\s+(\w+)\s*:", re.MULTILINE)
CONDA_ENV = re.compile(r"^\s+conda:\s*\n\s+ENVS\s*/\s*\"([^\"]+)\"", re.MULTILINE)


def _requirements() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.txt: {line!r} is not pinned with =="
            pins[name.lower()] = version
    return pins


def _conda_pins(path) -> dict[str, str]:
    pins = {}
    for spec in yaml.safe_load(path.read_text())["dependencies"]:
        assert isinstance(spec, str), f"{path.name}: pip sections are not allowed ({spec})"
        name, _, version = spec.partition("=")
        assert re.fullmatch(r"[0-9][0-9.]*(=\S+)?", version), f"{path.name}: {spec!r} is not pinned"
        pins[name] = version.split("=")[0]
    return pins


def _rules() -> dict[str, str]:
    """Rule name -> its text, from every workflow/rules/*.smk (no snakemake import needed)."""
    rules = {}
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        starts = [(m.start(), m.group(1)) for m in RULE.finditer(text)] + [(len(text), "")]
        for (start, name), (end, _) in pairwise(starts):
            rules[name] = text[start:end]
    return rules


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_pins_match_requirements(env):
    requirements = _requirements()
    spec = yaml.safe_load(env.read_text())
    assert spec["channels"][0] == "conda-forge" and "nodefaults" in spec["channels"]
    for name, version in _conda_pins(env).items():
        if name == "python":
            assert version == "3.11", f"{env.name}: python={version}, pyproject and the venv use 3.11"
            continue
        pip_name = CONDA_TO_PIP.get(name, name)
        assert pip_name in requirements, f"{env.name}: {name} is not pinned in requirements.txt"
        assert version == requirements[pip_name], (
            f"{env.name}: {name}={version} but requirements.txt has {pip_name}=={requirements[pip_name]}"
        )


def test_every_rule_has_an_existing_conda_env():
    rules = _rules()
    assert {"pretrain", "report", "download"} <= set(rules), "rule parser found too little"
    for name, text in rules.items():
        if name == "all":
            continue
        match = CONDA_ENV.search(text)
        assert match, f'rule {name} has no `conda: ENVS / "<env>.yaml"`'
        assert (REPO / "envs" / match.group(1)).is_file(), f"rule {name}: envs/{match.group(1)} is missing"


def test_every_env_is_used_by_a_rule():
    used = {m.group(1) for text in _rules().values() for m in CONDA_ENV.finditer(text)}
    assert {p.name for p in ENVS} == used


def test_train_env_lets_conda_pick_cuda_and_documents_cpu():
    """conda-forge's pytorch resolves to a CUDA build on a GPU node (__cuda); a CPU pin would block it."""
    train = (REPO / "envs" / "train.yaml").read_text()
    spec = next(s for s in yaml.safe_load(train)["dependencies"] if s.startswith("pytorch="))
    assert spec.count("=") == 1, f"envs/train.yaml pins a build ({spec}); leave it to __cuda"
    assert "__cuda" in train and "cpu" in train
    guide = (REPO / "config" / "README.md").read_text()
    assert "__cuda" in guide and "pytorch=2.13.0=cpu*" in guide
