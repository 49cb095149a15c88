"""What the workflow's scripts pass on from their Snakemake job the same way, besides each rule's own files.

Each script in workflow/scripts/ unpacks the `snakemake` object Snakemake hands it and calls one genolm
function. Some unpacking recurs: a stage's settings object, the job's own threads and GPUs (what
`--set-threads` or a profile's `set-resources` gave the job, rather than the config's values), an input
a rule gives as a list of at most one file, and the arguments the labelling rules, and the two splitting
rules, hand their functions alike. The job is duck-typed, so genolm still never imports Snakemake.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from genolm.io.user_terms import display_names

Settings = TypeVar("Settings")


def job_resources(job: Any) -> dict[str, Any]:
    """The job's CPU threads and GPU count, under the names genolm's torch stages take them by.

    Args:
        job: a script's `snakemake` object (its `threads` and `resources.gpu`).

    Returns:
        {"threads": the job's threads, "gpus": its `gpu` resource as an int}.
    """
    return {"threads": job.threads, "gpus": int(job.resources.gpu)}


def job_settings(settings_class: type[Settings], job: Any) -> Settings:
    """A stage's settings from its rule's config section, the workflow seed and the job's own threads.

    Args:
        settings_class: the stage's settings dataclass (e.g. `DistillSettings`), which takes `seed` and
            `threads`.
        job: the script's `snakemake` object: params `settings` (the section, without `threads`) and `seed`.

    Returns:
        `settings_class(**settings, seed=seed, threads=job.threads)`.
    """
    return settings_class(**job.params.settings, seed=job.params.seed, threads=job.threads)


def optional_input(files: Sequence[str]) -> str | None:
    """The file of an input that a rule lists only when the job needs it (a model, a motif database).

    Args:
        files: the named input, a list of no or one path.

    Returns:
        Its path, or None when the rule left it empty.
    """
    return files[0] if files else None


def label_outputs(job: Any) -> dict[str, Any]:
    """Where a labelling rule (gene_labels, csv_labels, variant_labels) has its table builder write.

    Args:
        job: a labelling script's `snakemake` object, with outputs `table` and `summary`.

    Returns:
        The keyword arguments `out_tsv` (the labelled table) and `summary_json` (its summary).
    """
    return {"out_tsv": job.output.table, "summary_json": job.output.summary}


def label_job(job: Any) -> dict[str, Any]:
    """What the gene_labels and variant_labels rules hand their table builders alike.

    Args:
        job: a labelling script's `snakemake` object: inputs `genome` and `splits`, outputs `table` and
            `summary`, params `strict` (`annotation.strict`) and `sources` (the sources as configured).

    Returns:
        The keyword arguments `genome`, `splits`, `out_tsv`, `summary_json`, `strict` and `sources` (their
        display names, so errors name the inputs as the user wrote them).
    """
    return {
        "genome": job.input.genome,
        "splits": job.input.splits,
        **label_outputs(job),
        "strict": job.params.strict,
        "sources": display_names(job.params.sources),
    }


def split_settings(job: Any) -> dict[str, Any]:
    """What the splits and corpus_plan rules hand their genome splitters alike.

    Args:
        job: a splitting script's `snakemake` object, with params `window`, `stride`, `soft_mask` (the
            `preprocess` keys), `split` (`preprocess.split`) and `seed`.

    Returns:
        The keyword arguments `window`, `stride`, `soft_mask`, `seed` and `split` (as a plain dict).
    """
    return {
        "window": job.params.window,
        "stride": job.params.stride,
        "soft_mask": job.params.soft_mask,
        "seed": job.params.seed,
        "split": dict(job.params.split),
    }
