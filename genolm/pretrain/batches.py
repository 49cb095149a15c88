"""From windows of base codes to the tensors of one step: which rows, tokens, masks and sentence pairs.

Every random choice at step `s` (which windows, which positions are masked) is derived from `(seed, s)`,
so any step is reproducible alone and a resumed run needs no RNG state.

`pretrain.pair_objective` adds a sentence-pair task to MLM (bert only: BertForPreTraining's next-sentence
head). Each window is cut into halves A | B and fed as [CLS] A [SEP] B [SEP] with token types 0 | 1; in a
seeded half of the rows B is replaced: by the second half of another random window ("adjacent": are the
halves neighbours in the genome?) or by its own reverse complement ("strand": is B on A's strand?).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from genolm.errors import GenolmError
from genolm.pretrain.settings import PretrainSettings
from genolm.sequence import reverse_complement_codes
from genolm.tokenizers import encode_codes, tokenizer_kind

#: Pair labels, as transformers' next_sentence_label: 0 = B follows A in the genome, 1 = B was replaced.
PAIR_KEPT, PAIR_REPLACED = 0, 1


def batch_indices(step: int, n: int, batch: int, seed: int) -> np.ndarray:
    """Window indices of `step`: epochs are seeded permutations, so any step is reproducible alone."""
    first = step * batch
    epoch, offset = divmod(first, n)
    out: list[np.ndarray] = []
    while sum(len(o) for o in out) < batch:
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        take = perm[offset : offset + batch - sum(len(o) for o in out)]
        out.append(take)
        epoch, offset = epoch + 1, 0
    return np.sort(np.concatenate(out))


def shard_chunks(n: int, rank: int, world: int, micro: int | None) -> list[np.ndarray]:
    """Rows `rank::world` of an n-row batch, split into micro-batches of at most `micro` rows."""
    shard = np.arange(rank, n, world)
    parts = max(1, math.ceil(len(shard) / micro)) if micro else 1
    return [c for c in np.array_split(shard, parts) if len(c)]


def max_tokens(tokenizer: PreTrainedTokenizerBase, window: int) -> int:
    """Upper bound on the tokens of one window including [CLS] and [SEP]."""
    kind, k = tokenizer_kind(tokenizer)
    body = window - k + 1 if kind == "kmer_overlap" else window
    return body + 2


def mask_span(tokenizer: PreTrainedTokenizerBase) -> int:
    """Tokens masked together: k for overlapping k-mers (else the neighbours reveal the base), else 1."""
    kind, k = tokenizer_kind(tokenizer)
    return k if kind == "kmer_overlap" else 1


def tokenize_batch(tokenizer: PreTrainedTokenizerBase, codes: np.ndarray, limit: int) -> torch.Tensor:
    """Base-code windows -> [CLS] tokens [SEP] id tensor, padded to the longest row."""
    ids, lengths = encode_codes(tokenizer, np.asarray(codes))
    width = min(int(lengths.max()) + 2, limit)
    out = np.full((len(ids), width), tokenizer.pad_token_id, dtype=np.int64)
    out[:, 0] = tokenizer.cls_token_id
    for i, n in enumerate(np.minimum(lengths, width - 2)):
        out[i, 1 : n + 1] = ids[i, :n]
        out[i, n + 1] = tokenizer.sep_token_id
    return torch.from_numpy(out)


def tokenize_pairs(
    tokenizer: PreTrainedTokenizerBase, first: np.ndarray, second: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """[CLS] A [SEP] B [SEP] ids and token types (0 up to the first [SEP], 1 after; pads 0).

    A pair holds at most one token per base plus 3 specials, i.e. max_tokens(window) + 1 tokens.
    """
    ids_a, len_a = encode_codes(tokenizer, np.ascontiguousarray(first))
    ids_b, len_b = encode_codes(tokenizer, np.ascontiguousarray(second))
    width = int((len_a + len_b).max()) + 3
    ids = np.full((len(ids_a), width), tokenizer.pad_token_id, dtype=np.int64)
    types = np.zeros((len(ids_a), width), dtype=np.int64)
    ids[:, 0] = tokenizer.cls_token_id
    for i, (a, b) in enumerate(zip(len_a, len_b, strict=True)):
        ids[i, 1 : a + 1] = ids_a[i, :a]
        ids[i, a + 1] = tokenizer.sep_token_id
        ids[i, a + 2 : a + b + 2] = ids_b[i, :b]
        ids[i, a + b + 2] = tokenizer.sep_token_id
        types[i, a + 2 : a + b + 3] = 1
    return torch.from_numpy(ids), torch.from_numpy(types)


def mask_tokens(
    ids: torch.Tensor,
    tokenizer: PreTrainedTokenizerBase,
    prob: float,
    generator: torch.Generator,
    span: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking (80% [MASK], 10% random, 10% kept) of about `prob` of the non-special tokens.

    With `span` > 1 (overlapping k-mers, DNABERT style) spans of `span` consecutive tokens are selected from
    anchors drawn with probability prob / span, so every k-mer covering the span's last base is hidden.

    Returns:
        The corrupted inputs and the boolean mask of positions that carry a loss.
    """
    body = ids >= len(tokenizer.all_special_ids)
    anchors = (torch.rand(ids.shape, generator=generator) < prob / span) & body
    selected = anchors.clone()
    for offset in range(1, span):
        selected[:, offset:] |= anchors[:, :-offset]
    selected &= body
    if not selected.any():  # keep at least one target so the loss is defined
        candidates = body.nonzero()
        selected[tuple(candidates[torch.randint(len(candidates), (1,), generator=generator)][0])] = True
    inputs = ids.clone()
    roll = torch.rand(ids.shape, generator=generator)
    inputs[selected & (roll < 0.8)] = tokenizer.mask_token_id
    randomise = selected & (roll >= 0.8) & (roll < 0.9)
    n_special = len(tokenizer.all_special_ids)
    inputs[randomise] = torch.randint(n_special, len(tokenizer), (int(randomise.sum()),), generator=generator)
    return inputs, selected


