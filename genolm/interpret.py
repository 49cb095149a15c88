"""Why does a model call a variant damaging or a gene a class? In-silico mutagenesis and attributions.

ISM: for each of the top-N zero-shot test variants of a disease-risk task, every base within `flank`
bases of the variant is mutated to each other base and scored with genolm.variants.zero_shot_llr, the
same masked-LM likelihood ratio (both strands) as the zero-shot method. Entries are pathogenicity scores
(minus the log-likelihood ratio, as in scores.tsv), so the variant's own entry equals its zero-shot
score, reference-base entries are 0 and positions outside the window (or at N) are NaN.

Gradient x input (variants): attributions explain the pretrained LM's zero-shot score. The target is the
forward-strand pathogenicity score of the variant, -(log p(alt) - log p(ref)) at the
masked variant base; its gradient with respect to the input token embeddings (torch autograd, no captum)
times those embeddings, summed over the hidden dimension, gives one attribution per base. The masked
variant base itself carries the [MASK] embedding's attribution. Only single-nucleotide (char) tokenizers
of masked LMs are supported, where one token is one base; otherwise attributions are skipped and the
summary says why.

Fine-tuned gene-function classifiers (`interpret_classifier`): Captum integrated gradients of the explained
class's logit on the word embeddings, ISM of the class probability, and motifs from attribution seqlets
(genolm.motifs) for each class's most confident correct test genes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from captum.attr import LayerIntegratedGradients
from transformers import PreTrainedModel

from genolm.atomic import atomic_path, write_json
from genolm.errors import GenolmError
from genolm.gene_function import LABEL_SEP, load_classifier
from genolm.inference import Pretrained, chunk_batch, chunk_starts, load_pretrained, tokenize
from genolm.metrics import MULTILABEL_THRESHOLD
from genolm.motifs import cluster_seqlets, find_seqlets, match_motifs, read_jaspar, write_jaspar
from genolm.tokenizers import tokenizer_kind
from genolm.variants import load_variant_table, zero_shot_llr

LOG = logging.getLogger(__name__)
BASES = "ACGT"


def ism_matrix(pre: Pretrained, ref_window: str, offset: int, flank: int, batch_size: int = 64) -> np.ndarray:
    """(2 * flank + 1, 4) zero-shot scores of every SNV within `flank` bases of `offset` (module doc)."""
    out = np.full((2 * flank + 1, len(BASES)), np.nan)
    rows = []
    for rel in range(-flank, flank + 1):
        pos = offset + rel
        if 0 <= pos < len(ref_window) and ref_window[pos] in BASES:
            out[rel + flank, BASES.index(ref_window[pos])] = 0.0
            rows += [(pos, b) for b in BASES if b != ref_window[pos]]
    if rows:
        table = pd.DataFrame(rows, columns=["offset", "alt"]).assign(ref_window=ref_window)
        table["alt_window"] = [ref_window[:p] + a + ref_window[p + 1 :] for p, a in rows]
        score = -zero_shot_llr(pre, table, batch_size=batch_size)
        for (pos, alt), s in zip(rows, score, strict=True):
            out[pos - offset + flank, BASES.index(alt)] = s
    return out


def supports_gradients(pre: Pretrained) -> str | None:
    """None when gradient x input applies to this model, else the reason it does not."""
    kind, _ = tokenizer_kind(pre.tokenizer)
    if pre.objective != "mlm":
        return f"objective {pre.objective!r} (gradient x input needs a masked LM)"
    if kind != "char":
        return f"tokenizer kind {kind!r} (gradient x input needs one token per base, kind 'char')"
    return None


def masked_embeddings(pre: Pretrained, ref_window: str, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Input embeddings of the window with the variant base masked ([CLS] at 0), and its attention mask."""
    enc = tokenize(pre.tokenizer, [ref_window])
    ids = enc["input_ids"].clone()
    ids[0, offset + 1] = pre.tokenizer.mask_token_id
    return pre.model.get_input_embeddings()(ids).detach(), enc["attention_mask"]


def forward_score(
    pre: Pretrained, embeds: torch.Tensor, attention: torch.Tensor, offset: int, ref: str, alt: str
) -> torch.Tensor:
    """Forward-strand pathogenicity score -(log p(alt) - log p(ref)) at the masked variant base."""
    logits = pre.model(inputs_embeds=embeds, attention_mask=attention).logits[0, offset + 1]
    logp = torch.log_softmax(logits.float(), -1)
    ref_id, alt_id = pre.tokenizer.convert_tokens_to_ids([ref, alt])
    return logp[ref_id] - logp[alt_id]


