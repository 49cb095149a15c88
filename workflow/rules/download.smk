from genolm import corpus as corpus_lib
from genolm.errors import GenolmError

CORPUS_SCHEMA = SCHEMA.parent / "corpus.schema.yaml"
try:
    CORPUS = corpus_lib.load_corpus(
        config["sources"].get("corpus"),
        task_source=config["sources"]["genome"],
        val_genomes=config["preprocess"]["corpus"]["val_genomes"],
        test_genomes=config["preprocess"]["corpus"]["test_genomes"],
        validate_sheet=lambda table: validate(table, str(CORPUS_SCHEMA)),
    )
# A sheet row that fails its columns schema: one line naming the sheet and the row.
except WorkflowError as err:
    cause = err.__cause__ or err.__context__ or err
    sys.exit(
        f"genolm config error at 'sources.corpus.sheet': {config['sources']['corpus']['sheet']}: "
        f"{str(err).splitlines()[0]} {getattr(cause, 'message', '')}".strip()
    )
except GenolmError as err:
    sys.exit(f"genolm config error: {err}")  # the message names the key


rule download:
    """Fetch one input (path, URL, NCBI, Ensembl, ClinVar), verified and atomically written."""
    input:
        source_input,
    output:
        dest=f"{RESULTS}/data/{{source}}",
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
        lambda wildcards: spec_input(CORPUS[wildcards.genome]["source"]),
    output:
        dest=f"{RESULTS}/data/corpus/{{genome}}",
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
        out=f"{RESULTS}/data/corpus.provenance.json",
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
