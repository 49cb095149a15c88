rule score_variants:
    """Score the test variants of one disease-risk task: zero-shot, supervised head (and its random-init
    control), LM + consequence features combined, k-mer, consequence or one-hot CNN baseline.
    """
    input:
        table_tsv=f"{RESULTS}/labels/variants/{{task}}.tsv",
        model_dir=variant_model,
    output:
        scores_tsv=f"{RESULTS}/disease_risk/{{task}}/{{method}}/scores.tsv",
        metrics_json=report(
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
        # The model methods compute on the job's GPUs; the baselines never ask for one.
        gpu=lambda wildcards: (
            config["disease_risk"]["gpus"]
            if wildcards.method in names.VARIANT_ENCODER_METHODS
            else 0
        ),
    params:
        seed=config["seed"],
        # Only the cnn job sees its settings, so changing them reruns no other method.
        cnn=lambda wildcards: (
            config["disease_risk"]["cnn"] if wildcards.method == "cnn" else None
        ),
    script:
        "../scripts/score_variants.py"
