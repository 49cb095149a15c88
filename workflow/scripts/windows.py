from pathlib import Path

from genolm.logs import run_step
from genolm.windows import gather_windows

run_step(
    gather_windows,
    snakemake.log[0],
    shards=list(snakemake.input.shards),
    contigs=snakemake.input.contigs,
    out_dir=Path(snakemake.output.windows[0]).parent,
    summary_path=snakemake.output.summary,
    window=snakemake.params.window,
    stride=snakemake.params.stride,
    max_n_fraction=snakemake.params.max_n_fraction,
    soft_mask=snakemake.params.soft_mask,
    max_soft_mask_fraction=snakemake.params.max_soft_mask_fraction,
    dedup=snakemake.params.dedup,
    reverse_complement=snakemake.params.reverse_complement,
)
