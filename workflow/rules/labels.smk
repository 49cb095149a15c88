import re

# Which rule writes labels/genes/<task>.tsv: CSV tasks come from their files, the others from the
# annotation ("(?!)" never matches, for when a group is empty).
ANNOTATION_TASK_PATTERN = (
    "|".join(re.escape(t) for t in GENE_TASKS if t not in CSV_GENE_TASKS) or "(?!)"
)
CSV_TASK_PATTERN = "|".join(map(re.escape, CSV_GENE_TASKS)) or "(?!)"


rule gene_labels:
    """Labelled genes of one gene-function task, with split and coding-strand sequence."""
    input:
        annotation=f"{RESULTS}/data/annotation",
        genome=f"{RESULTS}/data/genome",
        splits=f"{RESULTS}/preprocess/splits.tsv",
        label_table=lambda wildcards: task_config("gene_function", wildcards.task).get(
            "label_table", []
        ),
        # The GO slim's OBO files are inputs too, so replacing them reruns the task.
        go_obo=lambda wildcards: task_config("gene_function", wildcards.task)
        .get("go_slim", {})
        .get("obo", []),
        slim_obo=lambda wildcards: task_config("gene_function", wildcards.task)
        .get("go_slim", {})
        .get("slim", []),
    output:
        out_tsv=f"{RESULTS}/labels/genes/{{task}}.tsv",
        summary_json=f"{RESULTS}/labels/genes/{{task}}.summary.json",
    log:
        f"{RESULTS}/logs/labels/genes_{{task}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/labels/genes_{{task}}.tsv"
    wildcard_constraints:
        task=ANNOTATION_TASK_PATTERN,
    conda:
        ENVS / "data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        task=lambda wildcards: task_config("gene_function", wildcards.task),
        strict=config["annotation"]["strict"],
        # The sources as configured, so errors and summaries name what the user wrote.
        sources={
            key: config["sources"][key]
            for key in ("annotation", "genome")
            if key in config["sources"]
        },
    script:
        "../scripts/gene_labels.py"


rule csv_labels:
    """A gene-function task from a community benchmark's train/dev/test CSVs (GUE, Genomic Benchmarks)."""
    input:
        # Named train, dev and test: the task's csv mapping itself.
        unpack(lambda wildcards: task_config("gene_function", wildcards.task)["csv"]),
    output:
        out_tsv=f"{RESULTS}/labels/genes/{{task}}.tsv",
        summary_json=f"{RESULTS}/labels/genes/{{task}}.summary.json",
    log:
        f"{RESULTS}/logs/labels/genes_{{task}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/labels/genes_{{task}}.tsv"
    wildcard_constraints:
        task=CSV_TASK_PATTERN,
    conda:
        ENVS / "data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        type=lambda wildcards: task_config("gene_function", wildcards.task)["type"],
        min_class_size=lambda wildcards: task_config("gene_function", wildcards.task)[
            "min_class_size"
        ],
    script:
        "../scripts/csv_labels.py"


rule variant_labels:
    """Labelled SNVs of one disease-risk task, REF-checked, with split, reference window and consequence."""
    input:
        variants=f"{RESULTS}/data/variants",
        genome=f"{RESULTS}/data/genome",
        splits=f"{RESULTS}/preprocess/splits.tsv",
        annotation=variant_annotation,
    output:
        out_tsv=f"{RESULTS}/labels/variants/{{task}}.tsv",
        summary_json=f"{RESULTS}/labels/variants/{{task}}.summary.json",
    log:
        f"{RESULTS}/logs/labels/variants_{{task}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/labels/variants_{{task}}.tsv"
    conda:
        ENVS / "data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        task=lambda wildcards: task_config("disease_risk", wildcards.task),
        strict=config["annotation"]["strict"],
        sources={
            key: config["sources"][key]
            for key in ("variants", "genome", "annotation")
            if key in config["sources"]
        },
    script:
        "../scripts/variant_labels.py"
