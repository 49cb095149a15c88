import os
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
try:
    validate(config, str(SCHEMA))
except WorkflowError as err:
    # One line naming the key, not the whole schema dump.
    # snakemake raises its WorkflowError inside `except ValidationError`, so the detail is the context.
    cause = err.__cause__ or err.__context__ or err
    path = ".".join(map(str, getattr(cause, "absolute_path", []))) or "<top level>"
    sys.exit(
        f"genolm config error at '{path}': {getattr(cause, 'message', str(err).splitlines()[0])}"
    )

# Scripts import the genolm package from this checkout, also inside conda envs and cluster jobs.
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        p for p in (workflow.basedir, os.environ.get("PYTHONPATH")) if p
    )
)

sys.path.insert(0, workflow.basedir)
from genolm import (
    names,
)  # noqa: E402 - torch-free: the one source of method and split names
from genolm.strand import reverse_complement_applies  # noqa: E402 - torch-free

RESULTS = f"results/{config['run']}"
ENVS = Path(workflow.basedir) / "envs"
SCHEMA_DOC = yaml.safe_load(SCHEMA.read_text())


def task_config(family, task):
    """A task's settings with the schema's per-task defaults filled in.

    A disease-risk task's cohort is left out: only the prioritise rules read it (task_cohort).
    """
    properties = SCHEMA_DOC["properties"][family]["properties"]["tasks"][
        "additionalProperties"
    ]["properties"]
    defaults = {k: v["default"] for k, v in properties.items() if "default" in v}
    settings = {**defaults, **config[family]["tasks"][task]}
    settings.pop("cohort", None)
    return settings


GENE_TASKS = list(config["gene_function"]["tasks"])
# Tasks given as a benchmark's CSV files (csv: {train, dev, test}) need no genome annotation.
CSV_GENE_TASKS = [t for t in GENE_TASKS if "csv" in config["gene_function"]["tasks"][t]]
VARIANT_TASKS = list(config["disease_risk"]["tasks"])
if VARIANT_TASKS and "variants" not in config["sources"]:
    sys.exit(
        "genolm config error at 'sources.variants': disease_risk tasks need a variants source"
    )
if set(GENE_TASKS) - set(CSV_GENE_TASKS) and "annotation" not in config["sources"]:
    sys.exit(
        "genolm config error at 'sources.annotation': gene_function tasks need an annotation source"
    )
# The baselines run on every task (those reading the frame on annotation tasks), beside the configured
# model methods and their pretraining controls.
GENE_METHODS = {
    task: names.gene_methods(
        config["gene_function"]["methods"], in_frame=task not in CSV_GENE_TASKS
    )
    for task in GENE_TASKS
}
# consequence and combined need an annotation to place variants in genes.
VARIANT_METHODS = [
    m
    for m in names.VARIANT_METHODS
    if m not in names.ANNOTATION_METHODS or "annotation" in config["sources"]
]
for _task, _spec in config["disease_risk"]["tasks"].items():
    # The simulator's cohort lives on the simulated genome; on any other genome it would be meaningless.
    if (
        _spec.get("cohort", {}).get("simulated")
        and "simulated" not in config["sources"]["genome"]
    ):
        sys.exit(
            f"genolm config error at 'disease_risk.tasks.{_task}.cohort.simulated': "
            "needs the simulated genome (sources.genome: {simulated: genome})"
        )


wildcard_constraints:
    source="genome|annotation|variants",
    split=names.alternation(names.SPLITS),
    task="[A-Za-z0-9_.-]+",


def source_input(wildcards):
    """A local file source is a real input (so changes rerun the chain); URLs are fetched."""
    return spec_input(config["sources"][wildcards.source])


def spec_input(spec):
    """The input file of one source spec (sources.<name> or a corpus genome's), or none to fetch."""
    if "simulated" in spec:
        # The simulator's output <name>_path, as simulate() names its arguments.
        return rules.simulate.output[f"{spec['simulated']}_path"]
    if "path" in spec:
        return spec["path"]
    return []


def all_metrics():
    """Every metrics file the report summarises."""
    gene = [
        f"{RESULTS}/gene_function/{task}/{method}/metrics.json"
        for task, methods in GENE_METHODS.items()
        for method in methods
    ]
    risk = expand(
        f"{RESULTS}/disease_risk/{{task}}/{{method}}/metrics.json",
        task=VARIANT_TASKS,
        method=VARIANT_METHODS,
    )
    return gene + risk


def gene_task_settings(section, task, job_keys):
    """A gene_function settings section without the job's own keys, with reverse complements only
    where the task allows them (csv tasks; not annotation genes, not a strand label: genolm.strand).
    """
    settings = {k: v for k, v in section.items() if k not in job_keys}
    settings["reverse_complement"] = reverse_complement_applies(
        task_config("gene_function", task), section["reverse_complement"]
    )
    return settings


def cnn_settings(wildcards):
    """gene_function.cnn for the cnn job (None for the other baselines, so changing it reruns none of
    them); the job's threads come from the job."""
    if wildcards.method != "cnn":
        return None
    return gene_task_settings(
        config["gene_function"]["cnn"], wildcards.task, ("threads",)
    )


