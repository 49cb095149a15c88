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
        # The cohort's settings go to synthetic_cohort, so they never rerun the demo's data.
        settings={k: v for k, v in config.get("simulate", {}).items() if k != "cohort"},
    script:
        "../scripts/simulate.py"


rule synthetic_cohort:
    """A SYNTHETIC case/control cohort on the demo genome, with planted causal genes (own seed stream)."""
    input:
        genome=rules.simulate.output.genome,
        annotation=rules.simulate.output.annotation,
    output:
        genotypes=f"{RESULTS}/simulated/cohort.vcf.gz",
        labels=f"{RESULTS}/simulated/cohort_labels.tsv",
        causal=f"{RESULTS}/simulated/cohort_causal_genes.tsv",
    log:
        f"{RESULTS}/logs/synthetic_cohort.log",
    benchmark:
        f"{RESULTS}/benchmarks/synthetic_cohort.tsv"
    conda:
        ENVS / "data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        seed=config["seed"],
        settings=config.get("simulate", {}).get("cohort", {}),
    script:
        "../scripts/synthetic_cohort.py"
