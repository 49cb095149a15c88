"""Gene-function tasks: adapt the pretrained model with a pooled classification head, or run a baseline.

Model methods: `finetune_full` (every weight trained), `finetune_lora` (LoRA adapters on the attention
projections, via peft), `finetune_ia3` (IA3 rescaling vectors, via peft), `finetune_prompt` (soft prompt
tuning, via peft: learned virtual tokens before every window; see `PromptedEncoder`) and `probe` (frozen
encoder, logistic regression on pooled embeddings). Every method reads the same labelled table, trains on its
train split, selects on val and writes predictions and metrics for exactly the same test rows.
With several seeds, predictions and CIs come from the first seed; metrics.json adds every seed's
point estimates and their mean and standard deviation.

Task types: `binary` and `multiclass` (one label per gene, softmax head, class-weighted cross-entropy)
and `multilabel` (labels joined by ";" in the table, sigmoid head, BCE with per-label pos_weight, a
label predicted where p >= 0.5). Fine-tuning keeps the epoch with the best validation macro-F1 (for
multi-label, macro over labels at p >= 0.5, the report's headline metric).

Every model method also saves the classifier it used for the test predictions (see `save_classifier`),
which `load_classifier` reloads for `genolm predict`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from sklearn.metrics import f1_score
from transformers import PreTrainedTokenizerBase
from transformers.modeling_outputs import BaseModelOutput

from genolm.atomic import atomic_path, write_json
from genolm.baselines import fit_logistic, kmer_matrix, linear_head, majority_proba, predict_proba
from genolm.errors import GenolmError
from genolm.inference import Pretrained, chunk_batch, embed, load_pretrained, pooled_chunks, tokenize
from genolm.io.fasta import decode, iter_fasta
from genolm.io.tables import read_table
from genolm.metrics import MULTILABEL_THRESHOLD, classification_metrics, multilabel_metrics, seed_summary
from genolm.names import GENE_BASELINES, GENE_COLUMNS, GENE_MODEL_METHODS, GENE_TASK_TYPES, LABEL_SEP

LOG = logging.getLogger(__name__)
BASELINES = GENE_BASELINES
MODEL_METHODS = GENE_MODEL_METHODS
TASK_TYPES = GENE_TASK_TYPES
#: LoRA targets: the attention projections of each family (module names from transformers' modeling files).
LORA_TARGETS = {
    "bert": ["query", "key", "value"],
    "roberta": ["query", "key", "value"],
    "gpt2": ["c_attn"],
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj"],
}


@dataclass(frozen=True)
class FinetuneSettings:
    epochs: int = 5
    lr: float = 5e-4
    batch_size: int = 16
    max_chunks: int = 8
    patience: int = 2
    seed: int = 42
    threads: int = 2
    lora_rank: int = 8
    lora_alpha: int = 16
    adapter_lr: float = 2e-3
    prompt_tokens: int = 16


def load_table(path: str | Path, task_type: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """A labelled table and its sorted class names, with targets in `y`.

    Single-label tasks: `y` holds integer class codes. `multilabel`: `label` holds a gene's labels joined
    by ";" and `y` a multi-hot row (one 0/1 per class) per gene; `targets` stacks either into an array.
    """
    if task_type not in (None, *TASK_TYPES):
        raise GenolmError(f"{path}: task type {task_type!r}, expected one of {', '.join(TASK_TYPES)}")
    table = read_table(path, GENE_COLUMNS)
    if task_type != "multilabel":
        classes = sorted(table["label"].unique())
        table["y"] = table["label"].map({c: i for i, c in enumerate(classes)})
        return table, classes
    label_sets = table["label"].str.split(LABEL_SEP)
    empty = label_sets.map(lambda labels: "" in labels).to_numpy()
    if empty.any():
        line = int(empty.argmax()) + 2
        raise GenolmError(
            f"{path}:{line}: label {table['label'].iloc[line - 2]!r} has an empty part; "
            f"expected labels joined by {LABEL_SEP!r}"
        )
    classes = sorted(set().union(*label_sets))
    index = {c: i for i, c in enumerate(classes)}
    multi_hot = np.zeros((len(table), len(classes)), dtype=np.int64)
    for row, labels in enumerate(label_sets):
        multi_hot[row, [index[c] for c in labels]] = 1
    table["y"] = list(multi_hot)
    return table, classes


def targets(part: pd.DataFrame) -> np.ndarray:
    """The `y` of (part of) a table as an array: (n,) class codes or (n, classes) multi-hot."""
    return np.stack(list(part["y"]))


def task_metrics(y: np.ndarray, proba: np.ndarray, classes: list[str], task_type: str, **kwargs) -> dict:
    """`multilabel_metrics` for multi-label tasks, `classification_metrics` otherwise."""
    if task_type == "multilabel":
        return multilabel_metrics(y, proba, classes, **kwargs)
    return classification_metrics(y, proba, classes, **kwargs)


def prediction_table(ids, proba: np.ndarray, classes: list[str], task_type: str) -> pd.DataFrame:
    """id, prediction, p_<class>: the argmax class, or (multi-label) every label with p >= 0.5 joined by
    ";" (empty when none)."""
    table = pd.DataFrame({"id": list(ids)})
    if task_type == "multilabel":
        table["prediction"] = [
            LABEL_SEP.join(c for c, hit in zip(classes, row, strict=True) if hit)
            for row in proba >= MULTILABEL_THRESHOLD
        ]
    else:
        table["prediction"] = [classes[i] for i in proba.argmax(1)]
    for i, c in enumerate(classes):
        table[f"p_{c}"] = np.round(proba[:, i], 6)
    return table


def write_results(
    test: pd.DataFrame,
    proba: np.ndarray,
    classes: list[str],
    task_type: str,
    predictions_tsv: str | Path,
    metrics_json: str | Path,
    info: dict,
    seed: int,
) -> dict:
    """Per-row predictions (with class probabilities) and metrics with bootstrap CIs."""
    pred = prediction_table(test["id"].to_numpy(), proba, classes, task_type)
    pred.insert(1, "label", test["label"].to_numpy())
    with atomic_path(predictions_tsv) as tmp:
        pred.to_csv(tmp, sep="\t", index=False)
    metrics = {**info, **task_metrics(targets(test), proba, classes, task_type, seed=seed)}
    write_json(metrics_json, metrics)
    LOG.info("%s: %s", info.get("method"), {k: round(v["value"], 4) for k, v in metrics["metrics"].items()})
    return metrics


def run_baseline(
    table_tsv: str | Path,
    method: str,
    predictions_tsv: str | Path,
    metrics_json: str | Path,
    *,
    task_type: str | None = None,
    seed: int = 42,
) -> dict:
    """k-mer (k=1..4) frequency logistic regression (one-vs-rest for multi-label), or the majority floor.

    The multi-label majority baseline gives every gene each label's training prevalence.
    """
    table, classes = load_table(table_tsv, task_type)
    parts = {s: table[table["split"] == s] for s in ("train", "val", "test")}
    y = {s: targets(p) for s, p in parts.items()}
    if method == "kmer_lr":
        x = {s: kmer_matrix(p["sequence"].tolist()) for s, p in parts.items()}
        model = fit_logistic(x["train"], y["train"], x["val"], y["val"], n_classes=len(classes), seed=seed)
        proba = predict_proba(model, x["test"], len(classes))
    elif method == "majority":
        proba = majority_proba(y["train"], len(parts["test"]), len(classes))
    else:
        raise GenolmError(f"gene_function baseline: got {method!r}, expected one of {', '.join(BASELINES)}")
    info = {"family": "gene_function", "method": method, "n_train": len(parts["train"])}
    return write_results(
        parts["test"],
        proba,
        classes,
        _task_type(task_type, classes),
        predictions_tsv,
        metrics_json,
        info,
        seed,
    )


def _task_type(task_type: str | None, classes: list[str]) -> str:
    """The configured task type, or binary/multiclass by the number of classes when none was given."""
    return task_type or ("binary" if len(classes) == 2 else "multiclass")


class PooledClassifier(torch.nn.Module):
    """The pretrained encoder, mean-pooled over tokens and chunks, then a linear head."""

    def __init__(self, encoder: torch.nn.Module, hidden: int, n_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(hidden, n_classes)

    def forward(self, batch: dict[str, torch.Tensor], owner: torch.Tensor, n: int) -> torch.Tensor:
        return self.head(self.dropout(pooled_chunks(self.encoder, batch, owner, n)))


class PromptedEncoder(torch.nn.Module):
    """A frozen encoder behind a peft soft prompt: `num_virtual_tokens` learned embeddings are put before
    every window's tokens; only the real tokens' states come out, so pooling ignores the virtual ones.

    peft's own prompt-tuning forward drops position ids and so numbers the real tokens after the virtual
    ones (peft_model.py, `_adjust_prompt_learning_kwargs`): a full window would run past the position table
    of absolute-position families (window + 2 slots) and every token would sit at a position it was never
    pretrained at. Here the real tokens keep their usual positions and the virtual tokens all take the first
    one (0, or pad + 1 in roberta); the virtual tokens only act through attention. Prefix tuning is not
    offered for the same reason: peft shifts the position ids by the prefix length (and bert numbers
    positions after its cache length).
    """

    def __init__(self, peft_model: torch.nn.Module) -> None:
        super().__init__()
        self.peft = peft_model
        self.n_virtual = peft_model.active_peft_config.num_virtual_tokens
        config = peft_model.base_model.config
        self.first_position = config.pad_token_id + 1 if config.model_type == "roberta" else 0

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> BaseModelOutput:
        rows, length = input_ids.shape
        tokens = self.peft.word_embeddings(input_ids)
        embeds = torch.cat([self.peft.get_prompt(batch_size=rows).to(tokens.dtype), tokens], 1)
        mask = torch.cat([attention_mask.new_ones(rows, self.n_virtual), attention_mask], 1)
        positions = torch.cat([torch.zeros(self.n_virtual, dtype=torch.long), torch.arange(length)])
        out = self.peft.base_model(
            inputs_embeds=embeds,
            attention_mask=mask,
            position_ids=(positions + self.first_position).expand(rows, -1),
        )
        return BaseModelOutput(last_hidden_state=out.last_hidden_state[:, self.n_virtual :])


def adapt_encoder(encoder: torch.nn.Module, method: str, settings: FinetuneSettings) -> torch.nn.Module:
    """The encoder as trained by `method`: itself (full), or wrapped by peft with only the adapters (LoRA,
    IA3) or the soft prompt (a `PromptedEncoder`) trainable."""
    if method == "finetune_full":
        return encoder
    from peft import IA3Config, LoraConfig, PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

    if method == "finetune_prompt":
        config = PromptTuningConfig(
            task_type=TaskType.FEATURE_EXTRACTION,
            num_virtual_tokens=settings.prompt_tokens,
            prompt_tuning_init=PromptTuningInit.SAMPLE_VOCAB,  # start inside the token embedding cloud
        )
        return PromptedEncoder(get_peft_model(encoder, config))

    model_type = encoder.config.model_type
    if method == "finetune_lora":
        if model_type not in LORA_TARGETS:
            raise GenolmError(f"finetune_lora: no LoRA targets known for model type {model_type!r}")
        config = LoraConfig(
            r=settings.lora_rank,
            lora_alpha=settings.lora_alpha,
            lora_dropout=0.1,
            target_modules=LORA_TARGETS[model_type],
        )
    elif method == "finetune_ia3":
        config = IA3Config()  # peft's per-family defaults: key/value and the feed-forward output
    else:
        raise GenolmError(f"gene_function method: got {method!r}, expected one of {', '.join(MODEL_METHODS)}")
    return get_peft_model(encoder, config)


@dataclass
class Classifier:
    """A gene-function classifier: `module` (encoder + pooled linear head) with what predicting needs.

    `pretrained` holds the whole language model whose base model is `module.encoder` (it is what
    `save_classifier` writes as encoder/) and its tokenizer and window.
    """

    module: PooledClassifier
    pretrained: Pretrained
    classes: list[str]
    task_type: str
    max_chunks: int
    batch_size: int = 16

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self.pretrained.tokenizer

    @property
    def window(self) -> int:
        return self.pretrained.window

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Sigmoid per label (multi-label) or softmax over classes."""
        return torch.sigmoid(logits) if self.task_type == "multilabel" else torch.softmax(logits, -1)

    @torch.no_grad()
    def predict_proba(self, seqs: list[str]) -> np.ndarray:
        """(n, classes) probabilities; genes are chunked into windows and pooled as in training."""
        training = self.module.training
        self.module.eval()
        out = []
        for i in range(0, len(seqs), self.batch_size):
            part = seqs[i : i + self.batch_size]
            chunks, owner, _ = chunk_batch(part, self.window, self.max_chunks)
            logits = self.module(tokenize(self.tokenizer, chunks), owner, len(part))
            out.append(self.probabilities(logits).float().numpy())
        self.module.train(training)
        return np.concatenate(out) if out else np.empty((0, len(self.classes)), dtype=np.float32)


