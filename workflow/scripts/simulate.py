from genolm.logs import run_step
from genolm.simulate import simulate

run_step(
    simulate,
    snakemake.log[0],
    genome_path=snakemake.output.genome,
    annotation_path=snakemake.output.annotation,
    variants_path=snakemake.output.variants,
    seed=snakemake.params.seed,
    **snakemake.params.settings,
)
