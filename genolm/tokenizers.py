"""DNA tokenizers (char, k-mer, overlapping k-mer, BPE) as Hugging Face fast tokenizers.

Every tokenizer is a `transformers.PreTrainedTokenizerFast` backed by a serialisable `tokenizers` pipeline,
so `save_pretrained(dir)` + `AutoTokenizer.from_pretrained(dir)` restores it offline. The kind and k are
stored in the init kwargs (`genolm_kind`, `genolm_k`), which are saved in tokenizer_config.json and read back
by `tokenizer_kind`.

Shared conventions:
- ids 0..4 are `SPECIAL_TOKENS`; `tokenizer(seq)` wraps the ids as [CLS] ... [SEP].
- Normalisation: a/c/g/t are upper-cased and the IUPAC ambiguity codes (RYSWKMBDHV, any case) plus n become N,
  matching the base codes A=0 C=1 G=2 T=3 N=4. Any other character is [UNK] ("char"); for "kmer" the whole
  k-character chunk holding it becomes one [UNK].
- `decode(ids, skip_special_tokens=True)` returns the (normalised) sequence with no spaces, except for
  "kmer_overlap" (see `overlapping_kmers`).
"""

import itertools
import json
import logging
import weakref
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from genolm.atomic import atomic_path
from genolm.errors import GenolmError

BASES = "ACGTN"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
KINDS = ("char", "kmer", "kmer_overlap", "bpe")
MAX_K = 8
_N_CODE = BASES.index("N")
_UNKNOWN_IN_OVERLAP = {"[UNK]", "[MASK]"}
BASES_ARRAY = np.frombuffer(BASES.encode(), dtype=np.uint8)
_LETTER_TABLE = BASES.encode().ljust(256, b"N")  # code -> letter for bytes.translate (~5x a numpy lookup)
LOG = logging.getLogger(__name__)


def build_tokenizer(
    kind: str,
    *,
    k: int = 6,
    vocab_size: int = 4096,
    training_sequences: Iterable[str] | None = None,
    model_max_length: int = 512,
) -> PreTrainedTokenizerFast:
    """Build a DNA tokenizer of `kind`; `k` is used by the k-mer kinds, the BPE arguments by "bpe" only.

    "char": one token per base. "kmer": non-overlapping k-mers on a fixed grid from position 0 (Nucleotide
    Transformer style); a grid chunk containing N, and a tail shorter than k, fall back to single-base tokens.
    "kmer_overlap": stride-1 k-mers (DNABERT style), see `overlapping_kmers`. "bpe": BPE learned on
    `training_sequences` (pass the training split only, as windows of at most a few kb: each string is one BPE
    word) with alphabet ACGTN and `vocab_size` tokens in total (DNABERT-2 style).
    """
    if kind not in KINDS:
        raise GenolmError(
            f"build_tokenizer: unknown kind {kind!r} (key 'kind'); expected one of {', '.join(KINDS)}"
        )
    if kind in ("kmer", "kmer_overlap") and not (isinstance(k, int) and 1 <= k <= MAX_K):
        raise GenolmError(
            f"build_tokenizer: k={k!r} (key 'k') for kind {kind!r}; expected an integer in 1..{MAX_K}"
        )
    if kind == "char":
        k = 1
    if kind == "bpe":
        backend, k = _bpe_backend(vocab_size, training_sequences), 0
    elif kind == "kmer_overlap":
        backend = _overlap_backend(k)
    else:
        backend = _grid_backend(k)
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", SPECIAL_TOKENS.index("[CLS]")), ("[SEP]", SPECIAL_TOKENS.index("[SEP]"))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
        genolm_kind=kind,
        genolm_k=k,
    )


def tokenizer_kind(tokenizer: PreTrainedTokenizerFast) -> tuple[str, int]:
    """Return (kind, k) recorded by `build_tokenizer`; k is 1 for "char" and 0 for "bpe"."""
    kind = tokenizer.init_kwargs.get("genolm_kind")
    k = tokenizer.init_kwargs.get("genolm_k")
    if kind not in KINDS or not isinstance(k, int):
        raise GenolmError(
            f"{tokenizer.name_or_path or 'tokenizer'}: tokenizer_config.json key 'genolm_kind'/'genolm_k' is "
            f"{kind!r}/{k!r}; expected a tokenizer built by genolm.tokenizers.build_tokenizer"
        )
    return kind, k


