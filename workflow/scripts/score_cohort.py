from genolm.logs import run_step
from genolm.variants import score_vcf

# The rule names its inputs, outputs and params as score_vcf's arguments.
run_step(
    score_vcf,
    snakemake.log[0],
    **snakemake.input,
    **snakemake.output,
    **snakemake.params,
    gpus=int(snakemake.resources.gpu),
)
