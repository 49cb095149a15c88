from genolm import corpus as corpus_lib
from genolm.errors import GenolmError


def load_corpus():
    """sources.corpus as name -> entry (inline, or a sheet validated against its columns schema)."""
    given = config["sources"].get("corpus")
    if given is None:
        return {}
    settings = config["preprocess"]["corpus"]
    try:
        if "sheet" in given:
            table = corpus_lib.read_sheet(given["sheet"])
            try:
                validate(table, str(SCHEMA.parent / "corpus.schema.yaml"))
            except WorkflowError as err:
                cause = err.__cause__ or err.__context__ or err
                raise GenolmError(
                    f"{given['sheet']}: {str(err).splitlines()[0]} "
                    f"{getattr(cause, 'message', '')}".strip()
                ) from None
            entries = corpus_lib.sheet_entries(table)
        else:
            entries = given
        return corpus_lib.check_corpus(
            entries,
            task_source=config["sources"]["genome"],
            val_genomes=settings["val_genomes"],
            test_genomes=settings["test_genomes"],
        )
    except GenolmError as err:
        sys.exit(f"genolm config error at 'sources.corpus': {err}")


CORPUS = load_corpus()


def corpus_source_input(wildcards):
    """A local corpus genome is a real input (so changes rerun the chain); URLs are fetched."""
    spec = CORPUS[wildcards.genome]["source"]
    if "simulated" in spec:
        return rules.simulate.output[spec["simulated"]]
    return spec.get("path", [])


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


rule download_corpus:
    """Fetch one corpus genome (any source kind), verified, cached and atomically written: one job each."""
    input:
        corpus_source_input,
    output:
        data=f"{RESULTS}/data/corpus/{{genome}}",
        provenance=f"{RESULTS}/data/corpus/{{genome}}.provenance.json",
    log:
        f"{RESULTS}/logs/download/corpus/{{genome}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/download/corpus/{{genome}}.tsv"
    wildcard_constraints:
        genome=corpus_lib.GENOME_NAME,
    conda:
        ENVS / "data.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=120,
    params:
        spec=lambda wildcards: CORPUS[wildcards.genome]["source"],
        cache_dir=config["download"]["cache_dir"],
        offline=config["download"]["offline"],
        base_urls=config["download"]["base_urls"],
    script:
        "../scripts/download.py"


rule corpus_provenance:
    """One provenance record for the corpus (every genome's), beside the other inputs' records."""
    input:
        [f"{RESULTS}/data/corpus/{name}.provenance.json" for name in CORPUS],
    output:
        f"{RESULTS}/data/corpus.provenance.json",
    log:
        f"{RESULTS}/logs/download/corpus.log",
    benchmark:
        f"{RESULTS}/benchmarks/download/corpus.tsv"
    conda:
        ENVS / "data.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        names=list(CORPUS),
    script:
        "../scripts/corpus_provenance.py"