def overlapping_kmers(sequence: str, k: int) -> str:
    """The text a "kmer_overlap" tokenizer takes: the stride-1 k-mers of `sequence`, space separated.

    A serialisable `tokenizers` pipeline cannot emit overlapping pieces, so, as in DNABERT, the k-mers are
    formed here and the tokenizer maps each space-separated k-mer to one id (k-mers containing N -> [UNK]).
    `decode` therefore returns this k-mer text, not the sequence; use `decode_overlapping` for the sequence.
    """
    return " ".join(sequence[i : i + k] for i in range(len(sequence) - k + 1))


def decode_overlapping(tokens: Sequence[str]) -> str:
    """Rebuild the sequence from stride-1 k-mer tokens (e.g. `convert_ids_to_tokens` output).

    [CLS]/[SEP]/[PAD] are dropped. Bases covered only by [UNK]/[MASK] tokens (k-mers that held an N) come back
    as N, so the result is exact for ACGT-only stretches and for N itself.
    """
    tokens = [t for t in tokens if t not in ("[CLS]", "[SEP]", "[PAD]")]
    lengths = {len(t) for t in tokens if t not in _UNKNOWN_IN_OVERLAP}
    if len(lengths) != 1:
        raise GenolmError(
            f"decode_overlapping: known token lengths are {sorted(lengths)}; expected k-mers of one length k"
        )
    (k,) = lengths
    bases = [""] * (len(tokens) + k - 1)
    for start, token in enumerate(tokens):
        if token in _UNKNOWN_IN_OVERLAP:
            continue
        for offset, base in enumerate(token):
            if bases[start + offset] not in ("", base):
                raise GenolmError(
                    f"decode_overlapping: token {start} {token!r} disagrees with the previous k-mers"
                )
            bases[start + offset] = base
    return "".join(base or "N" for base in bases)


