rule pretrain:
    """Pretrain a masked or causal LM; resumes from results/<run>/checkpoints after a kill."""
    input:
        windows=expand(f"{RESULTS}/preprocess/windows/{{split}}.npy", split=["train", "val"]),
        tokenizer=f"{RESULTS}/tokenizer",
    output:
        model=directory(f"{RESULTS}/pretrain/model"),
        log_csv=report(
            f"{RESULTS}/pretrain/log.csv",
            caption="../report/pretrain.rst",
            category="Pretraining",
        ),
        metrics=f"{RESULTS}/pretrain/metrics.json",
    params:
        model=config["model"],
        pretrain=config["pretrain"],
        seed=config["seed"],
        checkpoints=f"{RESULTS}/checkpoints/pretrain",
    log:
        f"{RESULTS}/logs/pretrain.log",
    benchmark:
        f"{RESULTS}/benchmarks/pretrain.tsv"
    threads: config["pretrain"]["threads"]
    resources:
        mem_mb=config["pretrain"]["mem_mb"],
        runtime=config["pretrain"]["runtime"],
        gpu=config["pretrain"]["gpus"],
    conda:
        ENVS / "train.yaml"
    script:
        "../scripts/pretrain.py"
