from genolm.job import run_rule
from genolm.prioritise import BURDEN_SETTINGS, prioritise

cohort = snakemake.params.cohort
run_rule(
    prioritise,
    snakemake,
    script_params=["methods", "cohort"],
    scores=dict(zip(snakemake.params.methods, snakemake.input.scores, strict=True)),
    cohort_scores={"zeroshot": snakemake.input.cohort_scores} if cohort else None,
    **{key: cohort[key] for key in BURDEN_SETTINGS if key in cohort},
)
