rule simulate:
    """Generate the SYNTHETIC demo genome, annotation and ClinVar-style variants from the seed."""
    output:
        genome=f"{RESULTS}/simulated/genome.fa.gz",
        annotation=f"{RESULTS}/simulated/annotation.gff3.gz",
        variants=f"{RESULTS}/simulated/variants.vcf.gz",
    log:
        f"{RESULTS}/logs/simulate.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulate.tsv"
    conda:
        ENVS / "data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        seed=config["seed"],
        settings=config.get("simulate", {}),
    script:
        "../scripts/simulate.py"
