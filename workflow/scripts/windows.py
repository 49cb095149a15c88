from pathlib import Path

from genolm.logs import run_step
from genolm.windows import preprocess_genome

run_step(
    preprocess_genome,
    snakemake.log[0],
    genome=snakemake.input.genome,
    splits=snakemake.input.splits,
    out_dir=Path(snakemake.output.windows[0]).parent,
    summary_path=snakemake.output.summary,
    window=snakemake.params.window,
    stride=snakemake.params.stride,
    max_n_fraction=snakemake.params.max_n_fraction,
)
