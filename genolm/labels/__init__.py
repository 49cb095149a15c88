"""Turn annotations and variant files into labelled gene and variant tables with their split.

Each row carries its coordinates, its split (from the genome split, so a gene or variant in the
test blocks of pretraining never trains a classifier) and its sequence, so later stages never
re-read the genome. Each table's summary JSON counts what was dropped and why, what the annotation
reader tolerated ("annotation_issues") and what the reader should know ("warnings").
"""

from genolm.labels.benchmark import CSV_SPLITS, build_csv_gene_table, read_benchmark_csv
from genolm.labels.genes import (
    build_gene_table,
    gene_label,
    gene_labels,
    read_label_table,
    read_multilabel_table,
)
from genolm.labels.summary import (
    MIN_TEST_PER_CLASS,
    MIN_TEST_ROWS,
    check_classes,
    class_summary,
    finish_gene_table,
    finish_multilabel_table,
    sample_warnings,
)
from genolm.labels.variants import (
    BENIGN,
    PATHOGENIC,
    REVIEW_STARS,
    build_variant_table,
    clinvar_label,
    consequence,
    review_stars,
)

__all__ = [
    "BENIGN",
    "CSV_SPLITS",
    "MIN_TEST_PER_CLASS",
    "MIN_TEST_ROWS",
    "PATHOGENIC",
    "REVIEW_STARS",
    "build_csv_gene_table",
    "build_gene_table",
    "build_variant_table",
    "check_classes",
    "class_summary",
    "clinvar_label",
    "consequence",
    "finish_gene_table",
    "finish_multilabel_table",
    "gene_label",
    "gene_labels",
    "read_benchmark_csv",
    "read_label_table",
    "read_multilabel_table",
    "review_stars",
    "sample_warnings",
]