def finetune_settings(wildcards):
    """gene_function.finetune and the seed, without the job's threads and gpus (the job's own resources
    carry them)."""
    section = config["gene_function"]["finetune"]
    settings = gene_task_settings(section, wildcards.task, ("threads", "gpus"))
    return {**settings, "seed": config["seed"]}


def pretrain_job_resources(pretrain: dict) -> dict:
    """The pretrain job's GPUs (all nodes together, as `sbatch --gpus` counts them) and, with
    `pretrain.nodes` > 1, one SLURM task per node; `mpi` makes the SLURM executor run the script without
    its own `srun`, so the code's `srun` can start one torchrun agent per task."""
    nodes = pretrain["nodes"]
    job = {"gpu": pretrain["gpus"] * nodes}
    if nodes > 1:
        job |= {"nodes": nodes, "tasks": nodes, "mpi": "srun"}
        if pretrain["gpus"]:  # the tasks are per node, not per GPU: no --ntasks-per-gpu
            job["tasks_per_gpu"] = 0
    return job


def baseline_threads(wildcards):
    """Only the CNN trains a network: it gets gene_function.cnn.threads, the others one thread."""
    return config["gene_function"]["cnn"]["threads"] if wildcards.method == "cnn" else 1


def variant_model(wildcards):
    """Model-based methods need the pretrained model; the baselines do not."""
    return (
        [f"{RESULTS}/pretrain/model"]
        if wildcards.method in names.VARIANT_ENCODER_METHODS
        else []
    )


def variant_annotation(wildcards):
    """The annotation, when configured, gives each variant its consequence and position in the gene."""
    return [f"{RESULTS}/data/annotation"] if "annotation" in config["sources"] else []


COHORT_SCHEMA = SCHEMA_DOC["properties"]["disease_risk"]["properties"]["tasks"][
    "additionalProperties"
]["properties"]["cohort"]["properties"]


def task_cohort(task):
    """A task's cohort settings with the schema's defaults, or None without a cohort."""
    cohort = config["disease_risk"]["tasks"][task].get("cohort")
    if cohort is None:
        return None
    defaults = {k: v["default"] for k, v in COHORT_SCHEMA.items() if "default" in v}
    return {**defaults, **cohort}


def cohort_files(task):
    """Genotypes, labels and (optional) known genes of a task's cohort; the simulator's for simulated."""
    cohort = task_cohort(task)
    if cohort is None:
        return {}
    if cohort.get("simulated"):
        out = rules.synthetic_cohort.output
        return {
            "genotypes": out.genotypes_path,
            "labels": out.labels_path,
            "known_genes": out.causal_path,
        }
    keys = ("genotypes", "labels", "known_genes")
    return {key: cohort[key] for key in keys if key in cohort}


def prioritise_inputs(wildcards):
    """Every method's scores and the annotation; with a cohort also its files, genome and LM weights."""
    inputs = {
        "annotation": f"{RESULTS}/data/annotation",
        "scores": expand(
            f"{RESULTS}/disease_risk/{{task}}/{{method}}/scores.tsv",
            task=wildcards.task,
            method=VARIANT_METHODS,
        ),
    }
    if task_cohort(wildcards.task) is not None:
        inputs |= cohort_files(wildcards.task)
        inputs["genome"] = f"{RESULTS}/data/genome"
        inputs["cohort_scores"] = (
            f"{RESULTS}/prioritise/{wildcards.task}/cohort_scores/zeroshot.tsv"
        )
    return inputs


def extra_targets():
    """Optional analyses enabled in config (interpretation, int8 compression) and gene prioritisation."""
    targets = []
    if config["interpret"]["enabled"]:
        targets += expand(
            f"{RESULTS}/interpret/{{task}}/{{name}}",
            task=VARIANT_TASKS,
            name=["ism.tsv", "ism.npz", "attributions.tsv", "summary.json"],
        )
        if config["interpret"]["gene_method"] in config["gene_function"]["methods"]:
            targets += expand(
                f"{RESULTS}/interpret/genes/{{task}}/{{method}}/{{name}}",
                task=GENE_TASKS,
                method=config["interpret"]["gene_method"],
                name=["attributions.tsv", "ism.tsv", "seqlets.tsv"]
                + ["motifs.jaspar", "motifs.tsv", "summary.json"],
            )
    if "annotation" in config["sources"]:
        targets += expand(
            f"{RESULTS}/prioritise/{{task}}/{{name}}",
            task=VARIANT_TASKS,
            name=["genes.tsv", "metrics.json"],
        )
    if config["compress"]["enabled"]:
        targets += [
            f"{RESULTS}/compress/metrics.json",
            f"{RESULTS}/compress/timing.json",
        ]
    if config["compress"]["distill"]["enabled"]:
        targets += expand(
            f"{RESULTS}/compress/{{task}}/{{name}}",
            task=GENE_TASKS,
            name=["comparison.json", "distill/metrics.json", "distill/timing.json"],
        )
    return targets
