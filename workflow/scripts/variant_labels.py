from genolm.io.user_terms import display_names
from genolm.job import optional_input, run_rule
from genolm.labels import build_variant_table

run_rule(
    build_variant_table,
    snakemake,
    script_params=["task"],
    annotation=optional_input(snakemake.input.annotation),
    sources=display_names(snakemake.params.sources),  # errors name the inputs as the user wrote them
    **snakemake.params.task,
)
