"""genolm.job: what the workflow scripts take from a Snakemake job alike (a stand-in job, no snakemake)."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from genolm.job import job_resources, job_settings, label_job, optional_input, split_settings

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.unit


def test_job_resources_are_the_jobs_not_the_configs():
    job = SimpleNamespace(threads=5, resources=SimpleNamespace(gpu="1"))
    assert job_resources(job) == {"threads": 5, "gpus": 1}


def test_job_settings_take_the_section_the_seed_and_the_jobs_threads():
    @dataclass(frozen=True)
    class Settings:
        epochs: int = 1
        seed: int = 0
        threads: int = 1

    job = SimpleNamespace(threads=6, params=SimpleNamespace(settings={"epochs": 3}, seed=42))
    assert job_settings(Settings, job) == Settings(epochs=3, seed=42, threads=6)


def test_optional_input_is_the_one_file_or_none():
    assert optional_input([]) is None
    assert optional_input(["motifs.jaspar"]) == "motifs.jaspar"


def test_label_job_names_the_sources_as_configured():
    job = SimpleNamespace(
        input=SimpleNamespace(genome="results/data/genome", splits="results/preprocess/splits.tsv"),
        output=SimpleNamespace(table="t.tsv", summary="t.summary.json"),
        params=SimpleNamespace(strict=True, sources={"genome": {"path": "my/genome.fa"}}),
    )
    assert label_job(job) == {
        "genome": "results/data/genome",
        "splits": "results/preprocess/splits.tsv",
        "out_tsv": "t.tsv",
        "summary_json": "t.summary.json",
        "strict": True,
        "sources": {"genome": "my/genome.fa"},
    }


def test_split_settings_hand_on_a_plain_split_mapping():
    split = {"kind": "blocks"}
    params = SimpleNamespace(window=512, stride=256, soft_mask="drop", seed=7, split=split)
    settings = split_settings(SimpleNamespace(params=params))
    assert settings == {"window": 512, "stride": 256, "soft_mask": "drop", "seed": 7, "split": split}
    assert settings["split"] is not split and type(settings["split"]) is dict


def _rule_names(script: str, section: str) -> set[str]:
    """The names in `section` (input, output, params) of the rule in workflow/rules/ whose `script:` is
    `script` (read as text)."""
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^\s*(?:rule|checkpoint) \w+:\n", smk.read_text(), flags=re.M)[1:]:
            if f'"../scripts/{script}"' not in block:
                continue
            found = re.search(rf"^( +){section}:\n((?:\1 .*\n|\s*\n)+)", block, flags=re.M)
            if not found:
                return set()
            return set(re.findall(rf"^ {{{len(found[1]) + 4}}}(\w+)=", found[2], flags=re.M))
    raise AssertionError(f"no rule runs {script}")


def _called(script: Path) -> object:
    """The genolm function a workflow script hands to run_step (its first argument)."""
    tree = ast.parse(script.read_text())
    call = next(
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "run_step"
    )
    name = call.args[0].id
    module = next(
        n.module
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and name in {a.name for a in n.names}
    )
    return getattr(importlib.import_module(module), name)


SCRIPTS = REPO / "workflow" / "scripts"
BY_NAME = sorted(
    (p.name, section)
    for p in SCRIPTS.glob("*.py")
    for section in ("input", "output", "params")
    if f"**snakemake.{section}," in p.read_text()
)


@pytest.mark.parametrize(("script", "section"), BY_NAME)
def test_scripts_passing_a_rule_section_by_name_call_functions_that_take_it(script, section):
    """`**snakemake.<section>` in a script needs every name there to be a keyword of the function."""
    names = _rule_names(script, section)
    assert names, f"{script}: its rule has no named {section}"
    accepted = inspect.signature(_called(SCRIPTS / script)).parameters
    assert names <= set(accepted), (
        f"{script}: {sorted(names - set(accepted))} are not keywords of the function"
    )
