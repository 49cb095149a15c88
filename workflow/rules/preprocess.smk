from genolm.windows import shard_ids

PREPROCESS = config["preprocess"]


rule splits:
    """Assign contigs or large blocks (with gaps) to train/val/test: the split every stage reuses.

    The same pass over the FASTA writes the contig table and the genome as one byte a base, which the
    window shards read by offset."""
    input:
        genome=f"{RESULTS}/data/genome",
    output:
        splits=report(
            f"{RESULTS}/preprocess/splits.tsv",
            caption="../report/splits.rst",
            category="Data",
        ),
        contigs=f"{RESULTS}/preprocess/contigs.tsv",
        codes=f"{RESULTS}/preprocess/genome.u8",
    log:
        f"{RESULTS}/logs/splits.log",
    benchmark:
        f"{RESULTS}/benchmarks/splits.tsv"
    conda:
        ENVS / "preprocess.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        seed=config["seed"],
        split=PREPROCESS["split"],
        window=PREPROCESS["window"],
        stride=PREPROCESS["stride"],
        soft_mask=PREPROCESS["soft_mask"],
    script:
        "../scripts/splits.py"


checkpoint shard_plan:
    """Group the split intervals into shards of about preprocess.shard_size bases, one job each."""
    input:
        splits=f"{RESULTS}/preprocess/splits.tsv",
        contigs=f"{RESULTS}/preprocess/contigs.tsv",
    output:
        f"{RESULTS}/preprocess/shards.tsv",
    log:
        f"{RESULTS}/logs/shard_plan.log",
    benchmark:
        f"{RESULTS}/benchmarks/shard_plan.tsv"
    conda:
        ENVS / "preprocess.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        window=PREPROCESS["window"],
        stride=PREPROCESS["stride"],
        shard_size=PREPROCESS["shard_size"],
    script:
        "../scripts/shard_plan.py"


rule windows_shard:
    """Cut one shard's windows and drop those with too many N (or soft-masked) bases."""
    input:
        codes=f"{RESULTS}/preprocess/genome.u8",
        contigs=f"{RESULTS}/preprocess/contigs.tsv",
        plan=f"{RESULTS}/preprocess/shards.tsv",
    output:
        temp(directory(f"{RESULTS}/preprocess/shards/{{shard}}")),
    log:
        f"{RESULTS}/logs/windows_shard/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/windows_shard/{{shard}}.tsv"
    wildcard_constraints:
        shard=r"\d+",
    conda:
        ENVS / "preprocess.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        window=PREPROCESS["window"],
        stride=PREPROCESS["stride"],
        max_n_fraction=PREPROCESS["max_n_fraction"],
        soft_mask=PREPROCESS["soft_mask"],
        max_soft_mask_fraction=PREPROCESS["max_soft_mask_fraction"],
        dedup=PREPROCESS["dedup"],
    script:
        "../scripts/windows_shard.py"


rule windows:
    """Join the shards into the train/val/test window arrays (deduplicated, train reverse-complemented on request)."""
    input:
        # Every shard directory of the plan, known once the shard_plan checkpoint has run.
        shards=lambda wildcards: expand(
            f"{RESULTS}/preprocess/shards/{{shard:04d}}",
            shard=shard_ids(checkpoints.shard_plan.get().output[0]),
        ),
        contigs=f"{RESULTS}/preprocess/contigs.tsv",
    output:
        windows=expand(
            f"{RESULTS}/preprocess/windows/{{split}}.npy",
            split=["train", "val", "test"],
        ),
        summary=f"{RESULTS}/preprocess/summary.json",
    log:
        f"{RESULTS}/logs/windows.log",
    benchmark:
        f"{RESULTS}/benchmarks/windows.tsv"
    conda:
        ENVS / "preprocess.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        window=PREPROCESS["window"],
        stride=PREPROCESS["stride"],
        max_n_fraction=PREPROCESS["max_n_fraction"],
        soft_mask=PREPROCESS["soft_mask"],
        max_soft_mask_fraction=PREPROCESS["max_soft_mask_fraction"],
        dedup=PREPROCESS["dedup"],
        reverse_complement=PREPROCESS["reverse_complement"],
    script:
        "../scripts/windows.py"


rule tokenizer:
    """Build (or, for BPE, train on the training windows) the tokenizer, saved in Hugging Face format."""
    input:
        train=f"{RESULTS}/preprocess/windows/train.npy",
        val=f"{RESULTS}/preprocess/windows/val.npy",
    output:
        directory(f"{RESULTS}/tokenizer"),
    log:
        f"{RESULTS}/logs/tokenizer.log",
    benchmark:
        f"{RESULTS}/benchmarks/tokenizer.tsv"
    conda:
        ENVS / "preprocess.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        kind=config["tokenizer"]["kind"],
        k=config["tokenizer"]["k"],
        vocab_size=config["tokenizer"]["vocab_size"],
        window=PREPROCESS["window"],
    script:
        "../scripts/tokenizer.py"
