from pathlib import Path

from genolm.logs import run_step
from genolm.windows import WindowFilter, gather_windows

run_step(
    gather_windows,
    snakemake.log[0],
    shards=list(snakemake.input.shards),
    contigs=snakemake.input.contigs,
    out_dir=Path(snakemake.output.windows[0]).parent,
    summary_path=snakemake.output.summary,
    filters=WindowFilter(**snakemake.params.filters),
    reverse_complement=snakemake.params.reverse_complement,
)
