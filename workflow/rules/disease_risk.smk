def variant_model(wildcards):
    """Model-based methods need the pretrained model; the k-mer baseline does not."""
    return [f"{RESULTS}/pretrain/model"] if wildcards.method != "kmer_lr" else []


rule score_variants:
    """Score the test variants of one disease-risk task: zero-shot, supervised head or k-mer baseline."""
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
    wildcard_constraints:
        method="zeroshot|supervised|kmer_lr",
    params:
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/disease_risk/{{task}}_{{method}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/disease_risk/{{task}}_{{method}}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENVS / "evaluate.yaml"
    script:
        "../scripts/score_variants.py"
