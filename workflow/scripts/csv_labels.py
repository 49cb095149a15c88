from genolm.job import run_rule
from genolm.labels import build_csv_gene_table

run_rule(build_csv_gene_table, snakemake)
