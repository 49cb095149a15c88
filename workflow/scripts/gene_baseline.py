from genolm.baselines.genes import run_baseline
from genolm.job import run_rule

run_rule(run_baseline, snakemake)
