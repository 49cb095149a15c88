from pathlib import Path

from genolm.corpus_windows import gather_corpus
from genolm.logs import run_step

run_step(
    gather_corpus,
    snakemake.log[0],
    genome_dirs=[Path(record).parent for record in snakemake.input.records],
    shards=list(snakemake.input.shards),
    out_dir=Path(snakemake.output.windows[0]).parent,
    summary_path=snakemake.output.summary,
    splits_out=snakemake.output.splits,
    task_provenance=snakemake.input.task_provenance,
    window=snakemake.params.window,
    stride=snakemake.params.stride,
    max_n_fraction=snakemake.params.max_n_fraction,
    soft_mask=snakemake.params.soft_mask,
    max_soft_mask_fraction=snakemake.params.max_soft_mask_fraction,
    dedup=snakemake.params.dedup,
    reverse_complement=snakemake.params.reverse_complement,
    sampling=snakemake.params.sampling,
    seed=snakemake.params.seed,
)
