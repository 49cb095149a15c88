"""Disease-risk scoring of variants: zero-shot likelihood ratios, a supervised head, its controls and
baselines (k-mer, consequence, one-hot CNN), and the LM and consequence features combined.

Zero-shot score (documented in README): for a masked LM, every token that overlaps the variant
base is masked in the reference window and in the alternative window; the score is
sum log p(alt tokens) - sum log p(ref tokens) at those positions (for single-nucleotide tokens:
log p(alt) - log p(ref) at the masked variant position), averaged over the forward and
reverse-complement windows. For a causal LM it is log p(alt window) - log p(ref window), averaged
the same way. Negative values mean the model finds the alternative allele less likely; the
pathogenicity `score` written out is minus that log-likelihood ratio.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from genolm.atomic import atomic_path, write_json
from genolm.baselines import fit_logistic, kmer_matrix, predict_proba
from genolm.baselines.cnn import CNNSettings, variant_cnn_proba
from genolm.device import autocast, resolve_device
from genolm.errors import GenolmError
from genolm.finetune.random_init import reinitialised
from genolm.inference import Pretrained, embed, inference_batch_size, load_pretrained, tokenize
from genolm.io.tables import read_table
from genolm.metrics import binary_scores, classification_metrics
from genolm.names import VARIANT_CLASSES, VARIANT_COLUMNS, VARIANT_METHODS
from genolm.sequence import reverse_complement
from genolm.tokenizers import tokenizer_kind
from genolm.zeroshot_calibration import centred_llr, substitution_offsets

LOG = logging.getLogger(__name__)
CLASSES = list(VARIANT_CLASSES)
METHODS = VARIANT_METHODS


def load_variant_table(path: str | Path) -> pd.DataFrame:
    """A variant label table, read strictly; optional columns (gene, consequence, ...) stay text."""
    table = read_table(path, VARIANT_COLUMNS)
    bad = ~table["label"].isin([0, 1])
    if bad.any():
        line = int(bad.to_numpy().argmax()) + 2
        raise GenolmError(f"{path}:{line}: label is {table['label'][bad].iloc[0]}, expected 0 or 1")
    table["alt_window"] = [
        w[:o] + a + w[o + 1 :]
        for w, o, a in zip(table["ref_window"], table["offset"], table["alt"], strict=True)
    ]
    return table


def _variant_token_mask(offsets: torch.Tensor, attention: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """True at tokens whose character span covers the variant base (specials have empty spans)."""
    start, end = offsets[..., 0], offsets[..., 1]
    return (start <= base[:, None]) & (end > base[:, None]) & (end > start) & attention.bool()


def _covering_tokens(pre: Pretrained, windows: list[str], bases: list[int]):
    """Token batch of the windows and a mask of the tokens that cover each window's variant base.

    Offsets of a "kmer_overlap" tokenizer refer to its k-mer text, so there the covering tokens are
    computed directly: k-mer j (token j + 1 after [CLS]) covers bases j .. j + k - 1.
    """
    kind, k = tokenizer_kind(pre.tokenizer)
    if kind == "kmer_overlap":
        enc = tokenize(pre.tokenizer, windows)
        j = torch.arange(enc["input_ids"].shape[1]) - 1  # k-mer index of each token position
        base = torch.tensor(bases)[:, None]
        n_kmers = torch.tensor([len(w) - k + 1 for w in windows])[:, None]
        covered = (j >= base - k + 1) & (j <= base) & (j >= 0) & (j < n_kmers)
        return enc, covered
    enc = pre.tokenizer(
        windows, padding=True, return_tensors="pt", return_offsets_mapping=True, return_token_type_ids=False
    )
    return enc, _variant_token_mask(enc["offset_mapping"], enc["attention_mask"], torch.tensor(bases))


@torch.no_grad()
def _masked_logprob(pre: Pretrained, windows: list[str], bases: list[int]) -> np.ndarray:
    """Sum of log p(original token) over the masked tokens covering each window's variant base."""
    enc, covered = _covering_tokens(pre, windows, bases)
    if not covered.any(1).all():
        raise GenolmError("zero-shot scoring: the tokenizer gave no token covering a variant base")
    enc, covered = enc.to(pre.device), covered.to(pre.device)
    inputs = enc["input_ids"].masked_fill(covered, pre.tokenizer.mask_token_id)
    with autocast(pre.device):
        logits = pre.model(input_ids=inputs, attention_mask=enc["attention_mask"]).logits
    logp = torch.log_softmax(logits.float(), -1).gather(-1, enc["input_ids"].unsqueeze(-1)).squeeze(-1)
    return (logp * covered).sum(1).cpu().numpy()


