rule score_variants:
    """Score the test variants of one disease-risk task: zero-shot, supervised head, k-mer or consequence baseline."""
    input:
        table=f"{RESULTS}/labels/variants/{{task}}.tsv",
        model=variant_model,
    output:
        scores=f"{RESULTS}/disease_risk/{{task}}/{{method}}/scores.tsv",
        metrics=report(
            f"{RESULTS}/disease_risk/{{task}}/{{method}}/metrics.json",
            caption="../report/disease_risk.rst",
            category="Disease risk",
            subcategory="{task}",
        ),
    log:
        f"{RESULTS}/logs/disease_risk/{{task}}_{{method}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/disease_risk/{{task}}_{{method}}.tsv"
    wildcard_constraints:
        method=names.alternation(names.VARIANT_METHODS),
    conda:
        ENVS / "evaluate.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        seed=config["seed"],
    script:
        "../scripts/score_variants.py"