def imbalance_loss(y_train: np.ndarray, n_classes: int, task_type: str) -> torch.nn.Module:
    """Imbalance-weighted loss: BCE with pos_weight = negatives/positives per label, or balanced CE."""
    if task_type == "multilabel":
        positives = y_train.sum(0)
        pos_weight = (len(y_train) - positives) / positives.clip(1)
        return torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, dtype=torch.float32))
    weights = len(y_train) / (n_classes * np.bincount(y_train, minlength=n_classes).clip(1))
    return torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))


def _macro_f1(y: np.ndarray, proba: np.ndarray, task_type: str) -> float:
    if task_type == "multilabel":
        return float(f1_score(y, proba >= MULTILABEL_THRESHOLD, average="macro", zero_division=0))
    return float(f1_score(y, proba.argmax(1), average="macro"))


def fit_classifier(
    classifier: Classifier,
    parts: dict[str, pd.DataFrame],
    batch_loss: Callable[[torch.Tensor, np.ndarray], torch.Tensor],
    settings: FinetuneSettings,
    lr: float,
) -> dict:
    """Train `classifier.module`'s trainable weights with AdamW on `batch_loss(logits, train_rows)`, keep
    the epoch with the best validation macro-F1 (stop after `patience` epochs without one); returns the
    history, best epoch and parameter counts."""
    model, task_type = classifier.module, classifier.task_type
    model.train()  # dropout on from the first epoch (a loaded encoder comes in eval mode)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.01)
    seqs = parts["train"]["sequence"].tolist()
    rng = np.random.default_rng(settings.seed)
    best_f1, best_state, best_epoch, stale, history = -1.0, None, 0, 0, []
    for epoch in range(1, settings.epochs + 1):
        order = rng.permutation(len(seqs))
        total = 0.0
        for i in range(0, len(order), settings.batch_size):
            idx = order[i : i + settings.batch_size]
            chunks, owner, _ = chunk_batch([seqs[j] for j in idx], classifier.window, settings.max_chunks)
            loss = batch_loss(model(tokenize(classifier.tokenizer, chunks), owner, len(idx)), idx)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            total += loss.item() * len(idx)
        val_proba = classifier.predict_proba(parts["val"]["sequence"].tolist())
        val_f1 = _macro_f1(targets(parts["val"]), val_proba, task_type)
        history.append({"epoch": epoch, "train_loss": total / len(seqs), "val_macro_f1": val_f1})
        LOG.info(
            "seed %d epoch %d: train loss %.4f, val macro-F1 %.4f",
            settings.seed,
            epoch,
            total / len(seqs),
            val_f1,
        )
        if val_f1 > best_f1:
            best_f1, best_epoch, stale = val_f1, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= settings.patience:
                break
    model.load_state_dict(best_state)
    return {
        "best_epoch": best_epoch,
        "history": history,
        "trainable_parameters": int(sum(p.numel() for p in trainable)),
        "total_parameters": int(sum(p.numel() for p in model.parameters())),
    }


