from genolm.interpret.variants import interpret_variants
from genolm.job import run_rule

run_rule(interpret_variants, snakemake)
