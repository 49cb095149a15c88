"""Whether a gene-function task may be read on either strand: the one switch for reverse-complement
augmentation and test-time averaging, shared by the `cnn` baseline and the LM methods (torch-free, so
the rules can ask it)."""

from __future__ import annotations

#: Label attributes that are the strand (or orientation) of the sequence itself: a model that treats a
#: sequence and its reverse complement alike cannot learn them.
STRAND_ATTRIBUTES = ("strand", "orientation")


def strand_is_label(task: dict) -> bool:
    """Whether a task's label is the strand its sequence is read on (then no reverse complements).

    Gene sequences are cut on the gene's coding strand and community CSV rows come as their benchmark
    gives them; the label only depends on the strand when it names it, as `attribute:strand` or
    `attribute:orientation` do. A label table or CSV whose labels are orientations cannot be told apart
    here: set `gene_function.finetune.reverse_complement: false` for those.

    Args:
        task: one `gene_function.tasks.<task>` entry of the config.

    Returns:
        True when the label is the strand.
    """
    label = str(task.get("label", ""))
    kind, _, name = label.partition(":")
    return kind == "attribute" and name.lower() in STRAND_ATTRIBUTES


def reverse_complement_applies(task: dict, enabled: bool = True) -> bool:
    """Whether to augment with, and average over, reverse complements for `task`.

    Args:
        task: one `gene_function.tasks.<task>` entry of the config.
        enabled: the configured switch (`gene_function.finetune.reverse_complement`).

    Returns:
        `enabled`, unless the task's label is the strand (see `strand_is_label`).
    """
    return bool(enabled) and not strand_is_label(task)
