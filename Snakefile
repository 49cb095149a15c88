# GenoLM: genomes in, a DNA language model, gene-function and disease-risk predictions and a report out.
# Stages live in workflow/rules/ (one file each); logic lives in the genolm package.
from snakemake.utils import min_version

min_version("9.0")


# The description at the top of `snakemake --report`.
report: "workflow/report/workflow.rst"


# The demo config is the default; a --configfile replaces it instead of being merged into it
# (merging would mix the demo's simulated sources into the user's).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/gene_function.smk"
include: "workflow/rules/disease_risk.smk"
include: "workflow/rules/prioritise.smk"
include: "workflow/rules/interpret.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        f"{RESULTS}/report.html",
        extra_targets(),
