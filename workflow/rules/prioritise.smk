# Gene prioritisation of every disease-risk task (runs when an annotation places variants in genes).
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
            "genotypes": out.genotypes,
            "labels": out.labels,
            "known_genes": out.causal,
        }
    names = ("genotypes", "labels", "known_genes")
    return {name: cohort[name] for name in names if name in cohort}


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


rule score_cohort:
    """Zero-shot scores of a disease-risk task's cohort SNVs: the LM's burden weights."""
    input:
        genotypes=lambda wildcards: cohort_files(wildcards.task)["genotypes"],
        genome=f"{RESULTS}/data/genome",
        model=f"{RESULTS}/pretrain/model",
    output:
        scores=f"{RESULTS}/prioritise/{{task}}/cohort_scores/zeroshot.tsv",
    log:
        f"{RESULTS}/logs/prioritise/{{task}}_score_cohort.log",
    benchmark:
        f"{RESULTS}/benchmarks/prioritise/{{task}}_score_cohort.tsv"
    conda:
        ENVS / "evaluate.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        window=lambda wildcards: task_config("disease_risk", wildcards.task)["window"],
    script:
        "../scripts/score_cohort.py"


rule prioritise:
    """Rank the genes of one disease-risk task per method: damaging-variant summaries and cohort burden tests."""
    input:
        unpack(prioritise_inputs),
    output:
        genes=f"{RESULTS}/prioritise/{{task}}/genes.tsv",
        metrics=report(
            f"{RESULTS}/prioritise/{{task}}/metrics.json",
            caption="../report/prioritise.rst",
            category="Gene prioritisation",
            subcategory="{task}",
        ),
    log:
        f"{RESULTS}/logs/prioritise/{{task}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/prioritise/{{task}}.tsv"
    conda:
        ENVS / "evaluate.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        methods=VARIANT_METHODS,
        cohort=lambda wildcards: task_cohort(wildcards.task) or {},
        seed=config["seed"],
    script:
        "../scripts/prioritise.py"