@torch.no_grad()
def _sequence_logprob(pre: Pretrained, windows: list[str]) -> np.ndarray:
    """Total log-likelihood of each window under a causal LM."""
    enc = tokenize(pre.tokenizer, windows).to(pre.device)
    with autocast(pre.device):
        logits = pre.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits[:, :-1]
    logp = torch.log_softmax(logits.float(), -1).gather(-1, enc["input_ids"][:, 1:].unsqueeze(-1)).squeeze(-1)
    return (logp * enc["attention_mask"][:, 1:]).sum(1).cpu().numpy()


def zero_shot_llr(pre: Pretrained, table: pd.DataFrame, batch_size: int | None = None) -> np.ndarray:
    """log-likelihood ratio alt vs ref per variant, averaged over both strands (see module doc), on the
    model's device, `batch_size` variants at a time (default 64 on the CPU, more on a GPU)."""
    batch_size = batch_size or inference_batch_size(pre.device, 64)
    out = []
    for i in range(0, len(table), batch_size):
        part = table.iloc[i : i + batch_size]
        strands = []
        for rc in (False, True):
            ref = [reverse_complement(w) if rc else w for w in part["ref_window"]]
            alt = [reverse_complement(w) if rc else w for w in part["alt_window"]]
            if pre.objective == "mlm":
                base = [len(w) - 1 - o if rc else o for w, o in zip(ref, part["offset"], strict=True)]
                strands.append(_masked_logprob(pre, alt, base) - _masked_logprob(pre, ref, base))
            else:
                strands.append(_sequence_logprob(pre, alt) - _sequence_logprob(pre, ref))
        out.append(np.mean(strands, axis=0))
    return np.concatenate(out) if out else np.empty(0)


def write_scores(
    test: pd.DataFrame, score: np.ndarray, method: str, scores_tsv, metrics_json, info: dict, seed
):
    """Per-variant scores (higher = more pathogenic) and binary metrics with bootstrap CIs."""
    cols = [c for c in ("id", "contig", "pos", "ref", "alt", "gene", "consequence", "clnsig") if c in test]
    out = test[cols].copy()
    out["label"] = np.where(test["label"].to_numpy() == 1, "pathogenic", "benign")
    out["score"] = np.round(score, 6)
    with atomic_path(scores_tsv) as tmp:
        out.to_csv(tmp, sep="\t", index=False)
    metrics = {
        "family": "disease_risk",
        "method": method,
        **info,
        **classification_metrics(test["label"].to_numpy(), binary_scores(score), CLASSES, seed=seed),
    }
    write_json(metrics_json, metrics)
    LOG.info("%s: %s", method, {k: round(v["value"], 4) for k, v in metrics["metrics"].items()})
    return metrics


def consequence_features(table: pd.DataFrame) -> np.ndarray:
    """One-hot consequence plus relative position in the gene (and an intergenic flag) per variant."""
    if "consequence" not in table:
        raise GenolmError("consequence baseline: the variant table has no 'consequence' column")
    onehot = pd.get_dummies(table["consequence"].astype(str)).to_numpy(dtype=float)
    frac = pd.to_numeric(table.get("gene_fraction", pd.Series(-1.0, index=table.index))).to_numpy(float)
    return np.column_stack([onehot, np.clip(frac, 0, 1), frac < 0])


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _local(windows: pd.Series, offsets: pd.Series, flank: int) -> list[str]:
    return [w[max(0, o - flank) : o + flank + 1] for w, o in zip(windows, offsets, strict=True)]


