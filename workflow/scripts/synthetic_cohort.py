from genolm.job import run_rule
from genolm.simulate import simulate_cohort

run_rule(simulate_cohort, snakemake)
