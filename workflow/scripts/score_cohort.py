from genolm.logs import run_step
from genolm.variants import score_vcf

run_step(
    score_vcf,
    snakemake.log[0],
    model_dir=snakemake.input.model,
    vcf=snakemake.input.genotypes,
    genome=snakemake.input.genome,
    out_tsv=snakemake.output.scores,
    window=snakemake.params.window,
    gpus=int(snakemake.resources.gpu),
)