def grad_x_input(pre: Pretrained, ref_window: str, offset: int, alt: str) -> np.ndarray:
    """Per-base gradient x input of the forward-strand score (len(ref_window),); see module doc."""
    embeds, attention = masked_embeddings(pre, ref_window, offset)
    embeds.requires_grad_(True)
    with torch.enable_grad():
        forward_score(pre, embeds, attention, offset, ref_window[offset], alt).backward()
    return (embeds.grad * embeds).sum(-1)[0, 1 : len(ref_window) + 1].detach().numpy()


def _top_variants(scores_tsv: str | Path, table: pd.DataFrame, n: int) -> pd.DataFrame:
    """The n highest-scoring zero-shot test variants (ties by id) joined to their windows."""
    scores = pd.read_csv(scores_tsv, sep="\t", dtype={"contig": str, "id": str})
    missing = {"id", "score"} - set(scores.columns)
    if missing:
        raise GenolmError(f"{scores_tsv}: missing column(s) {', '.join(sorted(missing))}")
    keys = [c for c in ("id", "contig", "pos", "ref", "alt") if c in scores and c in table]
    test = table[table["split"] == "test"].drop_duplicates(keys)
    top = scores.sort_values(["score", "id"], ascending=[False, True], kind="stable").head(n)
    merged = top.merge(test[[*keys, "ref_window", "offset"]], on=keys, how="left", validate="one_to_one")
    if merged["ref_window"].isna().any():
        raise GenolmError(
            f"{scores_tsv}: {merged['ref_window'].isna().sum()} scored variant(s) not in the test split"
        )
    return merged


def interpret_variants(
    table_tsv: str | Path,
    scores_tsv: str | Path,
    model_dir: str | Path,
    ism_tsv: str | Path,
    ism_npz: str | Path,
    attributions_tsv: str | Path,
    summary_json: str | Path,
    *,
    top_variants: int = 5,
    flank: int = 20,
    threads: int = 2,
) -> dict:
    """ISM matrices and gradient x input attributions for the top zero-shot variants of one task."""
    torch.set_num_threads(threads)
    pre = load_pretrained(model_dir)
    top = _top_variants(scores_tsv, load_variant_table(table_tsv), top_variants)
    skip = supports_gradients(pre)
    rel = np.arange(-flank, flank + 1)
    mats, ism_rows, attr_rows, variants = [], [], [], []
    for v in top.itertuples(index=False):
        window, offset = str(v.ref_window), int(v.offset)
        mat = ism_matrix(pre, window, offset, flank)
        mats.append(mat)
        inside = (offset + rel >= 0) & (offset + rel < len(window))
        for i in np.flatnonzero(inside):
            for j, base in enumerate(BASES):
                ref_base = window[offset + rel[i]]
                ism_rows.append((v.id, int(rel[i]), ref_base, base, mat[i, j]))
        if skip is None:
            attr = grad_x_input(pre, window, offset, str(v.alt))
            attr_rows += [(v.id, int(r), window[offset + r], attr[offset + r]) for r in rel[inside]]
        effect = np.where(np.isfinite(mat) & (rel[:, None] != 0), np.abs(mat), -1.0).max(1)
        strongest = int(rel[effect.argmax()]) if effect.max() >= 0 else None
        variants.append(
            {
                "id": v.id,
                **{k: getattr(v, k) for k in ("contig", "pos", "ref", "alt", "label") if hasattr(v, k)},
                "score": float(v.score),
                "ism_score": float(mat[flank, BASES.index(v.alt)]),
                "strongest_other_position": strongest,
            }
        )
    with atomic_path(ism_tsv) as tmp:
        pd.DataFrame(ism_rows, columns=["id", "rel_pos", "ref_base", "alt_base", "score"]).round(6).to_csv(
            tmp, sep="\t", index=False
        )
    with atomic_path(attributions_tsv) as tmp:
        pd.DataFrame(attr_rows, columns=["id", "rel_pos", "base", "grad_x_input"]).round(6).to_csv(
            tmp, sep="\t", index=False
        )
    with atomic_path(ism_npz) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh,
            scores=np.stack(mats) if mats else np.empty((0, len(rel), len(BASES))),
            ids=np.array(top["id"], dtype=str),
            rel_pos=rel,
            bases=np.array(list(BASES)),
        )
    summary = {
        "method": "in-silico mutagenesis with the zero-shot masked-LM score (both strands)",
        "model": "pretrained LM (zero-shot score)",
        "objective": pre.objective,
        "flank": flank,
        "top_variants": top_variants,
        "gradients": skip or "gradient x input of the forward-strand score on the input token embeddings",
        "variants": variants,
    }
    write_json(summary_json, summary)
    LOG.info("interpreted %d variants (flank %d); gradients: %s", len(variants), flank, skip or "yes")
    return summary


