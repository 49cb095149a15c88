from genolm.finetune import FinetuneSettings, run_finetune
from genolm.job import job_settings, run_rule

run_rule(run_finetune, snakemake, settings=job_settings(FinetuneSettings, snakemake))
