from genolm.distill import DistillSettings, run_distill
from genolm.job import job_settings, run_rule

run_rule(run_distill, snakemake, settings=job_settings(DistillSettings, snakemake))