# --- fine-tuned gene-function classifiers ------------------------------------------------------------


def embedding_layer(module: torch.nn.Module) -> torch.nn.Module:
    """The word-embedding layer of the first transformers model inside `module` (the classifier's encoder)."""
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


def classifier_attributions(clf, seq: str, target: int, *, n_steps: int = 16) -> tuple[np.ndarray, float]:
    """Integrated gradients (Captum, on the word embeddings) of class `target`'s logit for one gene.

    Baseline: every base token replaced by [PAD] (whose embedding is zero), special tokens kept, so
    only the sequence content is attributed. Token attributions (summed over the hidden dimension) are
    spread evenly over the bases each token covers and summed where chunks overlap; bases outside every
    chunk (genes longer than max_chunks windows) are NaN. Returns (per-base attributions, convergence
    delta: sum of attributions minus (logit(gene) - logit(baseline))).
    """
    starts = chunk_starts(len(seq), clf.window, clf.max_chunks)
    chunks, _, _ = chunk_batch([seq], clf.window, clf.max_chunks)
    enc, spans = token_base_spans(clf.tokenizer, chunks)
    ids, attention = enc["input_ids"], enc["attention_mask"]
    is_base = torch.tensor([[b > a for a, b in row] for row in spans])
    baseline = torch.where(is_base, torch.full_like(ids, clf.tokenizer.pad_token_id), ids)
    per_gene = len(chunks)

    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        rows = input_ids.shape[0]  # Captum stacks the n_steps scaled copies of the gene's chunks
        owner = torch.arange(rows) // per_gene
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
    tokens = attr.sum(-1).detach().double().numpy()
    out = np.zeros(len(seq))
    covered = np.zeros(len(seq), dtype=bool)
    for start, row, values in zip(starts, spans, tokens, strict=True):
        for (a, b), value in zip(row, values, strict=True):
            if b > a:
                out[start + a : start + b] += value / (b - a)
                covered[start + a : start + b] = True
    out[~covered] = np.nan
    return out, float(tokens.sum() - gain)


