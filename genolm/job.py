"""How a workflow script calls its genolm function with what its Snakemake job names.

Each script in workflow/scripts/ hands the `snakemake` object Snakemake gives it to `run_rule`, with the
function it runs: the rule names its inputs, outputs and params as that function's arguments, so the
script only computes what a rule cannot give as is (a settings object, display names, a mapping of two
lists). The job's own threads and GPUs (what `--set-threads` or a profile's `set-resources` gave the job,
rather than the config's values) come from the job itself. The job is duck-typed, so genolm still never
imports Snakemake.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from genolm.logs import run_step

Settings = TypeVar("Settings")
#: The job's sections a function's arguments are looked up in by name.
SECTIONS = ("input", "output", "params", "wildcards")
#: Sections whose every name the function must take (or the script give or read itself): a misspelt
#: name there would otherwise be dropped silently. Inputs may be there for the DAG only.
CONSUMED = ("output", "params")


def run_rule(func: Callable[..., Any], job: Any, *, script_params: Iterable[str] = (), **given: Any) -> Any:
    """Run `func` as the job's step (logging to its log file), its arguments taken from the job by name.

    Each parameter of `func` is `given`'s value when given, else the job's input, output, params or
    wildcard of that name, else the job's `threads` (for `threads`) or its `gpu` resource as an int (for
    `gpus`); a parameter found nowhere keeps its default.

    Args:
        func: the genolm function the rule runs.
        job: a script's `snakemake` object: `log`, `threads`, `resources.gpu` and the named lists
            `input`, `output`, `params` and `wildcards` (their names from `keys()`, values as attributes).
        script_params: names of params the script reads itself to compute a `given` value, which `func`
            does not take.
        **given: the arguments the script computes; they take the place of a rule entry of that name.

    Returns:
        What `func` returns (through `genolm.logs.run_step`, which turns a GenolmError into one log line
        and exit status 1).

    Raises:
        TypeError: a name `func` takes is in two of the job's sections; a required parameter of `func` is
            neither given nor named by the job; a named output or params entry is one `func` does not take
            (nor a script param); a script param is not among the job's params.
    """
    parameters = inspect.signature(func).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    sections = {section: set(getattr(job, section).keys()) for section in SECTIONS}
    script_params = set(script_params)
    if missing := script_params - sections["params"]:
        raise TypeError(f"{func.__name__}: script params {sorted(missing)} are not among the rule's params")
    for section in CONSUMED:
        unused = (
            sections[section]
            - set(parameters)
            - set(given)
            - (script_params if section == "params" else set())
        )
        if unused and not takes_any:
            raise TypeError(
                f"{func.__name__} takes no argument {sorted(unused)} that the rule's {section} names"
            )
    kwargs = dict(given)
    for name, parameter in parameters.items():
        if name in kwargs or parameter.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            continue
        found = [section for section in SECTIONS if name in sections[section]]
        if len(found) > 1:
            raise TypeError(f"{func.__name__}: the rule's {' and '.join(found)} both name {name!r}")
        if found:
            kwargs[name] = getattr(getattr(job, found[0]), name)
        elif name == "threads":
            kwargs[name] = job.threads
        elif name == "gpus":
            kwargs[name] = int(job.resources.gpu)
        elif parameter.default is inspect.Parameter.empty:
            raise TypeError(
                f"{func.__name__}: no value for its argument {name!r} (neither given nor named by the rule)"
            )
    return run_step(func, job.log[0], **kwargs)


def job_settings(settings_class: type[Settings], job: Any, **extra: Any) -> Settings:
    """A stage's settings from its rule's `settings` params (config section and seed) and the job's threads.

    Args:
        settings_class: the stage's settings dataclass (e.g. `DistillSettings`), which takes `threads`.
        job: the script's `snakemake` object: params `settings` (the section with the workflow seed,
            without `threads`).
        **extra: further settings the script computes from the job (e.g. pretraining's GPUs per node).

    Returns:
        `settings_class(**settings, threads=job.threads, **extra)`.
    """
    return settings_class(**job.params.settings, threads=job.threads, **extra)


def optional_input(files: Sequence[str]) -> str | None:
    """The file of an input that a rule lists only when the job needs it (a model, a motif database).

    Args:
        files: the named input, a list of no or one path.

    Returns:
        Its path, or None when the rule left it empty.
    """
    return files[0] if files else None
