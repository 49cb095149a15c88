from genolm.interpret.classifier import interpret_classifier
from genolm.job import optional_input, run_rule

run_rule(interpret_classifier, snakemake, motif_database=optional_input(snakemake.input.motif_database))
