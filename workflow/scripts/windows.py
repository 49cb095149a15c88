from pathlib import Path

from genolm.job import run_rule
from genolm.windows import WindowFilter, gather_windows

run_rule(
    gather_windows,
    snakemake,
    shards=list(snakemake.input.shards),
    out_dir=Path(snakemake.output[0]).parent,
    filters=WindowFilter(**snakemake.params.filters),
)
