from genolm.logs import run_step
from genolm.prioritise import BURDEN_SETTINGS, prioritise

cohort = snakemake.params.cohort
run_step(
    prioritise,
    snakemake.log[0],
    annotation=snakemake.input.annotation,
    out_tsv=snakemake.output.genes,
    metrics_json=snakemake.output.metrics,
    scores=dict(zip(snakemake.params.methods, snakemake.input.scores, strict=True)),
    genome=snakemake.input.get("genome"),
    genotypes=snakemake.input.get("genotypes"),
    labels=snakemake.input.get("labels"),
    cohort_scores={"zeroshot": snakemake.input.cohort_scores} if cohort else None,
    known_genes=snakemake.input.get("known_genes"),
    seed=snakemake.params.seed,
    **{key: cohort[key] for key in BURDEN_SETTINGS if key in cohort},
)
