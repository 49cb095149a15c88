from genolm.job import run_rule
from genolm.windows import write_shard_plan

run_rule(write_shard_plan, snakemake)
