rule simulate:
    """Generate the SYNTHETIC demo genome, annotation and ClinVar-style variants from the seed."""
    output:
        genome_path=f"{RESULTS}/simulated/genome.fa.gz",
        annotation_path=f"{RESULTS}/simulated/annotation.gff3.gz",
        variants_path=f"{RESULTS}/simulated/variants.vcf.gz",
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
        # simulate's settings by name; the cohort's go to synthetic_cohort, so they never rerun the demo's data.
        **{k: v for k, v in config.get("simulate", {}).items() if k != "cohort"},
        seed=config["seed"],
    script:
        "../scripts/simulate.py"


rule synthetic_cohort:
    """A SYNTHETIC case/control cohort on the demo genome, with planted causal genes (own seed stream)."""
    input:
        genome_path=rules.simulate.output.genome_path,
        annotation_path=rules.simulate.output.annotation_path,
    output:
        genotypes_path=f"{RESULTS}/simulated/cohort.vcf.gz",
        labels_path=f"{RESULTS}/simulated/cohort_labels.tsv",
        causal_path=f"{RESULTS}/simulated/cohort_causal_genes.tsv",
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
        # simulate_cohort's settings by name.
        **config.get("simulate", {}).get("cohort", {}),
        seed=config["seed"],
    script:
        "../scripts/synthetic_cohort.py"
