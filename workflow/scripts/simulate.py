from genolm.job import run_rule
from genolm.simulate import simulate

run_rule(simulate, snakemake)
