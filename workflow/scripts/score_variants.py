from genolm.job import optional_input, run_rule
from genolm.variants import score_variants

# The baselines need no model.
run_rule(score_variants, snakemake, model_dir=optional_input(snakemake.input.model_dir))
