"""Gene prioritisation: from scored variants to a ranked list of genes for follow-up.

`genes` places variants in genes and summarises each method's scores per gene; `cohort` builds
per-sample burdens weighted by those scores and `burden` tests them against case status; `stage`
ranks, writes genes.tsv and metrics.json (the workflow's `prioritise` rule and `genolm prioritise`).
"""

from genolm.prioritise.stage import BURDEN_SETTINGS, prioritise

__all__ = ["BURDEN_SETTINGS", "prioritise"]
