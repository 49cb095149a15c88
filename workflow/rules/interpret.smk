rule interpret:
    """ISM and gradient x input for the top zero-shot test variants of one disease-risk task."""
    input:
        table=f"{RESULTS}/labels/variants/{{task}}.tsv",
        scores=f"{RESULTS}/disease_risk/{{task}}/zeroshot/scores.tsv",
        model=f"{RESULTS}/pretrain/model",
    output:
        ism_tsv=f"{RESULTS}/interpret/{{task}}/ism.tsv",
        ism_npz=f"{RESULTS}/interpret/{{task}}/ism.npz",
        attributions=f"{RESULTS}/interpret/{{task}}/attributions.tsv",
        summary=f"{RESULTS}/interpret/{{task}}/summary.json",
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
    params:
        top_variants=config["interpret"]["top_variants"],
        flank=config["interpret"]["flank"],
    script:
        "../scripts/interpret.py"


rule compress:
    """Int8 dynamic quantization of the pretrained model: size, CPU throughput and metric change."""
    input:
        model=f"{RESULTS}/pretrain/model",
        windows=f"{RESULTS}/preprocess/windows/test.npy",
        tables=expand(f"{RESULTS}/labels/variants/{{task}}.tsv", task=VARIANT_TASKS),
    output:
        metrics=f"{RESULTS}/compress/metrics.json",
        timing=f"{RESULTS}/compress/timing.json",
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
