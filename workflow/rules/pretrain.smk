rule pretrain:
    """Pretrain a masked or causal LM (torchrun when processes, gpus or nodes > 1); resumes from checkpoints."""
    input:
        windows=expand(
            f"{RESULTS}/preprocess/windows/{{split}}.npy", split=["train", "val"]
        ),
        tokenizer_dir=f"{RESULTS}/tokenizer",
    output:
        model_dir=directory(f"{RESULTS}/pretrain/model"),
        log_csv=report(
            f"{RESULTS}/pretrain/log.csv",
            caption="../report/pretrain.rst",
            category="Pretraining",
        ),
        metrics_json=f"{RESULTS}/pretrain/metrics.json",
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
        # The model and pretrain sections and the seed; the job's own mem_mb, runtime, threads and gpu
        # (--set-threads, a profile's set-resources) stand for the config's.
        settings={
            **config["model"],
            **{
                k: v
                for k, v in config["pretrain"].items()
                if k not in ("mem_mb", "runtime", "threads", "gpus")
            },
            "seed": config["seed"],
        },
        checkpoint_dir=f"{RESULTS}/checkpoints/pretrain",
    script:
        "../scripts/pretrain.py"
