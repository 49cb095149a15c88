from genolm.job import label_outputs
from genolm.labels import build_csv_gene_table
from genolm.logs import run_step

run_step(
    build_csv_gene_table,
    snakemake.log[0],
    train=snakemake.input.train,
    dev=snakemake.input.dev,
    test=snakemake.input.test,
    **label_outputs(snakemake),
    **snakemake.params,  # type, min_class_size: the task's settings by name
)
