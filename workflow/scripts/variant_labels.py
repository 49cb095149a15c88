from genolm.io.user_terms import display_names
from genolm.labels import build_variant_table
from genolm.logs import run_step

run_step(
    build_variant_table,
    snakemake.log[0],
    variants=snakemake.input.variants,
    genome=snakemake.input.genome,
    splits=snakemake.input.splits,
    out_tsv=snakemake.output.table,
    summary_json=snakemake.output.summary,
    annotation=snakemake.input.annotation[0] if snakemake.input.annotation else None,
    strict=snakemake.params.strict,
    sources=display_names(snakemake.params.sources),
    **snakemake.params.task,
)
