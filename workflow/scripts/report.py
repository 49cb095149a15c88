from genolm.job import run_rule
from genolm.report import build_report

run_rule(build_report, snakemake, config=dict(snakemake.params.config))
