rule finetune:
    """Fine-tune the pretrained model with a pooled classification head on one gene-function task."""
    input:
        table=f"{RESULTS}/labels/genes/{{task}}.tsv",
        model=f"{RESULTS}/pretrain/model",
    output:
        predictions=f"{RESULTS}/gene_function/{{task}}/finetune/predictions.tsv",
        metrics=report(
            f"{RESULTS}/gene_function/{{task}}/finetune/metrics.json",
            caption="../report/gene_function.rst",
            category="Gene function",
            subcategory="{task}",
        ),
    params:
        settings=config["gene_function"]["finetune"],
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/gene_function/{{task}}_finetune.log",
    benchmark:
        f"{RESULTS}/benchmarks/gene_function/{{task}}_finetune.tsv"
    threads: config["gene_function"]["finetune"]["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        ENVS / "evaluate.yaml"
    script:
        "../scripts/finetune.py"


rule gene_baseline:
    """A baseline (k-mer logistic regression or majority class) on the same split and test rows."""
    input:
        table=f"{RESULTS}/labels/genes/{{task}}.tsv",
    output:
        predictions=f"{RESULTS}/gene_function/{{task}}/{{method}}/predictions.tsv",
        metrics=f"{RESULTS}/gene_function/{{task}}/{{method}}/metrics.json",
    wildcard_constraints:
        method="kmer_lr|majority",
    params:
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/gene_function/{{task}}_{{method}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/gene_function/{{task}}_{{method}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        ENVS / "evaluate.yaml"
    script:
        "../scripts/gene_baseline.py"