def _lm_features(pre: Pretrained, parts: dict[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    """Per split: the alt-minus-ref and the mean of the ref and alt windows' pooled embeddings."""
    feats = {}
    for s, p in parts.items():
        ref = embed(pre, p["ref_window"].tolist())
        alt = embed(pre, p["alt_window"].tolist())
        feats[s] = np.hstack([alt - ref, (alt + ref) / 2])
    return feats


def _features(method: str, table: pd.DataFrame, parts: dict, model_dir, device, seed: int):
    """(split -> feature matrix, what metrics.json records about them) of a logistic-regression method."""
    if method in ("supervised", "supervised_random_init", "combined"):
        pre = load_pretrained(model_dir, device)
        info = {
            "objective": pre.objective,
            "features": "embedding alt-ref, mean",
            **({} if device.type == "cpu" else {"device": str(device)}),  # CPU runs keep their bytes
        }
        if method == "supervised_random_init":
            pre = reinitialised(pre, seed)
            info["encoder"] = f"re-initialised from the pretrained config (seed {seed})"
        feats = _lm_features(pre, parts)
        if method == "combined":
            annotation = consequence_features(table)
            feats = {
                s: np.hstack([f, annotation[(table["split"] == s).to_numpy()]]) for s, f in feats.items()
            }
            info["features"] += "; consequence one-hot, position in gene"
        return feats, info
    if method == "kmer_lr":
        feats = {}
        for s, p in parts.items():
            ref = kmer_matrix(_local(p["ref_window"], p["offset"], 8), ks=(1, 2, 3))
            alt = kmer_matrix(_local(p["alt_window"], p["offset"], 8), ks=(1, 2, 3))
            feats[s] = np.hstack([alt - ref, ref])
        return feats, {"features": "k=1..3 profiles of +-8 bp, alt-ref and ref"}
    if method == "consequence":
        annotation = consequence_features(table)
        feats = {s: annotation[(table["split"] == s).to_numpy()] for s in parts}
        return feats, {"features": "consequence one-hot, position in gene"}
    raise GenolmError(f"disease_risk method: got {method!r}, expected one of {', '.join(METHODS)}")


def score_variants(
    table_tsv: str | Path,
    method: str,
    scores_tsv: str | Path,
    metrics_json: str | Path,
    *,
    model_dir: str | Path | None = None,
    seed: int = 42,
    threads: int = 2,
    gpus: int = 0,
    cnn: dict | None = None,
) -> dict:
    """Score the test variants of a task with `method` (one of METHODS).

    `supervised`, `supervised_random_init` (the same on an encoder re-initialised from the model's
    config), `combined` (supervised's features plus the consequence features), `kmer_lr` and
    `consequence` are balanced logistic regressions on their features, C chosen on val; `cnn` is a
    one-hot CNN trained from scratch on the ref/alt windows (`cnn`: `CNNSettings` fields other than the
    seed, the `disease_risk.cnn` section), its learning rate chosen by validation AUROC.

    The model methods compute on a GPU when the job holds one (`gpus`, the rule's gpu resource set by
    `disease_risk.gpus`), and their metrics.json then records the `device`; CPU runs keep their bytes.

    Raises:
        GenolmError: an unknown method, a malformed table, or `gpus` > 0 without a visible GPU.
    """
    device = resolve_device(gpus, "disease_risk.gpus")
    on_gpu = {} if device.type == "cpu" else {"device": str(device)}
    torch.set_num_threads(threads)
    table = load_variant_table(table_tsv)
    parts = {s: table[table["split"] == s] for s in ("train", "val", "test")}
    y = {s: p["label"].to_numpy() for s, p in parts.items()}
    if method == "zeroshot":
        pre = load_pretrained(model_dir, device)
        score = -zero_shot_llr(pre, parts["test"])
        info = {"objective": pre.objective, "n_train": 0, **on_gpu}
    elif method == "zeroshot_calibrated":
        pre = load_pretrained(model_dir, device)
        if parts["train"].empty:
            raise GenolmError(f"{table_tsv}: zeroshot_calibrated needs train-split variants to centre on")
        offsets = substitution_offsets(zero_shot_llr(pre, parts["train"]), parts["train"])  # labels unused
        score = -centred_llr(zero_shot_llr(pre, parts["test"]), parts["test"], offsets)
        info = {
            "objective": pre.objective,
            "n_train": 0,
            "n_fit_unlabelled": len(parts["train"]),
            "calibration": "LLR minus the LM's mean LLR per substitution type over the train variants",
            **on_gpu,
        }
    elif method == "cnn":
        settings = CNNSettings(**{**(cnn or {}), "seed": seed})
        pairs = {s: list(zip(p["ref_window"], p["alt_window"], strict=True)) for s, p in parts.items()}
        proba, record = variant_cnn_proba(pairs, y, settings)
        score = _logit(proba)
        info = {
            "n_train": len(parts["train"]),
            "features": "one-hot ref window and alt-ref difference (8 channels)",
            "cnn": {**record, "settings": asdict(settings)},
        }
    else:
        feats, info = _features(method, table, parts, model_dir, device, seed)
        model = fit_logistic(feats["train"], y["train"], feats["val"], y["val"], n_classes=2, seed=seed)
        score = _logit(predict_proba(model, feats["test"], 2)[:, 1])
        info = {"n_train": len(parts["train"]), **info}
    return write_scores(parts["test"], score, method, scores_tsv, metrics_json, info, seed)


def score_vcf(
    model_dir: str | Path,
    vcf: str | Path,
    genome: str | Path,
    out_tsv: str | Path,
    *,
    window: int = 128,
    gpus: int = 0,
    setting: str = "disease_risk.gpus",
) -> pd.DataFrame:
    """Zero-shot pathogenicity scores (minus the LLR) of every SNV in a VCF; used by `genolm score-variants`
    and the score_cohort rule, on a GPU when `gpus` > 0 (`setting` names where that count came from).

    Variants whose window would leave the contig, and non-SNVs, are skipped and counted in the log.
    """
    device = resolve_device(gpus, setting)
    from genolm.io.contigs import reconcile_contigs
    from genolm.io.fasta import decode, read_genome
    from genolm.io.vcf import read_variants_counted

    records, skipped = read_variants_counted(vcf)
    seqs = read_genome(genome)
    mapping = reconcile_contigs({v.contig for v in records}, seqs, source=str(vcf))
    rows, dropped = [], 0
    for var in records:
        codes = seqs[mapping[var.contig]]
        start = var.pos - 1 - window // 2
        if len(var.ref) != 1 or len(var.alt) != 1 or start < 0 or start + window > len(codes):
            dropped += 1
            continue
        rows.append(
            (
                var.id,
                var.contig,
                var.pos,
                var.ref.upper(),
                var.alt.upper(),
                decode(codes[start : start + window]),
            )
        )
    table = pd.DataFrame(rows, columns=["id", "contig", "pos", "ref", "alt", "ref_window"])
    if table.empty:
        raise GenolmError(f"{vcf}: no scorable SNVs (skipped {dropped}, reader skipped {dict(skipped)})")
    table["offset"] = window // 2
    table["alt_window"] = [
        w[: window // 2] + a + w[window // 2 + 1 :]
        for w, a in zip(table["ref_window"], table["alt"], strict=True)
    ]
    table["score"] = np.round(-zero_shot_llr(load_pretrained(model_dir, device), table), 6)
    out = table[["id", "contig", "pos", "ref", "alt", "score"]]
    with atomic_path(out_tsv) as tmp:
        out.to_csv(tmp, sep="\t", index=False)
    LOG.info("%s: scored %d SNVs, skipped %d", vcf, len(out), dropped)
    return out
