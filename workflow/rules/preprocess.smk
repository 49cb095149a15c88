from dataclasses import fields

from genolm.windows import WindowFilter, shard_ids

PREPROCESS = config["preprocess"]
# The settings of genolm.windows.WindowFilter, passed as one object to every rule that cuts or joins windows.
WINDOW_FILTER = {field.name: PREPROCESS[field.name] for field in fields(WindowFilter)}


rule splits:
    """Assign contigs or large blocks (with gaps) to train/val/test: the split every stage reuses.

    The same pass over the FASTA writes the contig table and the genome as one byte a base, which the
    window shards read by offset."""
    input:
        genome=f"{RESULTS}/data/genome",
    output:
        splits_out=report(
            f"{RESULTS}/preprocess/splits.tsv",
            caption="../report/splits.rst",
            category="Data",
        ),
        contigs_out=f"{RESULTS}/preprocess/contigs.tsv",
        codes_out=f"{RESULTS}/preprocess/genome.u8",
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
        # The genome as configured, so FASTA errors name what the user wrote.
        source=config["sources"]["genome"],
    script:
        "../scripts/splits.py"


checkpoint shard_plan:
    """Group the split intervals into shards of about preprocess.shard_size bases, one job each."""
    input:
        splits=f"{RESULTS}/preprocess/splits.tsv",
        contigs=f"{RESULTS}/preprocess/contigs.tsv",
    output:
        out=f"{RESULTS}/preprocess/shards.tsv",
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
        out_dir=temp(directory(f"{RESULTS}/preprocess/shards/{{shard}}")),
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
        filters=WINDOW_FILTER,
    script:
        "../scripts/windows_shard.py"


if CORPUS:
    CORPUS_SETTINGS = PREPROCESS["corpus"]
    CORPUS_DIR = f"{RESULTS}/preprocess/corpus"

    rule corpus_plan:
        """One corpus genome: its codes, contig and split tables, and its shard plan.

        Split as the task genome when it has the task genome's source, whole when held out or a FASTA of
        sequences, else within the genome as preprocess.split says."""
        input:
            # The genome and its provenance; the task genome's split table when it is the task genome.
            unpack(
                lambda wildcards: {
                    "genome": f"{RESULTS}/data/corpus/{wildcards.genome}",
                    "provenance": f"{RESULTS}/data/corpus/{wildcards.genome}.provenance.json",
                    **(
                        {"task_splits": f"{RESULTS}/preprocess/splits.tsv"}
                        if CORPUS[wildcards.genome]["task_alias"]
                        else {}
                    ),
                }
            ),
        # Split and contig tables, codes, shard plan and record, all in the genome's out_dir.
        output:
            f"{CORPUS_DIR}/{{genome}}/splits.tsv",
            f"{CORPUS_DIR}/{{genome}}/contigs.tsv",
            temp(f"{CORPUS_DIR}/{{genome}}/genome.u8"),
            f"{CORPUS_DIR}/{{genome}}/shards.tsv",
            f"{CORPUS_DIR}/{{genome}}/genome.json",
        log:
            f"{RESULTS}/logs/corpus_plan/{{genome}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/corpus_plan/{{genome}}.tsv"
        wildcard_constraints:
            genome=corpus_lib.GENOME_NAME,
        conda:
            ENVS / "preprocess.yaml"
        threads: 1
        resources:
            mem_mb=4000,
            runtime=60,
        params:
            held_out=lambda wildcards: CORPUS[wildcards.genome]["held_out"],
            sequences=lambda wildcards: CORPUS[wildcards.genome]["sequences"],
            listed=[s for s in ("val", "test") if CORPUS_SETTINGS[f"{s}_genomes"]],
            seed=config["seed"],
            split=PREPROCESS["split"],
            window=PREPROCESS["window"],
            stride=PREPROCESS["stride"],
            shard_size=PREPROCESS["shard_size"],
            soft_mask=PREPROCESS["soft_mask"],
        script:
            "../scripts/corpus_plan.py"

    checkpoint corpus_shards:
        """Every (genome, shard) window job of the corpus: one checkpoint for the whole corpus, as each
        finished checkpoint makes Snakemake re-plan the whole DAG."""
        input:
            [f"{CORPUS_DIR}/{name}/shards.tsv" for name in CORPUS],
        output:
            out=f"{CORPUS_DIR}/shards.tsv",
        log:
            f"{RESULTS}/logs/corpus_shards.log",
        benchmark:
            f"{RESULTS}/benchmarks/corpus_shards.tsv"
        conda:
            ENVS / "preprocess.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            names=list(CORPUS),
        script:
            "../scripts/corpus_shards.py"

    rule corpus_windows_shard:
        """Cut one shard of one corpus genome (as windows_shard does for the task genome)."""
        input:
            codes=f"{CORPUS_DIR}/{{genome}}/genome.u8",
            contigs=f"{CORPUS_DIR}/{{genome}}/contigs.tsv",
            plan=f"{CORPUS_DIR}/{{genome}}/shards.tsv",
        output:
            out_dir=temp(directory(f"{CORPUS_DIR}/{{genome}}/shards/{{shard}}")),
        log:
            f"{RESULTS}/logs/corpus_windows_shard/{{genome}}/{{shard}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/corpus_windows_shard/{{genome}}/{{shard}}.tsv"
        wildcard_constraints:
            genome=corpus_lib.GENOME_NAME,
            shard=r"\d+",
        conda:
            ENVS / "preprocess.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=60,
        params:
            filters=WINDOW_FILTER,
        script:
            "../scripts/windows_shard.py"

    rule corpus_windows:
        """Join every corpus genome's windows into train/val/test (deduplicated across the corpus on request),
        sampling train windows across genomes; per-genome counts go to the summary.
        """
        input:
            records=[f"{CORPUS_DIR}/{name}/genome.json" for name in CORPUS],
            task_provenance=f"{RESULTS}/data/genome.provenance.json",
            splits=[f"{CORPUS_DIR}/{name}/splits.tsv" for name in CORPUS],
            # Every shard directory of every genome, known once the corpus_shards checkpoint has run.
            shards=lambda wildcards: [
                f"{CORPUS_DIR}/{genome}/shards/{shard:04d}"
                for genome, shard in corpus_lib.shard_jobs(
                    checkpoints.corpus_shards.get().output[0]
                )
            ],
        output:
            # The window arrays, in out_dir.
            expand(
                f"{RESULTS}/preprocess/windows/{{split}}.npy",
                split=["train", "val", "test"],
            ),
            summary_path=f"{RESULTS}/preprocess/summary.json",
            splits_out=f"{CORPUS_DIR}/splits.tsv",
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
            filters=WINDOW_FILTER,
            reverse_complement=PREPROCESS["reverse_complement"],
            sampling=CORPUS_SETTINGS["sampling"],
            seed=config["seed"],
        script:
            "../scripts/corpus_windows.py"

else:

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
            # The window arrays, in out_dir.
            expand(
                f"{RESULTS}/preprocess/windows/{{split}}.npy",
                split=["train", "val", "test"],
            ),
            summary_path=f"{RESULTS}/preprocess/summary.json",
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
            filters=WINDOW_FILTER,
            reverse_complement=PREPROCESS["reverse_complement"],
        script:
            "../scripts/windows.py"


rule tokenizer:
    """Build (or, for BPE, train on the training windows) the tokenizer, saved in Hugging Face format."""
    input:
        train_windows=f"{RESULTS}/preprocess/windows/train.npy",
        val_windows=f"{RESULTS}/preprocess/windows/val.npy",
    output:
        out_dir=directory(f"{RESULTS}/tokenizer"),
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
