# Gene prioritisation of every disease-risk task (runs when an annotation places variants in genes);
# the input functions (task_cohort, cohort_files, prioritise_inputs) live in common.smk.
rule score_cohort:
    """Zero-shot scores of a disease-risk task's cohort SNVs: the LM's burden weights."""
    input:
        vcf=lambda wildcards: cohort_files(wildcards.task)["genotypes"],
        genome=f"{RESULTS}/data/genome",
        model_dir=f"{RESULTS}/pretrain/model",
    output:
        out_tsv=f"{RESULTS}/prioritise/{{task}}/cohort_scores/zeroshot.tsv",
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
        gpu=config["disease_risk"]["gpus"],
    params:
        window=lambda wildcards: task_config("disease_risk", wildcards.task)["window"],
    script:
        "../scripts/score_cohort.py"


rule prioritise:
    """Rank the genes of one disease-risk task per method: damaging-variant summaries and cohort burden tests."""
    input:
        unpack(prioritise_inputs),
    output:
        out_tsv=f"{RESULTS}/prioritise/{{task}}/genes.tsv",
        metrics_json=report(
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