def classifier_ism(clf, seq: str, target: int, center: int, width: int) -> tuple[np.ndarray, int]:
    """(width, 4) change in log p(target) for every SNV in `width` bases around `center` (0 at the reference).

    Probabilities are the classifier's own predict_proba (softmax, or per-label sigmoid for multilabel);
    positions outside the gene or at non-ACGT bases are NaN. Also returns the window's first position.
    """
    lo = max(0, min(center - width // 2, len(seq) - width))
    out = np.full((width, len(BASES)), np.nan)
    muts, where = [], []
    for i, pos in enumerate(range(lo, min(lo + width, len(seq)))):
        if seq[pos] in BASES:
            out[i, BASES.index(seq[pos])] = 0.0
            for j, b in enumerate(BASES):
                if b != seq[pos]:
                    muts.append(seq[:pos] + b + seq[pos + 1 :])
                    where.append((i, j))
    if muts:
        logp = np.log(np.clip(clf.predict_proba([seq, *muts])[:, target].astype(float), 1e-12, None))
        for (i, j), value in zip(where, logp[1:] - logp[0], strict=True):
            out[i, j] = value
    return out, lo


def confident_correct(table: pd.DataFrame, proba: np.ndarray, classes: list[str], task_type: str, n: int):
    """(row, class index, p) of the n test genes per class predicted as it and truly of it, most probable
    first (ties by id).

    Single-label: predicted = argmax; multilabel: p >= the workflow's multilabel threshold.
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
) -> dict:
    """Attributions, ISM and attribution motifs of a saved gene-function classifier for its most
    confident correct test genes (see `classifier_attributions`, `classifier_ism`, genolm.motifs)."""
    torch.set_num_threads(threads)
    database = read_jaspar(motif_database) if motif_database else None
    clf = load_classifier(classifier_dir)
    table = pd.read_csv(table_tsv, sep="\t", dtype={"label": str, "id": str, "contig": str})
    missing = {"id", "label", "split", "sequence"} - set(table.columns)
    if missing:
        raise GenolmError(f"{table_tsv}: missing column(s) {', '.join(sorted(missing))}")
    test = table[table["split"] == "test"].reset_index(drop=True)
    proba = clf.predict_proba(test["sequence"].tolist()) if len(test) else np.empty((0, len(clf.classes)))
    picked = confident_correct(test, proba, clf.classes, clf.task_type, top_genes)
    attr_rows, ism_rows, genes, per_class = [], [], [], {}
    for row, c, p in picked:
        gid, seq = str(test.at[row, "id"]), str(test.at[row, "sequence"]).upper()
        attr, delta = classifier_attributions(clf, seq, c, n_steps=ig_steps)
        attr_rows += [(gid, clf.classes[c], i, seq[i], attr[i]) for i in np.flatnonzero(np.isfinite(attr))]
        per_class.setdefault(c, []).append((gid, seq, attr))
        gene = {
            "id": gid,
            "class": clf.classes[c],
            "p": p,
            "attribution_sum": float(np.nansum(attr)),
            "convergence_delta": delta,
        }
        if ism_width:
            smooth = np.convolve(np.nan_to_num(np.abs(attr)), np.ones(min(ism_width, len(seq))), mode="valid")
            ism, lo = classifier_ism(
                clf, seq, c, int(smooth.argmax()) + min(ism_width, len(seq)) // 2, ism_width
            )
            gene["ism_start"] = lo
            for i in range(ism.shape[0]):
                if lo + i < len(seq):
                    ism_rows += [
                        (gid, clf.classes[c], lo + i, seq[lo + i], b, ism[i, j]) for j, b in enumerate(BASES)
                    ]
        genes.append(gene)
    seqlet_rows, motifs, matches = [], [], []
    for c, items in sorted(per_class.items()):
        ids, seqs, attrs = zip(*items, strict=True)
        seqlets = find_seqlets(list(seqs), list(attrs), width=seqlet_width, z=seqlet_z)
        seqlet_rows += [
            (ids[s.seq_index], clf.classes[c], s.start, s.sign, s.score, s.sequence) for s in seqlets
        ]
        found = cluster_seqlets(seqlets, min_seqlets=min_seqlets, prefix=_slug(clf.classes[c]))
        motifs += [(clf.classes[c], m) for m in found]
    if database is not None and motifs:
        matches = match_motifs([m for _, m in motifs], database, seed=seed)
    _write_tsv(attributions_tsv, attr_rows, ["id", "class", "pos", "base", "attribution"])
    _write_tsv(ism_tsv, ism_rows, ["id", "class", "pos", "ref_base", "alt_base", "delta_log_p"])
    _write_tsv(seqlets_tsv, seqlet_rows, ["id", "class", "start", "sign", "score", "sequence"])
    write_jaspar(motifs_jaspar, [m for _, m in motifs])
    motif_rows = [
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
    columns = [
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
    with atomic_path(motifs_tsv) as tmp:
        pd.DataFrame(motif_rows, columns=columns).round(6).to_csv(tmp, sep="\t", index=False)
    summary = {
        "method": "integrated gradients (Captum LayerIntegratedGradients on the word embeddings) of the "
        "explained class's logit; [PAD]-embedding baseline; token attributions spread evenly over the "
        "bases they cover",
        "classifier": str(classifier_dir),
        "task_type": clf.task_type,
        "classes": clf.classes,
        "top_genes": top_genes,
        "ig_steps": ig_steps,
        "ism": f"change in log p(class) for every SNV in {ism_width} bases around the strongest attribution"
        if ism_width
        else "off",
        "seqlets": {"width": seqlet_width, "z": seqlet_z, "n": len(seqlet_rows)},
        "motif_database": str(motif_database) if motif_database else None,
        "genes": genes,
        "motifs": motif_rows,
    }
    write_json(summary_json, summary)
    LOG.info("explained %d genes; %d seqlets, %d motifs", len(genes), len(seqlet_rows), len(motifs))
    return summary


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in text)


def _write_tsv(path: str | Path, rows: list[tuple], columns: list[str]) -> None:
    with atomic_path(path) as tmp:
        pd.DataFrame(rows, columns=columns).round(6).to_csv(tmp, sep="\t", index=False)
