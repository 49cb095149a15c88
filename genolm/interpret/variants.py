"""Why does the pretrained LM call a variant damaging? In-silico mutagenesis and gradient x input.

ISM: for each of the top-N zero-shot test variants of a disease-risk task, every base within `flank`
bases of the variant is mutated to each other base and scored with genolm.variants.zero_shot_llr, the
same masked-LM likelihood ratio (both strands) as the zero-shot method. Entries are pathogenicity scores
(minus the log-likelihood ratio, as in scores.tsv), so the variant's own entry equals its zero-shot
score, reference-base entries are 0 and positions outside the window (or at N) are NaN.

Gradient x input: attributions explain the pretrained LM's zero-shot score. The target is the
forward-strand pathogenicity score of the variant, -(log p(alt) - log p(ref)) at the masked variant
base; its gradient with respect to the input token embeddings (torch autograd, no captum) times those
embeddings, summed over the hidden dimension, gives one attribution per base. The masked variant base
itself carries the [MASK] embedding's attribution. Only single-nucleotide (char) tokenizers of masked
LMs are supported, where one token is one base; otherwise attributions are skipped and the summary
says why.

With `interpret.gpus` the model sits on the job's GPU: ISM scores with bf16 autocast where supported (as
the zero-shot method does), gradients stay in fp32 (bf16 gradients are too coarse for attribution maps).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from genolm.atomic import atomic_path, write_json
from genolm.errors import GenolmError
from genolm.inference import Pretrained, load_pretrained, tokenize
from genolm.interpret.common import BASES, grid_rows, interpret_device, snv_grid, write_rows
from genolm.tokenizers import tokenizer_kind
from genolm.variants import load_variant_table, zero_shot_llr

LOG = logging.getLogger(__name__)


def ism_matrix(
    pre: Pretrained, ref_window: str, offset: int, flank: int, batch_size: int | None = None
) -> np.ndarray:
    """(2 * flank + 1, 4) zero-shot scores of every SNV within `flank` bases of `offset` (module doc).

    Args:
        pre: the pretrained model.
        ref_window: the variant's reference window.
        offset: the variant's position in it.
        flank: bases mutated on each side.
        batch_size: variants scored at a time (None: `zero_shot_llr`'s default, 64 on the CPU, more on a GPU).

    Returns:
        The map: 0 at each position's reference base, NaN outside the window or at non-ACGT bases.
    """
    out, snvs = snv_grid(ref_window, range(offset - flank, offset + flank + 1), 2 * flank + 1)
    if snvs:
        table = pd.DataFrame([(pos, b) for _, pos, b in snvs], columns=["offset", "alt"])
        table = table.assign(ref_window=ref_window)
        table["alt_window"] = [ref_window[:p] + a + ref_window[p + 1 :] for _, p, a in snvs]
        score = -zero_shot_llr(pre, table, batch_size=batch_size)
        for (row, _, alt), s in zip(snvs, score, strict=True):
            out[row, BASES.index(alt)] = s
    return out


def supports_gradients(pre: Pretrained) -> str | None:
    """Whether gradient x input of the zero-shot score applies to this model.

    Args:
        pre: the pretrained model.

    Returns:
        None when it applies (a masked LM with one token per base), else the reason it does not, which the
        summary records.
    """
    kind, _ = tokenizer_kind(pre.tokenizer)
    if pre.objective != "mlm":
        return f"objective {pre.objective!r} (gradient x input needs a masked LM)"
    if kind != "char":
        return f"tokenizer kind {kind!r} (gradient x input needs one token per base, kind 'char')"
    return None


def masked_embeddings(pre: Pretrained, ref_window: str, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Input embeddings of the window with the variant base masked ([CLS] at 0), and its attention mask.

    Args:
        pre: the pretrained model (a char-tokenized masked LM).
        ref_window: the variant's reference window.
        offset: the variant's position in it.

    Returns:
        (embeddings detached from the graph, so gradients start at them; attention mask).
    """
    enc = tokenize(pre.tokenizer, [ref_window]).to(pre.device)
    ids = enc["input_ids"].clone()
    ids[0, offset + 1] = pre.tokenizer.mask_token_id
    return pre.model.get_input_embeddings()(ids).detach(), enc["attention_mask"]


def forward_score(
    pre: Pretrained, embeds: torch.Tensor, attention: torch.Tensor, offset: int, ref: str, alt: str
) -> torch.Tensor:
    """Forward-strand pathogenicity score -(log p(alt) - log p(ref)) at the masked variant base.

    Args:
        pre: the pretrained model.
        embeds, attention: from `masked_embeddings`.
        offset: the variant's position in the window.
        ref, alt: its bases.

    Returns:
        The score as a differentiable scalar tensor.
    """
    logits = pre.model(inputs_embeds=embeds, attention_mask=attention).logits[0, offset + 1]
    logp = torch.log_softmax(logits.float(), -1)
    ref_id, alt_id = pre.tokenizer.convert_tokens_to_ids([ref, alt])
    return logp[ref_id] - logp[alt_id]


def grad_x_input(pre: Pretrained, ref_window: str, offset: int, alt: str) -> np.ndarray:
    """Per-base gradient x input of the forward-strand score; see module doc.

    Args:
        pre: the pretrained model (see `supports_gradients`).
        ref_window: the variant's reference window.
        offset: the variant's position in it.
        alt: the alternative base.

    Returns:
        One value per window base, shape (len(ref_window),).
    """
    embeds, attention = masked_embeddings(pre, ref_window, offset)
    embeds.requires_grad_(True)
    with torch.enable_grad():
        forward_score(pre, embeds, attention, offset, ref_window[offset], alt).backward()
    return (embeds.grad * embeds).sum(-1)[0, 1 : len(ref_window) + 1].detach().cpu().numpy()


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


def _explain_variant(pre: Pretrained, v, flank: int, gradients: bool) -> tuple[np.ndarray, list, list, dict]:
    """One variant's ISM map, its ISM and attribution rows and its summary entry."""
    window, offset = str(v.ref_window), int(v.offset)
    rel = np.arange(-flank, flank + 1)
    mat = ism_matrix(pre, window, offset, flank)
    ism_rows = grid_rows(mat, window, offset + rel, rel, (v.id,))
    attr_rows = []
    if gradients:
        attr = grad_x_input(pre, window, offset, str(v.alt))
        inside = rel[(offset + rel >= 0) & (offset + rel < len(window))]
        attr_rows = [(v.id, int(r), window[offset + r], attr[offset + r]) for r in inside]
    effect = np.where(np.isfinite(mat) & (rel[:, None] != 0), np.abs(mat), -1.0).max(1)
    record = {
        "id": v.id,
        **{k: getattr(v, k) for k in ("contig", "pos", "ref", "alt", "label") if hasattr(v, k)},
        "score": float(v.score),
        "ism_score": float(mat[flank, BASES.index(v.alt)]),
        "strongest_other_position": int(rel[effect.argmax()]) if effect.max() >= 0 else None,
    }
    return mat, ism_rows, attr_rows, record


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
    gpus: int = 0,
) -> dict:
    """ISM matrices and gradient x input attributions for the top zero-shot variants of one task.

    Args:
        table_tsv: the task's variant label table.
        scores_tsv: the zero-shot method's scores.tsv.
        model_dir: the pretrained model directory.
        ism_tsv: ISM scores as a long table (id, rel_pos, ref_base, alt_base, score).
        ism_npz: the same as (variants, 2 * flank + 1, 4) `scores` with `ids`, `rel_pos`, `bases`.
        attributions_tsv: gradient x input per base (empty when the model does not support it).
        summary_json: method, settings and one entry per explained variant.
        top_variants: variants explained.
        flank: bases mutated on each side of the variant.
        threads: torch CPU threads.
        gpus: GPUs the job holds (`interpret.gpus`); 0 computes on the CPU.

    Returns:
        The summary as written.

    Raises:
        GenolmError: a malformed table or scores, a scored variant missing from the test split, or `gpus`
            > 0 without a visible GPU.
    """
    device = interpret_device(threads, gpus)
    pre = load_pretrained(model_dir, device)
    top = _top_variants(scores_tsv, load_variant_table(table_tsv), top_variants)
    skip = supports_gradients(pre)
    rel = np.arange(-flank, flank + 1)
    mats, ism_rows, attr_rows, variants = [], [], [], []
    for v in top.itertuples(index=False):
        mat, ism, attr, record = _explain_variant(pre, v, flank, gradients=skip is None)
        mats.append(mat)
        ism_rows += ism
        attr_rows += attr
        variants.append(record)
    write_rows(ism_tsv, ism_rows, ["id", "rel_pos", "ref_base", "alt_base", "score"])
    write_rows(attributions_tsv, attr_rows, ["id", "rel_pos", "base", "grad_x_input"])
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