def corrupt(
    ids: torch.Tensor, tokenizer, objective_: str, prob: float, generator: torch.Generator, span: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, loss positions): masked tokens for MLM; for CLM the positions whose next token is real."""
    if objective_ == "mlm":
        return mask_tokens(ids, tokenizer, prob, generator, span)
    return ids, ids[:, 1:] != tokenizer.pad_token_id


def pair_sample(
    windows: np.ndarray, indices: np.ndarray, kind: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A, B, labels) for the windows at `indices`: A the first half, B the second half or its replacement.

    Exactly n // 2 rows, chosen by `rng`, are replaced (label PAIR_REPLACED): "adjacent" takes B from
    another window of `windows` drawn by `rng`, "strand" reverse-complements B. An odd base is left out.

    Raises:
        GenolmError: an unknown `kind`, or "adjacent" with fewer than 2 windows.
    """
    codes = np.asarray(windows[indices])
    n, half = len(codes), codes.shape[1] // 2
    first, second = codes[:, :half], codes[:, half : 2 * half].copy()
    replaced = rng.permutation(n) < n // 2
    if kind == "adjacent":
        if len(windows) < 2:
            raise GenolmError("pretrain.pair_objective adjacent: needs at least 2 windows to draw from")
        own = np.asarray(indices)[replaced]
        other = rng.integers(0, len(windows) - 1, len(own))
        other += other >= own  # any window but the row's own
        order = np.argsort(other)  # mmap reads want sorted indices
        drawn = np.empty((len(own), codes.shape[1]), dtype=codes.dtype)
        drawn[order] = windows[other[order]]
        second[replaced] = drawn[:, half : 2 * half]
    elif kind == "strand":
        second[replaced] = reverse_complement_codes(second[replaced])
    else:
        raise GenolmError(f"pretrain.pair_objective: got {kind!r}, expected adjacent or strand")
    return first, second, np.where(replaced, PAIR_REPLACED, PAIR_KEPT).astype(np.int64)


def pair_batch(tokenizer, windows, rows, settings: PretrainSettings, rng, generator, span) -> tuple:
    """(ids, masked inputs, loss positions, token types, pair labels) of a pair batch."""
    first, second, labels = pair_sample(windows, rows, settings.pair_objective, rng)
    ids, types = tokenize_pairs(tokenizer, first, second)
    inputs, targets = mask_tokens(ids, tokenizer, settings.mask_prob, generator, span)
    return ids, inputs, targets, types, torch.from_numpy(labels)


def training_batch(
    step: int, tokenizer, windows: np.ndarray, settings: PretrainSettings, objective_: str, limit: int
) -> tuple:
    """The tensors of training step `step`, seeded by (seed, step) alone.

    Returns:
        (ids, inputs, loss positions), plus (token types, pair labels) with a pair objective.
    """
    span = mask_span(tokenizer)
    generator = torch.Generator().manual_seed(settings.seed * 1_000_033 + step)
    rows = batch_indices(step, len(windows), settings.batch_size, settings.seed)
    if settings.pair_objective != "none":
        rng = np.random.default_rng([settings.seed, step, 2])
        return pair_batch(tokenizer, windows, rows, settings, rng, generator, span)
    ids = tokenize_batch(tokenizer, windows[rows], limit)
    return (ids, *corrupt(ids, tokenizer, objective_, settings.mask_prob, generator, span))
