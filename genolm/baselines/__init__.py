"""Simple baselines every model is compared with on the same rows.

`linear` holds the models (k-mer profiles, balanced logistic regression, majority floor) that the gene and
variant baselines, the probe and the supervised variant score share; `cnn` the one-hot CNN trained from
scratch (genes and ref/alt variant windows); `genes` runs the gene-function baselines (`run_baseline`) on
a label table. This package imports only `linear`, so `genolm.finetune`
can use the models without reaching `genes` (which reads the table through `genolm.finetune.table`).
"""

from genolm.baselines.linear import (
    fit_logistic,
    kmer_matrix,
    kmer_profile,
    linear_head,
    majority_proba,
    predict_proba,
)

__all__ = ["fit_logistic", "kmer_matrix", "kmer_profile", "linear_head", "majority_proba", "predict_proba"]
