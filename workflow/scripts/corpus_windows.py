from pathlib import Path

from genolm.corpus_windows import gather_corpus
from genolm.logs import run_step
from genolm.windows import WindowFilter

run_step(
    gather_corpus,
    snakemake.log[0],
    genome_dirs=[Path(record).parent for record in snakemake.input.records],
    shards=list(snakemake.input.shards),
    out_dir=Path(snakemake.output.windows[0]).parent,
    summary_path=snakemake.output.summary,
    splits_out=snakemake.output.splits,
    task_provenance=snakemake.input.task_provenance,
    filters=WindowFilter(**snakemake.params.filters),
    reverse_complement=snakemake.params.reverse_complement,
    sampling=snakemake.params.sampling,
    seed=snakemake.params.seed,
)
