from genolm.job import run_rule
from genolm.variants import score_vcf

run_rule(score_vcf, snakemake)
