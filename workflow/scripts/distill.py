from genolm.distill import DistillSettings, run_distill
from genolm.job import job_settings
from genolm.logs import run_step

run_step(
    run_distill,
    snakemake.log[0],
    table_tsv=snakemake.input.table,
    teacher_dir=snakemake.input.teacher,
    predictions_tsv=snakemake.output.predictions,
    metrics_json=snakemake.output.metrics,
    student_dir=snakemake.output.model,
    comparison_json=snakemake.output.comparison,
    timing_json=snakemake.output.timing,
    settings=job_settings(DistillSettings, snakemake),
    task_type=snakemake.params.task_type,
    gpus=int(snakemake.resources.gpu),
)