def train_classifier(
    parts: dict[str, pd.DataFrame],
    classes: list[str],
    task_type: str,
    model_dir: str | Path,
    method: str,
    settings: FinetuneSettings,
) -> tuple[Classifier, np.ndarray, dict]:
    """Train one seed of `method`; returns the classifier (LoRA/IA3 adapters merged; a soft prompt stays
    a `PromptedEncoder`), test probabilities and training info (history, best epoch)."""
    torch.manual_seed(settings.seed)
    pre = load_pretrained(model_dir)
    encoder = adapt_encoder(pre.model.base_model, method, settings)
    model = PooledClassifier(encoder, pre.model.config.hidden_size, len(classes))
    classifier = Classifier(model, pre, classes, task_type, settings.max_chunks, settings.batch_size)
    y_train = targets(parts["train"])
    loss_fn = imbalance_loss(y_train, len(classes), task_type)

    def batch_loss(logits: torch.Tensor, idx: np.ndarray) -> torch.Tensor:
        target = torch.from_numpy(y_train[idx])
        return loss_fn(logits, target.float() if task_type == "multilabel" else target)

    lr = settings.lr if method == "finetune_full" else settings.adapter_lr
    info = fit_classifier(classifier, parts, batch_loss, settings, lr)
    if method in ("finetune_lora", "finetune_ia3"):
        # Fold the adapters into the weights (in place, so pre.model holds them too): a plain encoder.
        model.encoder = model.encoder.merge_and_unload()
    return classifier, classifier.predict_proba(parts["test"]["sequence"].tolist()), info


