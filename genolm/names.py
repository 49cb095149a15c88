"""The one source of the names that rules, package, schema and report share (torch-free, import-cheap).

Method, baseline, split and task-type names and the columns of the stage-to-stage tables are defined here
and nowhere else: the Snakemake rules build their wildcard constraints from them (`alternation`), the
package dispatches on them, the report orders by them, and `tests/test_names.py` checks the schema's enums
and defaults against them and against the settings dataclasses.
"""

from __future__ import annotations

from collections.abc import Iterable

SPLITS = ("train", "val", "test")

#: Gene-function methods that adapt or read the pretrained model.
GENE_MODEL_METHODS = ("finetune_full", "finetune_lora", "finetune_ia3", "finetune_prompt", "probe")
#: Gene-function baselines, always run on the same split and test rows as the model methods.
GENE_BASELINES = ("kmer_lr", "codon_lr", "majority", "cnn")
#: Gene-function baselines that read a gene's reading frame: they run on annotation genes only (a row of a
#: `csv:` benchmark task has no known frame).
IN_FRAME_BASELINES = ("codon_lr",)
#: Gene-function controls: a model method's architecture and recipe without its pretraining, run beside
#: that method (`random_init`: finetune_full, `probe_random_init`: the probe, each on an encoder
#: re-initialised from the pretrained model's config).
GENE_CONTROLS = ("random_init", "probe_random_init")
#: Gene-function methods whose saved classifier can be explained (a soft prompt has no input attribution).
EXPLAINABLE_GENE_METHODS = ("finetune_full", "finetune_lora", "finetune_ia3", "probe")
GENE_TASK_TYPES = ("binary", "multiclass", "multilabel")
#: Separator of a gene's labels in a multi-label table's `label` column.
LABEL_SEP = ";"

#: Disease-risk methods that read the pretrained model (`combined`: supervised's LM features plus the
#: consequence features, to tell whether the LM adds to the annotation).
VARIANT_MODEL_METHODS = ("zeroshot", "zeroshot_calibrated", "supervised", "combined")
#: Disease-risk baselines (`cnn`: a one-hot CNN on the ref/alt windows, trained from scratch).
VARIANT_BASELINES = ("kmer_lr", "consequence", "cnn")
#: Disease-risk controls: `supervised` on the features of an encoder re-initialised from its config.
VARIANT_CONTROLS = ("supervised_random_init",)
#: Disease-risk methods that read an annotation's consequence codes: they run only where one is configured.
ANNOTATION_METHODS = ("consequence", "combined")
VARIANT_METHODS = VARIANT_MODEL_METHODS + VARIANT_BASELINES + VARIANT_CONTROLS
#: Disease-risk methods that run the pretrained encoder: they need the model and use the job's GPUs.
VARIANT_ENCODER_METHODS = VARIANT_MODEL_METHODS + VARIANT_CONTROLS
VARIANT_CLASSES = ("benign", "pathogenic")

#: Every model method, in the order the report lists them (supervised before zero-shot).
MODEL_METHODS = (*GENE_MODEL_METHODS, "supervised", "zeroshot", "zeroshot_calibrated", "combined")
#: Every control, in report order: pretrained architectures without pretraining (not baselines: the
#: report's best-baseline answer leaves them out and compares each with its pair, PRETRAINING_CONTROLS).
CONTROL_METHODS = (*GENE_CONTROLS, *VARIANT_CONTROLS)
BASELINE_METHODS = ("consequence", "kmer_lr", "codon_lr", "cnn", "majority")

#: Each pretrained method and its control: the same architecture and recipe on a randomly initialised
#: encoder. The report's "did pretraining help?" compares each pair on the same test rows.
PRETRAINING_CONTROLS = {
    "finetune_full": "random_init",
    "probe": "probe_random_init",
    "supervised": "supervised_random_init",
}

#: Columns every gene label table has (labels and csv_labels write them), with their types.
GENE_COLUMNS = {"id": str, "label": str, "split": str, "sequence": str}
#: Columns every variant table has (labels.build_variant_table writes them), with their types.
VARIANT_COLUMNS = {
    "id": str,
    "contig": str,
    "pos": int,
    "ref": str,
    "alt": str,
    "label": int,
    "split": str,
    "ref_window": str,
    "offset": int,
}


def gene_methods(configured: Iterable[str], *, in_frame: bool = True) -> list[str]:
    """The gene-function methods a task gets: the configured model methods, the baselines (those reading
    the reading frame only when `in_frame`, i.e. for annotation genes), and the pretraining control of each
    configured method that has one (so each control is paired in the report)."""
    configured = list(configured)
    baselines = [b for b in GENE_BASELINES if in_frame or b not in IN_FRAME_BASELINES]
    controls = [PRETRAINING_CONTROLS[m] for m in configured if m in PRETRAINING_CONTROLS]
    return configured + baselines + controls


def alternation(names: Iterable[str]) -> str:
    """A regular-expression alternation of `names`, for a Snakemake wildcard constraint."""
    return "|".join(names)
