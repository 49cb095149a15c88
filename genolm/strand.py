"""Whether a gene-function task may be read on either strand: the one decision behind reverse-complement
augmentation and test-time averaging of the LM methods (torch-free, so the rules can ask it).

Reverse complements teach a model that a sequence and its reverse complement mean the same. That holds
where the rows' orientation is arbitrary: a community benchmark's CSV rows (`csv:` tasks; e.g. ChIP-seq
peaks, read off the reference's + strand whatever strand the factor binds). It does not hold for genes cut
from an annotation: they are read on their coding strand, and that orientation carries what the classes
differ in (codon usage, start and stop codons, motifs on the sense strand). Measured on the demo, the
probe's test macro-F1 fell from 0.41 to 0.24 (`function_class`) and 0.59 to 0.44 (`synthetic_functions`)
when both strands' embeddings were averaged (config/README.md, fine-tuning defaults).
"""

from __future__ import annotations

#: Label attributes that are the strand (or orientation) of the sequence itself: a model that treats a
#: sequence and its reverse complement alike cannot learn them.
STRAND_ATTRIBUTES = ("strand", "orientation")


def strand_is_label(task: dict) -> bool:
    """Whether a task's label is the strand its sequence is read on (`attribute:strand`,
    `attribute:orientation`).

    Args:
        task: one `gene_function.tasks.<task>` entry of the config.

    Returns:
        True when the label names the strand.
    """
    kind, _, name = str(task.get("label", "")).partition(":")
    return kind == "attribute" and name.lower() in STRAND_ATTRIBUTES


def orientation_is_arbitrary(task: dict) -> bool:
    """Whether a task's sequences come in no meaningful orientation: a `csv:` benchmark task's rows
    (annotation genes are read on their coding strand).

    Args:
        task: one `gene_function.tasks.<task>` entry of the config.

    Returns:
        True for `csv:` tasks.
    """
    return "csv" in task


def reverse_complement_applies(task: dict, enabled: bool = True) -> bool:
    """Whether to augment with, and average over, reverse complements for `task`.

    Args:
        task: one `gene_function.tasks.<task>` entry of the config.
        enabled: the configured switch (`gene_function.finetune.reverse_complement`).

    Returns:
        `enabled` for a task whose rows have an arbitrary orientation and whose label is not the strand;
        False otherwise.
    """
    return bool(enabled) and orientation_is_arbitrary(task) and not strand_is_label(task)
