from genolm.logs import run_step
from genolm.simulate import simulate_cohort

run_step(
    simulate_cohort,
    snakemake.log[0],
    genome_path=snakemake.input.genome,
    annotation_path=snakemake.input.annotation,
    genotypes_path=snakemake.output.genotypes,
    labels_path=snakemake.output.labels,
    causal_path=snakemake.output.causal,
    seed=snakemake.params.seed,
    **snakemake.params.settings,
)