def probe_classifier(
    parts: dict[str, pd.DataFrame],
    classes: list[str],
    task_type: str,
    model_dir: str | Path,
    settings: FinetuneSettings,
) -> tuple[Classifier, np.ndarray, dict]:
    """Frozen encoder: logistic regression (C chosen on val; one-vs-rest for multi-label) on mean-pooled
    embeddings. The classifier carries the regression as its linear head (scaler folded in)."""
    pre = load_pretrained(model_dir)
    x = {
        s: embed(pre, p["sequence"].tolist(), batch_size=settings.batch_size, max_chunks=settings.max_chunks)
        for s, p in parts.items()
    }
    y = {s: targets(p) for s, p in parts.items()}
    n = len(classes)
    model = fit_logistic(x["train"], y["train"], x["val"], y["val"], n_classes=n, seed=settings.seed)
    module = PooledClassifier(pre.model.base_model, pre.model.config.hidden_size, n)
    weight, bias = linear_head(model, n)
    module.head.load_state_dict(
        {"weight": torch.tensor(weight, dtype=torch.float32), "bias": torch.tensor(bias, dtype=torch.float32)}
    )
    classifier = Classifier(module, pre, classes, task_type, settings.max_chunks, settings.batch_size)
    info = {"trainable_parameters": int(x["train"].shape[1] + 1)}
    return classifier, predict_proba(model, x["test"], n), info


