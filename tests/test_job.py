"""genolm.job: how the workflow scripts call their functions with what the job names (a stand-in job)."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

import genolm.job
from genolm.job import job_settings, optional_input, run_rule

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow" / "scripts"

pytestmark = pytest.mark.unit


class Named(SimpleNamespace):
    """A stand-in for snakemake's Namedlist: names from keys(), values as attributes."""

    def keys(self):
        return vars(self).keys()


def _job(input=None, output=None, params=None, wildcards=None, threads=1, gpu=0):
    return SimpleNamespace(
        input=Named(**(input or {})),
        output=Named(**(output or {})),
        params=Named(**(params or {})),
        wildcards=Named(**(wildcards or {})),
        threads=threads,
        resources=SimpleNamespace(gpu=gpu),
        log=["step.log"],
    )


@pytest.fixture
def calls(monkeypatch):
    """The (function, log, kwargs) run_rule hands run_step, instead of running it."""
    seen = []
    monkeypatch.setattr(genolm.job, "run_step", lambda func, log, **kwargs: seen.append((func, log, kwargs)))
    return seen


def step(table_tsv, method, out_tsv, *, seed=42, window=128, threads=1, gpus=0):
    """A stand-in step: positional files, settings with defaults, the job's threads and GPUs."""


def test_names_come_from_every_section_and_the_job_threads_and_gpus(calls):
    job = _job(
        input={"table_tsv": "t.tsv", "order_only": "done.flag"},
        output={"out_tsv": "o.tsv"},
        params={"seed": 7},
        wildcards={"method": "cnn", "task": "t1"},
        threads=3,
        gpu="2",
    )
    run_rule(step, job)
    assert calls == [
        (
            step,
            "step.log",
            {"table_tsv": "t.tsv", "method": "cnn", "out_tsv": "o.tsv", "seed": 7, "threads": 3, "gpus": 2},
        )
    ]


def test_given_values_take_the_place_of_the_rules_and_defaults_stay(calls):
    job = _job(input={"table_tsv": ["t.tsv"]}, output={"out_tsv": "o.tsv"}, wildcards={"method": "cnn"})
    run_rule(step, job, table_tsv="t.tsv", gpus=1)
    ((_, _, kwargs),) = calls
    assert kwargs == {"table_tsv": "t.tsv", "method": "cnn", "out_tsv": "o.tsv", "threads": 1, "gpus": 1}
    assert "window" not in kwargs and "seed" not in kwargs


def test_script_params_are_read_by_the_script_not_handed_on(calls):
    job = _job(input={"table_tsv": "t.tsv"}, output={"out_tsv": "o.tsv"}, params={"task": {"window": 64}})
    run_rule(step, job, script_params=["task"], method="cnn", **job.params.task)
    assert calls[0][2]["window"] == 64 and "task" not in calls[0][2]
    with pytest.raises(TypeError, match=r"script params \['tsak'\]"):
        run_rule(step, job, script_params=["tsak"], method="cnn")


def test_a_name_in_two_sections_is_an_error(calls):
    job = _job(input={"table_tsv": "t.tsv"}, output={"out_tsv": "o.tsv"}, params={"method": "a"})
    job.wildcards = Named(method="b")
    with pytest.raises(TypeError, match=r"step: the rule's params and wildcards both name 'method'"):
        run_rule(step, job)
    assert not calls


def test_a_required_argument_the_rule_does_not_name_is_an_error(calls):
    job = _job(input={"table_tsv": "t.tsv"}, output={"out_tsv": "o.tsv"})
    with pytest.raises(TypeError, match=r"step: no value for its argument 'method'"):
        run_rule(step, job)
    assert not calls


@pytest.mark.parametrize("section", ["output", "params"])
def test_an_output_or_param_the_function_does_not_take_is_an_error(calls, section):
    job = _job(input={"table_tsv": "t.tsv"}, output={"out_tsv": "o.tsv"}, wildcards={"method": "cnn"})
    getattr(job, section).sede = 7
    with pytest.raises(
        TypeError, match=rf"step takes no argument \['sede'\] that the rule's {section} names"
    ):
        run_rule(step, job)
    assert not calls


