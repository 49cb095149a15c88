rule report:
    """One self-contained HTML page: data, pretraining, both task families beside baselines, provenance."""
    input:
        summary=f"{RESULTS}/preprocess/summary.json",
        splits=f"{RESULTS}/preprocess/splits.tsv",
        provenance=expand(
            f"{RESULTS}/data/{{source}}.provenance.json",
            source=list(config["sources"]),
        ),
        pretrain_log=f"{RESULTS}/pretrain/log.csv",
        pretrain_metrics=f"{RESULTS}/pretrain/metrics.json",
        label_summaries=expand(
            f"{RESULTS}/labels/genes/{{task}}.summary.json", task=GENE_TASKS
        )
        + expand(
            f"{RESULTS}/labels/variants/{{task}}.summary.json", task=VARIANT_TASKS
        ),
        metrics=all_metrics(),
        extra=extra_targets(),
    output:
        out_html=report(
            f"{RESULTS}/report.html",
            caption="../report/report.rst",
            category="Report",
        ),
    log:
        f"{RESULTS}/logs/report.log",
    benchmark:
        f"{RESULTS}/benchmarks/report.tsv"
    conda:
        ENVS / "report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        results_dir=lambda wildcards, output: Path(output[0]).parent,
        config=config,
        synthetic="simulate" in config,
        workflow_dir=workflow.basedir,
    script:
        "../scripts/report.py"