def save_classifier(classifier: Classifier, out_dir: str | Path, *, method: str, seed: int) -> None:
    """Write a classifier atomically as a directory that `load_classifier` reads:

    encoder/ (the language model with the tuned encoder, adapters merged, safetensors + tokenizer +
    genolm.json: a pretrain-style model directory), head.safetensors (the linear head's weight and bias)
    and classifier.json (classes, task type, window, chunking, pooling, method, seed). A soft prompt cannot
    be merged into weights: it is saved as a peft adapter directory prompt/ (adapter_config.json +
    adapter_model.safetensors) next to the untouched encoder/, and classifier.json adds `prompt_tokens`.
    """
    pre = classifier.pretrained
    encoder_module = classifier.module.encoder
    prompt = encoder_module if isinstance(encoder_module, PromptedEncoder) else None
    with atomic_path(out_dir) as tmp:
        encoder = tmp / "encoder"
        pre.model.save_pretrained(encoder)
        pre.tokenizer.save_pretrained(encoder)
        (encoder / "genolm.json").write_text(json.dumps({"window": pre.window, "objective": pre.objective}))
        head = {k: v.detach().contiguous() for k, v in classifier.module.head.state_dict().items()}
        save_file(head, tmp / "head.safetensors")
        meta = {
            "classes": classifier.classes,
            "task_type": classifier.task_type,
            "window": pre.window,
            "max_chunks": classifier.max_chunks,
            "batch_size": classifier.batch_size,
            "pooling": "mean over tokens, then over a gene's chunks",
            "output": "sigmoid per label, p >= 0.5" if classifier.task_type == "multilabel" else "softmax",
            "method": method,
            "seed": seed,
        }
        if prompt is not None:
            prompt.peft.save_pretrained(tmp / "prompt")
            (tmp / "prompt" / "README.md").unlink(missing_ok=True)  # peft's empty model-card template
            meta["prompt_tokens"] = prompt.n_virtual
            meta["pooling"] += " (the prompt's virtual tokens left out)"
        (tmp / "classifier.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def load_classifier(model_dir: str | Path) -> Classifier:
    """Reload a directory written by `save_classifier` (safetensors only, local files only)."""
    model_dir = Path(model_dir)
    meta_path = model_dir / "classifier.json"
    if not meta_path.is_file():
        raise GenolmError(
            f"{model_dir}: no classifier.json; expected a directory written by the finetune rule "
            "(results/<run>/gene_function/<task>/<method>/model)"
        )
    try:
        meta = json.loads(meta_path.read_text())
        classes, task_type, max_chunks = list(meta["classes"]), meta["task_type"], int(meta["max_chunks"])
        batch_size = int(meta["batch_size"])
        prompt_tokens = int(meta.get("prompt_tokens", 0))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise GenolmError(
            f"{meta_path}: not a valid classifier description ({type(err).__name__}: {err})"
        ) from None
    if task_type not in TASK_TYPES:
        raise GenolmError(f"{meta_path}: task_type {task_type!r}, expected one of {', '.join(TASK_TYPES)}")
    pre = load_pretrained(model_dir / "encoder")
    try:
        head = load_file(model_dir / "head.safetensors")
    except (OSError, SafetensorError) as err:
        raise GenolmError(f"{model_dir}/head.safetensors: cannot read ({err})") from None
    hidden = pre.model.config.hidden_size
    if set(head) != {"weight", "bias"} or tuple(head["weight"].shape) != (len(classes), hidden):
        raise GenolmError(
            f"{model_dir}/head.safetensors: expected weight ({len(classes)}, {hidden}) and bias for "
            f"{len(classes)} classes"
        )
    encoder = pre.model.base_model
    if prompt_tokens:
        encoder = _load_prompt(encoder, model_dir / "prompt", prompt_tokens)
    module = PooledClassifier(encoder, hidden, len(classes))
    module.head.load_state_dict(head)
    module.eval()
    return Classifier(module, pre, classes, task_type, max_chunks, batch_size)


def _load_prompt(encoder: torch.nn.Module, prompt_dir: Path, prompt_tokens: int) -> PromptedEncoder:
    """The saved soft prompt (a peft adapter directory) in front of `encoder`, frozen."""
    from peft import PeftModel

    if not (prompt_dir / "adapter_model.safetensors").is_file():
        raise GenolmError(f"{prompt_dir}: no adapter_model.safetensors; expected the saved soft prompt")
    try:
        prompted = PromptedEncoder(PeftModel.from_pretrained(encoder, prompt_dir, is_trainable=False))
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise GenolmError(f"{prompt_dir}: not a loadable soft prompt ({type(err).__name__}: {err})") from None
    if prompted.n_virtual != prompt_tokens:
        raise GenolmError(
            f"{prompt_dir}: holds {prompted.n_virtual} virtual tokens, classifier.json says {prompt_tokens}"
        )
    return prompted


def run_finetune(
    table_tsv: str | Path,
    model_dir: str | Path,
    predictions_tsv: str | Path,
    metrics_json: str | Path,
    settings: FinetuneSettings,
    *,
    method: str = "finetune_full",
    seeds: int = 1,
    task_type: str | None = None,
    classifier_dir: str | Path | None = None,
) -> dict:
    """Train `method` with `seeds` seeds (settings.seed, +1, ...); the epoch with best val macro-F1 is kept.

    The probe is deterministic given the embeddings, so it runs once whatever `seeds` says. The first
    seed's classifier (the one behind predictions.tsv) is saved to `classifier_dir` when given.
    """
    if method not in MODEL_METHODS:
        raise GenolmError(f"gene_function method: got {method!r}, expected one of {', '.join(MODEL_METHODS)}")
    torch.set_num_threads(settings.threads)
    table, classes = load_table(table_tsv, task_type)
    task_type = _task_type(task_type, classes)
    parts = {s: table[table["split"] == s] for s in ("train", "val", "test")}
    window = load_pretrained(model_dir).window
    subsampled = sum(chunk_batch([s], window, settings.max_chunks)[2] for s in table["sequence"])
    if subsampled:
        LOG.warning(
            "%d genes are longer than %d windows: pooled over %d spread windows",
            subsampled,
            settings.max_chunks,
            settings.max_chunks,
        )
    seed_list = [settings.seed + i for i in range(1 if method == "probe" else seeds)]
    runs, first = [], None
    for seed in seed_list:
        run_settings = replace(settings, seed=seed)
        if method == "probe":
            classifier, proba, info = probe_classifier(parts, classes, task_type, model_dir, run_settings)
        else:
            classifier, proba, info = train_classifier(
                parts, classes, task_type, model_dir, method, run_settings
            )
        first = first or classifier
        runs.append((proba, info))
    if classifier_dir is not None:
        save_classifier(first, classifier_dir, method=method, seed=settings.seed)
    y_test = targets(parts["test"])
    per_seed = [task_metrics(y_test, proba, classes, task_type, n_boot=0) for proba, _ in runs]
    info = {
        "family": "gene_function",
        "method": method,
        "n_train": len(parts["train"]),
        **runs[0][1],
        "settings": asdict(settings),
        "genes_subsampled": int(subsampled),
        **seed_summary(seed_list, per_seed),
    }
    return write_results(
        parts["test"], runs[0][0], classes, task_type, predictions_tsv, metrics_json, info, settings.seed
    )


def predict_fasta(model_dir: str | Path, fasta: str | Path, out_tsv: str | Path) -> pd.DataFrame:
    """Classify every record of a FASTA (plain or gzipped) with a saved classifier (`genolm predict`).

    Writes id, prediction, p_<class> per record, in FASTA order.
    """
    classifier = load_classifier(model_dir)
    records = [(name, decode(codes)) for name, codes in iter_fasta(fasta)]
    proba = classifier.predict_proba([seq for _, seq in records])
    table = prediction_table([name for name, _ in records], proba, classifier.classes, classifier.task_type)
    with atomic_path(out_tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    LOG.info("%s: classified %d records with %s", fasta, len(table), model_dir)
    return table
