from pathlib import Path

from genolm.corpus_windows import gather_corpus
from genolm.job import run_rule
from genolm.windows import WindowFilter

run_rule(
    gather_corpus,
    snakemake,
    genome_dirs=[Path(record).parent for record in snakemake.input.records],
    shards=list(snakemake.input.shards),
    out_dir=Path(snakemake.output[0]).parent,
    filters=WindowFilter(**snakemake.params.filters),
)
