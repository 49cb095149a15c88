rule finetune:
    """Adapt the pretrained model to one gene-function task: full/LoRA/IA3/soft-prompt tuning or a linear probe.

    The random_init and probe_random_init controls run finetune_full's and the probe's recipes on an
    encoder re-initialised from the pretrained config: the same rows, whether pretraining helped.
    model/ is the saved classifier (encoder/, head.safetensors, classifier.json) for `genolm predict`.
    """
    input:
        table_tsv=f"{RESULTS}/labels/genes/{{task}}.tsv",
        model_dir=f"{RESULTS}/pretrain/model",
    output:
        predictions_tsv=f"{RESULTS}/gene_function/{{task}}/{{method}}/predictions.tsv",
        classifier_dir=directory(f"{RESULTS}/gene_function/{{task}}/{{method}}/model"),
        metrics_json=report(
            f"{RESULTS}/gene_function/{{task}}/{{method}}/metrics.json",
            caption="../report/gene_function.rst",
            category="Gene function",
            subcategory="{task}",
        ),
    log:
        f"{RESULTS}/logs/gene_function/{{task}}_{{method}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/gene_function/{{task}}_{{method}}.tsv"
    wildcard_constraints:
        method=names.alternation(names.GENE_MODEL_METHODS + names.GENE_CONTROLS),
    conda:
        ENVS / "evaluate.yaml"
    threads: config["gene_function"]["finetune"]["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=config["gene_function"]["finetune"]["gpus"],
    params:
        # The job's threads and gpu resource carry those two settings (so --set-threads and profiles reach them).
        settings=finetune_settings,
        seeds=config["gene_function"]["seeds"],
        task_type=lambda wildcards: task_config("gene_function", wildcards.task)["type"],
    script:
        "../scripts/finetune.py"


rule gene_baseline:
    """A baseline (k-mer or codon-usage logistic regression, one-hot CNN or majority class) on the same split
    and test rows."""
    input:
        table_tsv=f"{RESULTS}/labels/genes/{{task}}.tsv",
    output:
        predictions_tsv=f"{RESULTS}/gene_function/{{task}}/{{method}}/predictions.tsv",
        metrics_json=report(
            f"{RESULTS}/gene_function/{{task}}/{{method}}/metrics.json",
            caption="../report/gene_function.rst",
            category="Gene function",
            subcategory="{task}",
        ),
    log:
        f"{RESULTS}/logs/gene_function/{{task}}_{{method}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/gene_function/{{task}}_{{method}}.tsv"
    wildcard_constraints:
        method=names.alternation(names.GENE_BASELINES),
    conda:
        ENVS / "evaluate.yaml"
    threads: baseline_threads
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        seed=config["seed"],
        cnn=cnn_settings,
        task_type=lambda wildcards: task_config("gene_function", wildcards.task)["type"],
        flank=lambda wildcards: task_config("gene_function", wildcards.task)["flank"],
    script:
        "../scripts/gene_baseline.py"
