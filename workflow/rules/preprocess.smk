rule splits:
    """Assign contigs or large blocks (with gaps) to train/val/test: the split every stage reuses."""
    input:
        genome=f"{RESULTS}/data/genome",
    output:
        report(
            f"{RESULTS}/preprocess/splits.tsv",
            caption="../report/splits.rst",
            category="Data",
        ),
    params:
        seed=config["seed"],
        split=config["preprocess"]["split"],
    log:
        f"{RESULTS}/logs/splits.log",
    benchmark:
        f"{RESULTS}/benchmarks/splits.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        ENVS / "preprocess.yaml"
    script:
        "../scripts/splits.py"


rule windows:
    """Cut windows inside the split intervals and drop those with too many N."""
    input:
        genome=f"{RESULTS}/data/genome",
        splits=f"{RESULTS}/preprocess/splits.tsv",
    output:
        windows=expand(f"{RESULTS}/preprocess/windows/{{split}}.npy", split=["train", "val", "test"]),
        summary=f"{RESULTS}/preprocess/summary.json",
    params:
        window=config["preprocess"]["window"],
        stride=config["preprocess"]["stride"],
        max_n_fraction=config["preprocess"]["max_n_fraction"],
    log:
        f"{RESULTS}/logs/windows.log",
    benchmark:
        f"{RESULTS}/benchmarks/windows.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENVS / "preprocess.yaml"
    script:
        "../scripts/windows.py"


rule tokenizer:
    """Build (or, for BPE, train on the training windows) the tokenizer, saved in Hugging Face format."""
    input:
        train=f"{RESULTS}/preprocess/windows/train.npy",
    output:
        directory(f"{RESULTS}/tokenizer"),
    params:
        kind=config["tokenizer"]["kind"],
        k=config["tokenizer"]["k"],
        vocab_size=config["tokenizer"]["vocab_size"],
        window=config["preprocess"]["window"],
    log:
        f"{RESULTS}/logs/tokenizer.log",
    benchmark:
        f"{RESULTS}/benchmarks/tokenizer.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENVS / "preprocess.yaml"
    script:
        "../scripts/tokenizer.py"
