rule interpret:
    """ISM and gradient x input for the top zero-shot test variants of one disease-risk task."""
    input:
        table_tsv=f"{RESULTS}/labels/variants/{{task}}.tsv",
        scores_tsv=f"{RESULTS}/disease_risk/{{task}}/zeroshot/scores.tsv",
        model_dir=f"{RESULTS}/pretrain/model",
    output:
        ism_tsv=f"{RESULTS}/interpret/{{task}}/ism.tsv",
        ism_npz=f"{RESULTS}/interpret/{{task}}/ism.npz",
        attributions_tsv=f"{RESULTS}/interpret/{{task}}/attributions.tsv",
        summary_json=f"{RESULTS}/interpret/{{task}}/summary.json",
    log:
        f"{RESULTS}/logs/interpret/{{task}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/interpret/{{task}}.tsv"
    conda:
        ENVS / "evaluate.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=config["interpret"]["gpus"],
    params:
        top_variants=config["interpret"]["top_variants"],
        flank=config["interpret"]["flank"],
    script:
        "../scripts/interpret.py"


rule interpret_classifier:
    """Integrated gradients, ISM and attribution motifs of a saved gene-function classifier."""
    input:
        table_tsv=f"{RESULTS}/labels/genes/{{task}}.tsv",
        classifier_dir=f"{RESULTS}/gene_function/{{task}}/{{method}}/model",
        motif_database=lambda wildcards: (
            [config["interpret"]["motif_database"]]
            if config["interpret"]["motif_database"]
            else []
        ),
    output:
        attributions_tsv=f"{RESULTS}/interpret/genes/{{task}}/{{method}}/attributions.tsv",
        ism_tsv=f"{RESULTS}/interpret/genes/{{task}}/{{method}}/ism.tsv",
        seqlets_tsv=f"{RESULTS}/interpret/genes/{{task}}/{{method}}/seqlets.tsv",
        motifs_jaspar=f"{RESULTS}/interpret/genes/{{task}}/{{method}}/motifs.jaspar",
        motifs_tsv=f"{RESULTS}/interpret/genes/{{task}}/{{method}}/motifs.tsv",
        summary_json=f"{RESULTS}/interpret/genes/{{task}}/{{method}}/summary.json",
    log:
        f"{RESULTS}/logs/interpret/genes_{{task}}_{{method}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/interpret/genes_{{task}}_{{method}}.tsv"
    wildcard_constraints:
        method=names.alternation(names.EXPLAINABLE_GENE_METHODS),
    conda:
        ENVS / "evaluate.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=config["interpret"]["gpus"],
    params:
        top_genes=config["interpret"]["top_genes"],
        ig_steps=config["interpret"]["ig_steps"],
        ism_width=config["interpret"]["ism_width"],
        seqlet_width=config["interpret"]["seqlet_width"],
        seqlet_z=config["interpret"]["seqlet_z"],
        min_seqlets=config["interpret"]["min_seqlets"],
        seed=config["seed"],
    script:
        "../scripts/interpret_classifier.py"


rule compress:
    """Int8 dynamic quantization of the pretrained model: size, CPU throughput and metric change.

    CPU only, by design: torch's dynamic int8 kernels are CPU kernels, and the stage measures CPU deployment.
    """
    input:
        model_dir=f"{RESULTS}/pretrain/model",
        test_windows=f"{RESULTS}/preprocess/windows/test.npy",
        tables=expand(f"{RESULTS}/labels/variants/{{task}}.tsv", task=VARIANT_TASKS),
    output:
        metrics_json=f"{RESULTS}/compress/metrics.json",
        timing_json=f"{RESULTS}/compress/timing.json",
    log:
        f"{RESULTS}/logs/compress.log",
    benchmark:
        f"{RESULTS}/benchmarks/compress.tsv"
    conda:
        ENVS / "evaluate.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        tasks=VARIANT_TASKS,
        max_windows=config["compress"]["max_windows"],
        seed=config["seed"],
    script:
        "../scripts/compress.py"


rule distill:
    """Distil a task's finetune_full classifier into a smaller student; compare with it and its int8 copy."""
    input:
        table_tsv=f"{RESULTS}/labels/genes/{{task}}.tsv",
        teacher_dir=f"{RESULTS}/gene_function/{{task}}/finetune_full/model",
    output:
        predictions_tsv=f"{RESULTS}/compress/{{task}}/distill/predictions.tsv",
        metrics_json=f"{RESULTS}/compress/{{task}}/distill/metrics.json",
        student_dir=directory(f"{RESULTS}/compress/{{task}}/distill/model"),
        timing_json=f"{RESULTS}/compress/{{task}}/distill/timing.json",
        comparison_json=f"{RESULTS}/compress/{{task}}/comparison.json",
    log:
        f"{RESULTS}/logs/compress/{{task}}_distill.log",
    benchmark:
        f"{RESULTS}/benchmarks/compress/{{task}}_distill.tsv"
    conda:
        ENVS / "evaluate.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=config["compress"]["distill"]["gpus"],
    params:
        # The section and the seed; the job's gpu resource carries compress.distill.gpus (so a profile's
        # set-resources reaches it).
        settings={
            **{
                k: v
                for k, v in config["compress"]["distill"].items()
                if k not in ("enabled", "gpus")
            },
            "seed": config["seed"],
        },
        task_type=lambda wildcards: task_config("gene_function", wildcards.task)["type"],
    script:
        "../scripts/distill.py"
