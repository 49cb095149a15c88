from genolm.labels import build_csv_gene_table
from genolm.logs import run_step

run_step(
    build_csv_gene_table,
    snakemake.log[0],
    train=snakemake.input.train,
    dev=snakemake.input.dev,
    test=snakemake.input.test,
    out_tsv=snakemake.output.table,
    summary_json=snakemake.output.summary,
    type=snakemake.params.type,
    min_class_size=snakemake.params.min_class_size,
)
