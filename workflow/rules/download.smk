rule download:
    """Fetch one input (path, URL, NCBI, Ensembl, ClinVar), verified and atomically written."""
    input:
        source_input,
    output:
        data=f"{RESULTS}/data/{{source}}",
        provenance=f"{RESULTS}/data/{{source}}.provenance.json",
    log:
        f"{RESULTS}/logs/download/{{source}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/download/{{source}}.tsv"
    conda:
        ENVS / "data.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=120,
    params:
        spec=lambda wildcards: config["sources"][wildcards.source],
        cache_dir=config["download"]["cache_dir"],
        offline=config["download"]["offline"],
        base_urls=config["download"]["base_urls"],
    script:
        "../scripts/download.py"
