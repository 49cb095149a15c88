"""Why does a fine-tuned gene-function classifier call a gene a class? Attributions, ISM and motifs.

For each class's most confident correct test genes: Captum integrated gradients of the explained
class's logit on the word embeddings (`classifier_attributions`), ISM of the class probability around
the strongest attribution (`classifier_ism`), and motifs from attribution seqlets (genolm.interpret.motifs).
With `interpret.gpus` the classifier sits on the job's GPU: predictions and ISM with bf16 autocast where
supported, integrated gradients in fp32 (their convergence delta needs full precision).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from captum.attr import LayerIntegratedGradients
from transformers import PreTrainedModel

from genolm.atomic import write_json
from genolm.errors import GenolmError
from genolm.finetune import Classifier, load_classifier
from genolm.inference import chunk_batch, chunk_starts, inference_batch_size, tokenize
from genolm.interpret.common import BASES, grid_rows, interpret_device, snv_grid, write_rows
from genolm.interpret.motifs import (
    Motif,
    cluster_seqlets,
    find_seqlets,
    match_motifs,
    read_jaspar,
    write_jaspar,
)
from genolm.io.tables import read_table
from genolm.metrics import MULTILABEL_THRESHOLD
from genolm.names import GENE_COLUMNS, LABEL_SEP
from genolm.tokenizers import tokenizer_kind

LOG = logging.getLogger(__name__)
METHOD = (
    "integrated gradients (Captum LayerIntegratedGradients on the word embeddings) of the explained "
    "class's logit; [PAD]-embedding baseline; token attributions spread evenly over the bases they cover"
)
MOTIF_COLUMNS = [
    "motif",
    "class",
    "sign",
    "n_seqlets",
    "width",
    "consensus",
    "best_match",
    "match_score",
    "match_offset",
    "match_strand",
    "p_value",
]


def embedding_layer(module: torch.nn.Module) -> torch.nn.Module:
    """The word-embedding layer of the first transformers model inside `module` (the classifier's encoder).

    Args:
        module: a classifier module (pooled head, adapters or prompt around a transformers model).

    Returns:
        The layer integrated gradients attribute to.

    Raises:
        GenolmError: no transformers model inside `module`.
    """
    for sub in module.modules():
        if isinstance(sub, PreTrainedModel):
            return sub.get_input_embeddings()
    raise GenolmError(f"{type(module).__name__}: no transformers model inside; cannot find word embeddings")


def token_base_spans(
    tokenizer, chunks: list[str]
) -> tuple[dict[str, torch.Tensor], list[list[tuple[int, int]]]]:
    """Tokenized chunks and, per chunk and token, the bases [a, b) it covers ((0, 0) for special/pad tokens).

    Offsets come from the fast tokenizer; for kmer_overlap they index the space-separated k-mer text, so
    text offset a is k-mer a // (k + 1), covering bases a // (k + 1) .. + k.

    Args:
        tokenizer: the classifier's (fast) tokenizer.
        chunks: the gene's windows, as `chunk_batch` cut them.

    Returns:
        (the tokenizer's encoding without its offsets and special-token mask, the spans per chunk).
    """
    kind, k = tokenizer_kind(tokenizer)
    enc = tokenize(tokenizer, chunks, return_offsets_mapping=True, return_special_tokens_mask=True)
    offsets, special = enc.pop("offset_mapping").tolist(), enc.pop("special_tokens_mask").bool()
    spans = []
    for row, mask in zip(offsets, special.tolist(), strict=True):
        out = []
        for (a, b), is_special in zip(row, mask, strict=True):
            if is_special or b <= a:
                out.append((0, 0))
            elif kind == "kmer_overlap":
                out.append((a // (k + 1), a // (k + 1) + k))
            else:
                out.append((a, b))
        spans.append(out)
    return enc, spans


def _spread_to_bases(length: int, starts: list[int], spans: list, tokens: np.ndarray) -> np.ndarray:
    """Token attributions spread evenly over the bases each covers, summed over chunks; NaN if uncovered."""
    out = np.zeros(length)
    covered = np.zeros(length, dtype=bool)
    for start, row, values in zip(starts, spans, tokens, strict=True):
        for (a, b), value in zip(row, values, strict=True):
            if b > a:
                out[start + a : start + b] += value / (b - a)
                covered[start + a : start + b] = True
    out[~covered] = np.nan
    return out


def classifier_attributions(
    clf: Classifier, seq: str, target: int, *, n_steps: int = 16
) -> tuple[np.ndarray, float]:
    """Integrated gradients (Captum, on the word embeddings) of class `target`'s logit for one gene.

    Baseline: every base token replaced by [PAD] (whose embedding is zero), special tokens kept, so
    only the sequence content is attributed. Token attributions (summed over the hidden dimension) are
    spread evenly over the bases each token covers and summed where chunks overlap; bases outside every
    chunk (genes longer than max_chunks windows) are NaN.

    Returns:
        (per-base attributions, convergence delta: sum of attributions minus (logit(gene) -
        logit(baseline))).
    """
    starts = chunk_starts(len(seq), clf.window, clf.max_chunks, clf.grid)
    chunks, _, _ = chunk_batch([seq], clf.window, clf.max_chunks, clf.grid)
    enc, spans = token_base_spans(clf.tokenizer, chunks)
    ids, attention = enc["input_ids"].to(clf.device), enc["attention_mask"].to(clf.device)
    is_base = torch.tensor([[b > a for a, b in row] for row in spans], device=clf.device)
    baseline = torch.where(is_base, torch.full_like(ids, clf.tokenizer.pad_token_id), ids)
    per_gene = len(chunks)

    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        rows = input_ids.shape[0]  # Captum stacks the n_steps scaled copies of the gene's chunks
        owner = torch.arange(rows, device=input_ids.device) // per_gene
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        return clf.module(batch, owner, rows // per_gene)

    clf.module.eval()
    lig = LayerIntegratedGradients(forward, embedding_layer(clf.module))
    with torch.enable_grad():
        attr = lig.attribute(
            ids, baselines=baseline, target=target, additional_forward_args=(attention,), n_steps=n_steps
        )
    # Captum's own convergence delta assumes one output row per input row; here a gene has several chunks.
    with torch.no_grad():
        gain = (forward(ids, attention) - forward(baseline, attention))[0, target].item()
    tokens = attr.sum(-1).detach().double().cpu().numpy()
    return _spread_to_bases(len(seq), starts, spans, tokens), float(tokens.sum() - gain)


def classifier_ism(clf: Classifier, seq: str, target: int, center: int, width: int) -> tuple[np.ndarray, int]:
    """(width, 4) change in log p(target) for every SNV in `width` bases around `center` (0 at the reference).

    Probabilities are the classifier's own predict_proba (softmax, or per-label sigmoid for multilabel);
    positions outside the gene or at non-ACGT bases are NaN.

    Args:
        clf: the classifier.
        seq: the gene's sequence.
        target: the class index whose log probability changes.
        center: the position the window is centred on (the strongest attribution), moved inside the gene.
        width: bases mutated.

    Returns:
        (the map, the position of its first row in `seq`).
    """
    lo = max(0, min(center - width // 2, len(seq) - width))
    out, snvs = snv_grid(seq, range(lo, min(lo + width, len(seq))), width)
    if snvs:
        muts = [seq[:pos] + b + seq[pos + 1 :] for _, pos, b in snvs]
        logp = np.log(np.clip(clf.predict_proba([seq, *muts])[:, target].astype(float), 1e-12, None))
        for (i, _, b), value in zip(snvs, logp[1:] - logp[0], strict=True):
            out[i, BASES.index(b)] = value
    return out, lo


def confident_correct(table: pd.DataFrame, proba: np.ndarray, classes: list[str], task_type: str, n: int):
    """(row, class index, p) of the n test genes per class predicted as it and truly of it, most probable
    first (ties by id).

    Single-label: predicted = argmax; multilabel: p >= the workflow's multilabel threshold.

    Args:
        table: the test genes (id, label; multilabel labels joined by LABEL_SEP).
        proba: their predicted probabilities, one column per class.
        classes: the classifier's classes, in column order.
        task_type: binary, multiclass or multilabel.
        n: genes picked per class at most.

    Returns:
        The picks, class by class.
    """
    labels = table["label"].astype(str).str.split(LABEL_SEP)
    rows = []
    for c, name in enumerate(classes):
        predicted = proba[:, c] >= MULTILABEL_THRESHOLD if task_type == "multilabel" else proba.argmax(1) == c
        ok = predicted & labels.map(lambda ls, name=name: name in ls).to_numpy()
        picked = pd.DataFrame(
            {"id": table["id"].astype(str).to_numpy()[ok], "p": proba[ok, c], "row": np.flatnonzero(ok)}
        )
        picked = picked.sort_values(["p", "id"], ascending=[False, True], kind="stable").head(n)
        rows += [(r.row, c, float(r.p)) for r in picked.itertuples(index=False)]
    return rows


def _explain_gene(clf: Classifier, gid: str, seq: str, c: int, p: float, ig_steps: int, ism_width: int):
    """One gene's attributions, its attribution and ISM rows, and its summary entry."""
    cls = clf.classes[c]
    attr, delta = classifier_attributions(clf, seq, c, n_steps=ig_steps)
    attr_rows = [(gid, cls, i, seq[i], attr[i]) for i in np.flatnonzero(np.isfinite(attr))]
    gene = {
        "id": gid,
        "class": cls,
        "p": p,
        "attribution_sum": float(np.nansum(attr)),
        "convergence_delta": delta,
    }
    ism_rows = []
    if ism_width:
        span = min(ism_width, len(seq))
        smooth = np.convolve(np.nan_to_num(np.abs(attr)), np.ones(span), mode="valid")
        ism, lo = classifier_ism(clf, seq, c, int(smooth.argmax()) + span // 2, ism_width)
        gene["ism_start"] = lo
        positions = range(lo, lo + ism.shape[0])
        ism_rows = grid_rows(ism, seq, positions, positions, (gid, cls))
    return attr, attr_rows, ism_rows, gene


def _explain_genes(clf: Classifier, test: pd.DataFrame, picked: list, ig_steps: int, ism_width: int):
    """Attribution rows, ISM rows, summary entries and, per class index, (id, sequence, attributions) of
    the picked (row, class, p) test genes."""
    attr_rows, ism_rows, genes, per_class = [], [], [], {}
    for row, c, p in picked:
        gid, seq = str(test.at[row, "id"]), str(test.at[row, "sequence"]).upper()
        attr, attr_part, ism_part, gene = _explain_gene(clf, gid, seq, c, p, ig_steps, ism_width)
        per_class.setdefault(c, []).append((gid, seq, attr))
        attr_rows += attr_part
        ism_rows += ism_part
        genes.append(gene)
    return attr_rows, ism_rows, genes, per_class


def _find_motifs(classes: list[str], per_class: dict, seqlet_width: int, seqlet_z: float, min_seqlets: int):
    """Seqlet rows and (class, motif) pairs from each class's explained genes, classes in index order."""
    seqlet_rows, motifs = [], []
    for c, items in sorted(per_class.items()):
        ids, seqs, attrs = zip(*items, strict=True)
        seqlets = find_seqlets(list(seqs), list(attrs), width=seqlet_width, z=seqlet_z)
        seqlet_rows += [(ids[s.seq_index], classes[c], s.start, s.sign, s.score, s.sequence) for s in seqlets]
        found = cluster_seqlets(seqlets, min_seqlets=min_seqlets, prefix=_slug(classes[c]))
        motifs += [(classes[c], m) for m in found]
    return seqlet_rows, motifs


def _motif_rows(motifs: list[tuple[str, Motif]], database, seed: int) -> list[dict]:
    """One row per motif (see MOTIF_COLUMNS), with its best database match when a database is given."""
    matches = (
        match_motifs([m for _, m in motifs], database, seed=seed) if database is not None and motifs else []
    )
    return [
        {
            "motif": m.name,
            "class": cls,
            "sign": m.sign,
            "n_seqlets": len(m.seqlets),
            "width": len(m.counts),
            "consensus": m.consensus,
            **(matches[k] if matches else {}),
        }
        for k, (cls, m) in enumerate(motifs)
    ]


def _test_genes(clf, table_tsv: str | Path, top_genes: int) -> tuple[pd.DataFrame, list]:
    """The task's test genes and, per class, the `top_genes` the classifier calls right most confidently."""
    table = read_table(table_tsv, GENE_COLUMNS)
    test = table[table["split"] == "test"].reset_index(drop=True)
    proba = clf.predict_proba(test["sequence"].tolist()) if len(test) else np.empty((0, len(clf.classes)))
    return test, confident_correct(test, proba, clf.classes, clf.task_type, top_genes)


def interpret_classifier(
    table_tsv: str | Path,
    classifier_dir: str | Path,
    attributions_tsv: str | Path,
    ism_tsv: str | Path,
    seqlets_tsv: str | Path,
    motifs_jaspar: str | Path,
    motifs_tsv: str | Path,
    summary_json: str | Path,
    *,
    top_genes: int = 3,
    ig_steps: int = 8,
    ism_width: int = 10,
    seqlet_width: int = 10,
    seqlet_z: float = 3.0,
    min_seqlets: int = 3,
    motif_database: str | Path | None = None,
    seed: int = 42,
    threads: int = 2,
    gpus: int = 0,
) -> dict:
    """Attributions, ISM and attribution motifs of a saved gene-function classifier for its most
    confident correct test genes (see `classifier_attributions`, `classifier_ism`, genolm.interpret.motifs).

    Args:
        table_tsv: the task's gene label table.
        classifier_dir: a directory written by `genolm.finetune.save_classifier`.
        attributions_tsv: integrated gradients per base (id, class, pos, base, attribution).
        ism_tsv: classifier ISM (id, class, pos, ref_base, alt_base, delta_log_p).
        seqlets_tsv: the attribution seqlets.
        motifs_jaspar: the motifs' count matrices.
        motifs_tsv: one row per motif (`MOTIF_COLUMNS`).
        summary_json: method, settings, explained genes and motifs.
        top_genes: genes explained per class.
        ig_steps: integrated-gradients steps.
        ism_width: bases of ISM around each gene's strongest attribution (0: none).
        seqlet_width: seqlet width.
        seqlet_z: seqlet threshold in robust standard deviations.
        min_seqlets: seqlets a motif needs.
        motif_database: a JASPAR file the motifs are matched against, or None.
        seed: seed of the matches' shuffle p-values.
        threads: torch CPU threads.
        gpus: GPUs the job holds (`interpret.gpus`); 0 computes on the CPU.

    Returns:
        The summary as written.

    Raises:
        GenolmError: a malformed table, classifier or motif database, or `gpus` > 0 without a visible GPU.
    """
    device = interpret_device(threads, gpus)
    database = read_jaspar(motif_database) if motif_database else None
    clf = load_classifier(classifier_dir).to(device)
    clf.batch_size = inference_batch_size(device, clf.batch_size)
    test, picked = _test_genes(clf, table_tsv, top_genes)
    attr_rows, ism_rows, genes, per_class = _explain_genes(clf, test, picked, ig_steps, ism_width)
    seqlet_rows, motifs = _find_motifs(clf.classes, per_class, seqlet_width, seqlet_z, min_seqlets)
    motif_rows = _motif_rows(motifs, database, seed)
    write_rows(attributions_tsv, attr_rows, ["id", "class", "pos", "base", "attribution"])
    write_rows(ism_tsv, ism_rows, ["id", "class", "pos", "ref_base", "alt_base", "delta_log_p"])
    write_rows(seqlets_tsv, seqlet_rows, ["id", "class", "start", "sign", "score", "sequence"])
    write_jaspar(motifs_jaspar, [m for _, m in motifs])
    write_rows(motifs_tsv, motif_rows, MOTIF_COLUMNS)
    summary = {
        "classifier": str(classifier_dir),
        "task_type": clf.task_type,
        "classes": clf.classes,
        "top_genes": top_genes,
        "ig_steps": ig_steps,
        "ism": _ism_text(ism_width),
        "seqlets": {"width": seqlet_width, "z": seqlet_z, "n": len(seqlet_rows)},
        "motif_database": str(motif_database) if motif_database else None,
        "genes": genes,
        "motifs": motif_rows,
        "method": METHOD,
    }
    write_json(summary_json, summary)
    LOG.info("explained %d genes; %d seqlets, %d motifs", len(genes), len(seqlet_rows), len(motifs))
    return summary


def _ism_text(ism_width: int) -> str:
    """What the classifier ISM is, as the summary says it."""
    if not ism_width:
        return "off"
    return f"change in log p(class) for every SNV in {ism_width} bases around the strongest attribution"


def _slug(text: str) -> str:
    """`text` with every character but letters, digits and _.- replaced by _ (a motif name prefix)."""
    return "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in text)
