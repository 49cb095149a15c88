"""Gene-function tasks: adapt the pretrained model with a pooled classification head.

Model methods: `finetune_full` (every weight trained), `finetune_lora` (LoRA adapters on the attention
projections, via peft), `finetune_ia3` (IA3 rescaling vectors, via peft), `finetune_prompt` (soft prompt
tuning, via peft: learned virtual tokens before every window; see `PromptedEncoder`) and `probe` (frozen
encoder, logistic regression on pooled embeddings). Every method reads the same labelled table, trains on its
train split, selects on val and writes predictions and metrics for exactly the same test rows; the
baselines (`genolm.baselines.genes.run_baseline`) read the same table the same way.

Task types: `binary` and `multiclass` (one label per gene, softmax head, class-weighted cross-entropy)
and `multilabel` (labels joined by ";" in the table, sigmoid head, BCE with per-label pos_weight, a
label predicted where p >= 0.5). Fine-tuning keeps the epoch with the best validation macro-F1 (for
multi-label, macro over labels at p >= 0.5, the report's headline metric), after a linear warm-up and
decay of the learning rate, and the learning rate of a small grid with the best one (`fit`); with
`reverse_complement` it trains on both strands and averages both strands' predictions (`classifier`).

Every model method also saves the classifier it used for the test predictions (see `save_classifier`),
which `load_classifier` reloads for `genolm predict`.

Modules: `settings` (FinetuneSettings), `table` (the label-table contract), `adapters` (peft wrappers),
`classifier` (the classifier, save/load, FASTA prediction), `fit` (the training loop and the probe),
`random_init` (the pretraining controls' re-initialised model: the `random_init` method is
`finetune_full` on it, `probe_random_init` the probe on it), `runner` (`run_finetune`, one task and
method over its seeds).
"""

from genolm.finetune.adapters import LORA_TARGETS, PromptedEncoder, adapt_encoder
from genolm.finetune.classifier import (
    Classifier,
    PooledClassifier,
    load_classifier,
    predict_fasta,
    save_classifier,
)
from genolm.finetune.fit import fit_classifier, imbalance_loss, probe_classifier, train_classifier
from genolm.finetune.runner import run_finetune
from genolm.finetune.settings import FinetuneSettings
from genolm.finetune.table import (
    load_table,
    prediction_table,
    resolve_task_type,
    split_parts,
    targets,
    task_metrics,
    write_results,
)

__all__ = [
    "LORA_TARGETS",
    "Classifier",
    "FinetuneSettings",
    "PooledClassifier",
    "PromptedEncoder",
    "adapt_encoder",
    "fit_classifier",
    "imbalance_loss",
    "load_classifier",
    "load_table",
    "predict_fasta",
    "prediction_table",
    "probe_classifier",
    "resolve_task_type",
    "run_finetune",
    "save_classifier",
    "split_parts",
    "targets",
    "task_metrics",
    "train_classifier",
    "write_results",
]