def test_job_settings_take_the_section_and_the_jobs_threads():
    @dataclass(frozen=True)
    class Settings:
        epochs: int = 1
        seed: int = 0
        threads: int = 1
        gpus: int = 0

    job = SimpleNamespace(threads=6, params=SimpleNamespace(settings={"epochs": 3, "seed": 42}))
    assert job_settings(Settings, job) == Settings(epochs=3, seed=42, threads=6)
    assert job_settings(Settings, job, gpus=2) == Settings(epochs=3, seed=42, threads=6, gpus=2)


def test_optional_input_is_the_one_file_or_none():
    assert optional_input([]) is None
    assert optional_input(["motifs.jaspar"]) == "motifs.jaspar"


def _rule(script: str) -> str:
    """The text of the rules in workflow/rules/ whose `script:` is `script` (more than one may run it)."""
    blocks = [
        block
        for smk in sorted((REPO / "workflow" / "rules").glob("*.smk"))
        for block in re.split(r"^\s*(?:rule|checkpoint) \w+:\n", smk.read_text(), flags=re.M)[1:]
        if f'"../scripts/{script}"' in block
    ]
    assert blocks, f"no rule runs {script}"
    return blocks


def _rule_names(block: str, section: str) -> set[str]:
    """The names in `section` (input, output, params) of a rule's text; "*" for an `unpack`ed input
    function's or a `**`-spread config section's names, which only a run knows."""
    found = re.search(rf"^( +){section}:\n((?:\1 .*\n|\s*\n)+)", block, flags=re.M)
    if not found:
        return set()
    names = set(re.findall(rf"^ {{{len(found[1]) + 4}}}(\w+)=", found[2], flags=re.M))
    if re.search(rf"^ {{{len(found[1]) + 4}}}(unpack\(|\*\*)", found[2], flags=re.M):
        names.add("*")
    return names


def _run_rule_call(script: Path) -> tuple[object, set[str], set[str], bool]:
    """The function a workflow script hands to run_rule, the keywords it gives, its script params and
    whether it spreads a mapping (`**task`) into the call."""
    tree = ast.parse(script.read_text())
    call = next(
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "run_rule"
    )
    name = call.args[0].id
    given = {k.arg for k in call.keywords if k.arg and k.arg != "script_params"}
    own = next((set(ast.literal_eval(k.value)) for k in call.keywords if k.arg == "script_params"), set())
    spread = any(k.arg is None for k in call.keywords)
    defined = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    if name in defined:  # a function of the script itself (download.py)
        namespace: dict = {}
        exec(compile(ast.Module([defined[name]], []), str(script), "exec"), namespace)
        return namespace[name], given, own, spread
    module = next(
        n.module
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and name in {a.name for a in n.names}
    )
    return getattr(importlib.import_module(module), name), given, own, spread


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.py")))
def test_every_scripts_rule_names_what_its_function_takes(script):
    """What run_rule checks at run time, for every rule running a script: each named output and param is
    an argument of the function (or a script param), and each required argument is named by the rule (a
    wildcard too) or given by the script."""
    func, given, own, spread = _run_rule_call(SCRIPTS / script)
    parameters = inspect.signature(func).parameters
    required = {n for n, p in parameters.items() if p.default is inspect.Parameter.empty}
    for block in _rule(script):
        names = {section: _rule_names(block, section) for section in ("input", "output", "params")}
        for section in ("output", "params"):
            unused = names[section] - set(parameters) - {"*"} - (own if section == "params" else set())
            assert not unused, f"{script}: the rule's {section} {sorted(unused)} are not {func.__name__}'s"
        assert own <= names["params"], f"{script}: its script params {sorted(own)} are not all params"
        wildcards = set(re.findall(r"\{\{(\w+)", block))
        supplied = set().union(*names.values(), wildcards, given, {"threads", "gpus"})
        missing = required - supplied
        if spread or "*" in names["input"] | names["params"]:
            continue  # the rest come from a task's settings or an input function: the dry runs check those
        assert not missing, f"{script}: nothing names {func.__name__}'s {sorted(missing)}"
