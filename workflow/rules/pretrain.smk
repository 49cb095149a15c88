def pretrain_job_resources(pretrain: dict) -> dict:
    """The pretrain job's GPUs (all nodes together, as `sbatch --gpus` counts them) and, with
    `pretrain.nodes` > 1, one SLURM task per node; `mpi` makes the SLURM executor run the script without
    its own `srun`, so the code's `srun` can start one torchrun agent per task."""
    nodes = pretrain["nodes"]
    job = {"gpu": pretrain["gpus"] * nodes}
    if nodes > 1:
        job |= {"nodes": nodes, "tasks": nodes, "mpi": "srun"}
        if pretrain["gpus"]:  # the tasks are per node, not per GPU: no --ntasks-per-gpu
            job["tasks_per_gpu"] = 0
    return job


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
