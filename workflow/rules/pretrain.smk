rule pretrain:
    """Pretrain a masked or causal LM (torchrun when processes, gpus or nodes > 1); resumes from checkpoints."""
    input:
        windows=expand(
            f"{RESULTS}/preprocess/windows/{{split}}.npy", split=["train", "val"]
        ),
        tokenizer=f"{RESULTS}/tokenizer",
    output:
        model=directory(f"{RESULTS}/pretrain/model"),
        log_csv=report(
            f"{RESULTS}/pretrain/log.csv",
            caption="../report/pretrain.rst",
            category="Pretraining",
        ),
        metrics=f"{RESULTS}/pretrain/metrics.json",
    log:
        f"{RESULTS}/logs/pretrain.log",
    benchmark:
        f"{RESULTS}/benchmarks/pretrain.tsv"
    conda:
        ENVS / "train.yaml"
    threads: config["pretrain"]["threads"]
    resources:
        **pretrain_job_resources(config["pretrain"]),
        mem_mb=config["pretrain"]["mem_mb"],
        runtime=config["pretrain"]["runtime"],
    params:
        model=config["model"],
        pretrain=config["pretrain"],
        seed=config["seed"],
        checkpoints=f"{RESULTS}/checkpoints/pretrain",
    script:
        "../scripts/pretrain.py"