def encode_codes(tokenizer: PreTrainedTokenizerFast, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tokenize windows of base codes (n x L uint8, A=0 C=1 G=2 T=3 N=4) without special tokens.

    Returns (ids, lengths): ids is int32 (n x max length) padded with the [PAD] id, lengths is int64 (n,).
    The result equals `tokenizer(seq, add_special_tokens=False)` per row (for "kmer_overlap": of
    `overlapping_kmers(seq, k)`). char, kmer and kmer_overlap are pure numpy; bpe uses the Rust batch encoder.
    Widths: "char" L; "kmer_overlap" max(L - k + 1, 0); "kmer" rows vary (an N chunk expands to k tokens).
    """
    if not (isinstance(codes, np.ndarray) and codes.ndim == 2 and codes.dtype == np.uint8):
        raise GenolmError(
            f"encode_codes: codes is {type(codes).__name__} {getattr(codes, 'dtype', '')} "
            f"{getattr(codes, 'shape', '')}; expected a 2-D uint8 array of base codes"
        )
    top = int(codes.max()) if codes.size else 0
    if top > _N_CODE:
        raise GenolmError(f"encode_codes: codes hold value {top}; expected base codes 0..{_N_CODE}")
    kind, k = tokenizer_kind(tokenizer)
    if kind == "bpe":
        return _encode_codes_bpe(tokenizer, codes)
    base_ids, kmer_ids = _id_tables(tokenizer, kind, k)
    has_n = top == _N_CODE  # only then do rows need the N handling
    if kind == "kmer_overlap":
        ids = _encode_codes_overlap(codes, k, kmer_ids, tokenizer.unk_token_id, has_n)
        return ids, np.full(len(codes), ids.shape[1], dtype=np.int64)
    if kind == "char":
        return _lookup(base_ids, codes), np.full(len(codes), codes.shape[1], dtype=np.int64)
    return _encode_codes_grid(codes, k, kmer_ids, base_ids, tokenizer.pad_token_id, has_n)


def _normalizer() -> normalizers.Normalizer:
    """Upper-case acgt and send IUPAC ambiguity codes to N, so text agrees with the 0..4 base codes."""
    return normalizers.Sequence(
        [normalizers.Replace(Regex("[RYSWKMBDHVNryswkmbdhvn]"), "N")]
        + [normalizers.Replace(base.lower(), base) for base in "ACGT"]
    )


def _kmers(k: int) -> list[str]:
    """All ACGT k-mers in base-4 order (A=0 .. T=3, first base most significant), matching `_kmer_index`."""
    return ["".join(p) for p in itertools.product("ACGT", repeat=k)]


def _grid_backend(k: int) -> Tokenizer:
    """char/kmer: fixed-length k chunks, each a k-mer token or, via greedy WordPiece, single bases."""
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for token in _kmers(k) + list(BASES):
        vocab.setdefault(token, len(vocab))
    backend = Tokenizer(
        models.WordPiece(vocab, unk_token="[UNK]", continuing_subword_prefix="", max_input_chars_per_word=k)
    )
    backend.normalizer = _normalizer()
    backend.pre_tokenizer = pre_tokenizers.FixedLength(length=k)
    backend.decoder = decoders.Fuse()
    backend.add_special_tokens(SPECIAL_TOKENS)
    return backend


def _overlap_backend(k: int) -> Tokenizer:
    """kmer_overlap: whitespace-separated k-mers (see `overlapping_kmers`) -> one id each."""
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + _kmers(k))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.normalizer = _normalizer()
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.add_special_tokens(SPECIAL_TOKENS)
    return backend


def _bpe_backend(vocab_size: int, training_sequences: Iterable[str] | None) -> Tokenizer:
    """Learn BPE merges over the ACGTN alphabet; each training string is one word (no pre-tokenizer)."""
    minimum = len(SPECIAL_TOKENS) + len(BASES) + 1
    if not isinstance(vocab_size, int) or vocab_size < minimum:
        raise GenolmError(
            f"build_tokenizer: vocab_size={vocab_size!r} (key 'vocab_size'); expected an integer >= {minimum}"
        )
    if training_sequences is None:
        raise GenolmError("build_tokenizer: kind 'bpe' needs training_sequences (key 'training_sequences')")
    seen = 0

    def counted(sequences: Iterable[str]) -> Iterator[str]:
        nonlocal seen
        for sequence in sequences:
            seen += 1
            yield sequence

    backend = Tokenizer(models.BPE(unk_token="[UNK]"))
    backend.normalizer = _normalizer()
    backend.decoder = decoders.Fuse()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=list(BASES),
        limit_alphabet=len(BASES),
        show_progress=False,
    )
    backend.train_from_iterator(counted(training_sequences), trainer)
    if not seen:
        raise GenolmError("build_tokenizer: training_sequences (key 'training_sequences') is empty")
    return backend


_ID_TABLES: weakref.WeakKeyDictionary[PreTrainedTokenizerFast, tuple[np.ndarray, np.ndarray]] = (
    weakref.WeakKeyDictionary()
)


def _id_tables(tokenizer: PreTrainedTokenizerFast, kind: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids of A C G T N, ids of every k-mer in `_kmers` order), looked up once per tokenizer: converting
    4**k tokens through the tokenizer costs more than encoding thousands of windows."""
    tables = _ID_TABLES.get(tokenizer)
    if tables is None:
        kmers = _kmers(k) if kind != "char" else []
        tables = tuple(
            np.array(tokenizer.convert_tokens_to_ids(t), dtype=np.int32) for t in (list(BASES), kmers)
        )
        _ID_TABLES[tokenizer] = tables
    return tables


def _lookup(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """table[index] as int32; a table of consecutive ids (as build_tokenizer lays them out) is one add,
    several times faster than numpy's fancy indexing, which first widens every index to 64 bits."""
    if len(table) and (np.diff(table) == 1).all():
        return np.add(index, table[0], dtype=np.int32)
    return table[index]


def _kmer_index(codes: np.ndarray, k: int, width: int, step: int) -> np.ndarray:
    """Base-4 index of the k-mers starting every `step` columns (N counts as A: callers mask those k-mers).

    Stride 1 builds k-mers from shorter ones (1, 2, 3, 6 for k=6): about log2(k) passes instead of k, in
    one byte a value up to 4-mers and two up to 8-mers. Multiplies, not shifts: numpy vectorises only
    the former for small integer types (~6x faster here).
    """
    bases = codes & np.uint8(3)
    if step != 1:
        index = np.zeros((codes.shape[0], width), dtype=np.uint16)  # 4**8 - 1 fits
        for offset in range(k):
            index *= np.uint16(4)
            index += bases[:, offset : offset + (width - 1) * step + 1 : step]
        return index
    length = codes.shape[1]
    known = {1: bases}  # m -> (n, length - m + 1) index of the m-mers
    for m in _doubling_chain(k)[1:]:
        a = m // 2 if m % 2 == 0 else m - 1
        dtype = np.uint8 if m <= 4 else np.uint16
        index = np.multiply(known[a][:, : length - m + 1], dtype(4 ** (m - a)), dtype=dtype)
        index += known[m - a][:, a : length - m + 1 + a]
        known[m] = index
    return known[k][:, :width]


def _doubling_chain(k: int) -> list[int]:
    """1 = m0 < m1 < ... = k where each m is twice or one more than an earlier one (6: [1, 2, 3, 6])."""
    return [1] if k == 1 else [*_doubling_chain(k // 2 if k % 2 == 0 else k - 1), k]


def _window_has_n(codes: np.ndarray, k: int, width: int, step: int) -> np.ndarray:
    is_n = codes == _N_CODE
    has_n = np.zeros((codes.shape[0], width), dtype=bool)
    for offset in range(k):
        has_n |= is_n[:, offset : offset + (width - 1) * step + 1 : step]
    return has_n


def _encode_codes_overlap(
    codes: np.ndarray, k: int, kmer_ids: np.ndarray, unk_id: int, has_n: bool
) -> np.ndarray:
    width = max(codes.shape[1] - k + 1, 0)
    if not width:
        return np.empty((len(codes), 0), dtype=np.int32)
    ids = _lookup(kmer_ids, _kmer_index(codes, k, width, 1))
    if has_n:
        rows = np.flatnonzero((codes == _N_CODE).any(axis=1))
        ids[rows] = np.where(_window_has_n(codes[rows], k, width, 1), np.int32(unk_id), ids[rows])
    return ids


def _encode_codes_grid(
    codes: np.ndarray, k: int, kmer_ids: np.ndarray, base_ids: np.ndarray, pad_id: int, has_n: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping k-mers; rows holding an N take the slower path that expands N chunks to bases."""
    n, length = codes.shape
    chunks = length // k
    ids = np.empty((n, chunks + length - chunks * k), dtype=np.int32)
    ids[:, :chunks] = _lookup(kmer_ids, _kmer_index(codes, k, chunks, k))
    ids[:, chunks:] = _lookup(base_ids, codes[:, chunks * k :])
    lengths = np.full(n, ids.shape[1], dtype=np.int64)
    rows = np.flatnonzero((codes == _N_CODE).any(axis=1)) if has_n else []
    if not len(rows):
        return ids, lengths
    n_ids, lengths[rows] = _expand_n_chunks(codes[rows], ids[rows], k, base_ids, pad_id)
    ids = np.pad(
        ids, ((0, 0), (0, n_ids.shape[1] - ids.shape[1])), constant_values=pad_id
    )  # N rows are wider
    ids[rows] = n_ids
    return ids, lengths


def _expand_n_chunks(
    codes: np.ndarray, ids: np.ndarray, k: int, base_ids: np.ndarray, pad_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Lay out k slots per chunk: slot 0 keeps the k-mer id, or all k slots take the bases of an N chunk."""
    n, length = codes.shape
    chunks = length // k
    has_n = _window_has_n(codes, k, chunks, k)[:, :, None]
    grid = codes[:, : chunks * k].reshape(n, chunks, k)
    slots = np.where(has_n, base_ids[grid], np.int32(pad_id))
    slots[:, :, 0] = np.where(has_n[:, :, 0], slots[:, :, 0], ids[:, :chunks])
    keep = np.broadcast_to(has_n, slots.shape).copy()
    keep[:, :, 0] = True
    candidates = np.concatenate([slots.reshape(n, chunks * k), ids[:, chunks:]], axis=1)
    keep = np.concatenate(
        [keep.reshape(n, chunks * k), np.ones((n, length - chunks * k), dtype=bool)], axis=1
    )
    return _compact(candidates, keep, pad_id)


def _compact(candidates: np.ndarray, keep: np.ndarray, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Move the kept entries of each row to the left and pad the rest."""
    lengths = keep.sum(axis=1, dtype=np.int64)
    ids = np.full((len(candidates), int(lengths.max(initial=0))), pad_id, dtype=np.int32)
    rows, _ = np.nonzero(keep)
    ids[rows, (np.cumsum(keep, axis=1) - 1)[keep]] = candidates[keep]
    return ids, lengths


def _encode_codes_bpe(tokenizer: PreTrainedTokenizerFast, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BPE ids via the Rust batch encoder, which already spreads a batch over every core (rayon)."""
    backend = _canonical_bpe_backend(tokenizer)
    letters = np.ascontiguousarray(codes).tobytes().translate(_LETTER_TABLE).decode("ascii")
    width = codes.shape[1]
    sequences = [letters[i * width : (i + 1) * width] for i in range(len(codes))]
    encodings = backend.encode_batch_fast(sequences, add_special_tokens=False)
    flat = [np.asarray(encoding.ids, dtype=np.int32) for encoding in encodings]
    lengths = np.array([len(ids) for ids in flat], dtype=np.int64)
    pad_id = tokenizer.pad_token_id
    keep = np.arange(int(lengths.max(initial=0))) < lengths[:, None]
    ids = np.full(keep.shape, pad_id, dtype=np.int32)
    ids[keep] = np.concatenate(flat) if flat else np.empty(0, dtype=np.int32)
    return ids, lengths


_CANONICAL_BPE: weakref.WeakKeyDictionary[PreTrainedTokenizerFast, Tokenizer] = weakref.WeakKeyDictionary()


def _canonical_bpe_backend(tokenizer: PreTrainedTokenizerFast) -> Tokenizer:
    """A copy of the BPE backend without normaliser, padding or truncation, made once per tokenizer.

    Text decoded from base codes is already upper-case ACGTN, which the normaliser maps to itself, so
    skipping it gives the same ids without the per-character alignment bookkeeping (with
    `encode_batch_fast`, which skips offsets, ~1.4x less CPU a base). The caller's settings stay as they are.
    """
    backend = _CANONICAL_BPE.get(tokenizer)
    if backend is None:
        backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        backend.normalizer = None
        backend.no_truncation()
        backend.no_padding()
        _CANONICAL_BPE[tokenizer] = backend
    return backend


def save_tokenizer(
    train_windows: str | Path,
    out_dir: str | Path,
    *,
    val_windows: str | Path | None = None,
    kind: str = "char",
    k: int = 6,
    vocab_size: int = 4096,
    window: int = 512,
    bpe_training_windows: int = 20_000,
    stats_windows: int = 2000,
) -> PreTrainedTokenizerFast:
    """The tokenizer stage: build (BPE: train on at most `bpe_training_windows` training windows) and save.

    `stats.json` in the directory records tokens per base on up to `stats_windows` held-out windows
    (`val_windows`, else training windows), the number BPE vocabulary choices are compared by.
    """
    sequences = None
    if kind == "bpe":
        windows = np.load(train_windows, mmap_mode="r")
        step = max(1, len(windows) // bpe_training_windows)
        sequences = (BASES_ARRAY[row].tobytes().decode() for row in windows[::step])
    tokenizer = build_tokenizer(
        kind, k=k, vocab_size=vocab_size, training_sequences=sequences, model_max_length=window + 2
    )
    sample = np.load(val_windows or train_windows, mmap_mode="r")
    sample = np.asarray(sample[:: max(1, len(sample) // stats_windows)][:stats_windows])
    _, lengths = encode_codes(tokenizer, sample)
    stats = {
        "kind": kind,
        "k": tokenizer_kind(tokenizer)[1],
        "vocab_size": len(tokenizer),
        "windows": len(sample),
        "bases": int(sample.size),
        "tokens": int(lengths.sum()),
        "tokens_per_base": float(lengths.sum() / sample.size) if sample.size else None,
        "sample": "val" if val_windows else "train",
    }
    with atomic_path(out_dir) as tmp:
        tokenizer.save_pretrained(tmp)
        (tmp / "stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n")
    LOG.info(
        "%s tokenizer with %d tokens saved to %s (%.3f tokens a base)",
        kind,
        len(tokenizer),
        out_dir,
        stats["tokens_per_base"] or 0,
    )
    return tokenizer
