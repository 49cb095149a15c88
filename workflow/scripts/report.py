from genolm.logs import run_step
from genolm.report import build_report

run_step(
    build_report,
    snakemake.log[0],
    results_dir=snakemake.params.results,
    out_html=snakemake.output[0],
    config=dict(snakemake.params.config),
    synthetic=snakemake.params.synthetic,
    workflow_dir=snakemake.params.workflow_dir,
)
