"""Tokenizers: char, k-mer, overlapping k-mer and BPE, saved and reloaded in Hugging Face format."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from transformers import AutoTokenizer

from genolm.errors import GenolmError
from genolm.tokenizers import (
    BASES,
    SPECIAL_TOKENS,
    build_tokenizer,
    decode_overlapping,
    encode_codes,
    overlapping_kmers,
    tokenizer_kind,
)

K = 3


def _random_sequences(rng: np.random.Generator, count: int, length: int, alphabet: str = "ACGT") -> list[str]:
    return ["".join(rng.choice(list(alphabet), length)) for _ in range(count)]


def _codes(sequences: list[str]) -> np.ndarray:
    lookup = np.zeros(256, dtype=np.uint8)
    lookup[np.frombuffer(BASES.encode(), dtype=np.uint8)] = np.arange(len(BASES), dtype=np.uint8)
    return np.stack([lookup[np.frombuffer(s.encode(), dtype=np.uint8)] for s in sequences])


def _text(tokenizer, sequence: str) -> str:
    kind, k = tokenizer_kind(tokenizer)
    return overlapping_kmers(sequence, k) if kind == "kmer_overlap" else sequence


@pytest.fixture(scope="module")
def tokenizers():
    # Repeats in the training data give BPE something to merge beyond chance pairs.
    rng = np.random.default_rng(0)
    motifs = _random_sequences(rng, 8, 12)
    training = ["".join(rng.choice(motifs, 20)) + seq for seq in _random_sequences(rng, 60, 100, "ACGTN")]
    return {
        "char": build_tokenizer("char"),
        "kmer": build_tokenizer("kmer", k=K),
        "kmer_overlap": build_tokenizer("kmer_overlap", k=K),
        "bpe": build_tokenizer("bpe", vocab_size=80, training_sequences=training, model_max_length=128),
    }


@pytest.mark.parametrize("kind", ["char", "kmer", "kmer_overlap", "bpe"])
def test_specials_template_and_kind(tokenizers, kind):
    tok = tokenizers[kind]
    assert tok.convert_tokens_to_ids(SPECIAL_TOKENS) == [0, 1, 2, 3, 4]
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == (
        0,
        1,
        2,
        3,
        4,
    )
    ids = tok(_text(tok, "ACGTACGTAC"))["input_ids"]
    assert ids[0] == 2 and ids[-1] == 3 and 2 not in ids[1:-1] and 3 not in ids[1:-1]
    assert tokenizer_kind(tok) == (kind, {"char": 1, "bpe": 0}.get(kind, K))
    assert tok.model_max_length == (128 if kind == "bpe" else 512)


def test_char_vocab_normalisation_and_round_trip(tokenizers):
    tok = tokenizers["char"]
    assert len(tok) == 10
    assert tok.convert_tokens_to_ids(list(BASES)) == [5, 6, 7, 8, 9]
    assert tok.decode(tok("ACGTNNACGT")["input_ids"], skip_special_tokens=True) == "ACGTNNACGT"
    assert tok("acgtRyn", add_special_tokens=False)["input_ids"] == [5, 6, 7, 8, 9, 9, 9]
    assert tok("AX", add_special_tokens=False)["input_ids"] == [5, 1]


def test_kmer_grid_with_n_fallback_and_tail(tokenizers):
    tok = tokenizers["kmer"]
    assert len(tok) == 5 + 4**K + 5  # specials, k-mers, single-base fallbacks
    seq = "ACGTANAGGGTTAC"  # chunks ACG | TAN -> T A N | AGG | GTT | tail AC -> A C
    ids = tok(seq, add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["ACG", "T", "A", "N", "AGG", "GTT", "A", "C"]
    assert tok.decode(tok(seq)["input_ids"], skip_special_tokens=True) == seq


def test_kmer_one_equals_char():
    assert build_tokenizer("kmer", k=1).get_vocab() == build_tokenizer("char").get_vocab()


def test_overlap_tokens_decode_and_reconstruction(tokenizers):
    tok = tokenizers["kmer_overlap"]
    assert len(tok) == 5 + 4**K
    ids = tok(overlapping_kmers("ACGTA", K))["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["[CLS]", "ACG", "CGT", "GTA", "[SEP]"]
    # decode gives the k-mer text (each base sits in up to k tokens), decode_overlapping the sequence.
    assert tok.decode(ids, skip_special_tokens=True) == "ACG CGT GTA"
    assert decode_overlapping(tok.convert_ids_to_tokens(ids)) == "ACGTA"
    with_n = tok.convert_ids_to_tokens(tok(overlapping_kmers("ACGTTNGTACC", K))["input_ids"])
    assert with_n[4:7] == ["[UNK]"] * 3
    assert decode_overlapping(with_n) == "ACGTTNGTACC"
    # Bases covered only by [UNK] k-mers cannot be recovered and come back as N.
    assert decode_overlapping(["[UNK]", "[UNK]", "[UNK]", "GTA", "TAC"]) == "NNNGTAC"


def test_decode_overlapping_rejects_inconsistent_tokens():
    with pytest.raises(GenolmError, match="disagrees"):
        decode_overlapping(["ACG", "GGT"])
    with pytest.raises(GenolmError, match="one length"):
        decode_overlapping(["ACG", "CG"])
    with pytest.raises(GenolmError, match="one length"):
        decode_overlapping(["[CLS]", "[UNK]", "[SEP]"])


def test_bpe_learns_merges_and_round_trips(tokenizers):
    tok = tokenizers["bpe"]
    assert len(tok) == 80
    vocab = tok.get_vocab()
    assert all(set(token) <= set(BASES) for token in vocab if token not in SPECIAL_TOKENS)
    assert max(len(token) for token in vocab if token not in SPECIAL_TOKENS) > 2
    sequences = _random_sequences(np.random.default_rng(1), 20, 57, "ACGTN")
    encoded = [tok(seq)["input_ids"] for seq in sequences]
    assert sum(len(ids) - 2 for ids in encoded) < sum(len(seq) for seq in sequences)
    assert [tok.decode(ids, skip_special_tokens=True) for ids in encoded] == sequences


@pytest.mark.parametrize("kind", ["char", "kmer", "kmer_overlap", "bpe"])
def test_save_and_load_with_auto_tokenizer(tokenizers, kind, tmp_path):
    tok = tokenizers[kind]
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
    assert tokenizer_kind(loaded) == tokenizer_kind(tok)
    assert loaded.get_vocab() == tok.get_vocab()
    assert loaded.model_max_length == tok.model_max_length
    assert loaded.all_special_tokens == tok.all_special_tokens
    text = _text(tok, "acgtNACGGTACCAtgca")
    assert loaded(text)["input_ids"] == tok(text)["input_ids"]
    assert loaded.decode(loaded(text)["input_ids"], skip_special_tokens=True) == tok.decode(
        tok(text)["input_ids"], skip_special_tokens=True
    )
    codes = _codes(["ACGTNACGGTACCATG", "TTTTTTTTTTTTTTTT"])
    for got, want in zip(encode_codes(loaded, codes), encode_codes(tok, codes), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", ["char", "kmer", "kmer_overlap", "bpe"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# N at 1/16 so that batches mix rows with and without N (the vectorised paths treat them differently).
@given(
    codes=arrays(
        np.uint8,
        st.tuples(st.integers(0, 5), st.integers(0, 23)),
        elements=st.integers(0, 15).map(lambda v: 4 if v == 15 else v % 4),
    )
)
def test_encode_codes_matches_tokenizer(tokenizers, kind, codes):
    tok = tokenizers[kind]
    ids, lengths = encode_codes(tok, codes)
    assert ids.dtype == np.int32 and ids.shape[0] == len(codes) == len(lengths)
    for row, seq in enumerate("".join(BASES[c] for c in row) for row in codes):
        expected = tok(_text(tok, seq), add_special_tokens=False)["input_ids"]
        assert lengths[row] == len(expected)
        assert ids[row, : lengths[row]].tolist() == expected
        assert (ids[row, lengths[row] :] == tok.pad_token_id).all()


def test_encode_codes_shapes(tokenizers):
    codes = _codes(["ACGTACGTAC", "ACNTACGTAC"])
    assert encode_codes(tokenizers["char"], codes)[0].shape == (2, 10)
    assert encode_codes(tokenizers["kmer_overlap"], codes)[0].shape == (2, 10 - K + 1)
    ids, lengths = encode_codes(tokenizers["kmer"], codes)
    assert lengths.tolist() == [3 + 1, 3 + 2 + 1] and ids.shape == (2, 6)


def test_encode_codes_leaves_backend_truncation_alone(tokenizers):
    tok = tokenizers["bpe"]
    tok.backend_tokenizer.enable_truncation(max_length=2)
    try:
        ids, lengths = encode_codes(tok, _codes(["ACGTACGTACGTACGTACGT"]))
        assert lengths[0] > 2
        assert tok.backend_tokenizer.truncation["max_length"] == 2
    finally:
        tok.backend_tokenizer.no_truncation()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "kmer", "k": 0}, "'k'"),
        ({"kind": "kmer", "k": 9}, "'k'"),
        ({"kind": "kmer_overlap", "k": 9}, "'k'"),
        ({"kind": "word"}, "'kind'"),
        ({"kind": "bpe"}, "'training_sequences'"),
        ({"kind": "bpe", "training_sequences": iter([])}, "empty"),
        ({"kind": "bpe", "vocab_size": 10, "training_sequences": ["ACGT"]}, "'vocab_size'"),
    ],
)
def test_bad_build_arguments(kwargs, match):
    kind = kwargs.pop("kind")
    with pytest.raises(GenolmError, match=match):
        build_tokenizer(kind, **kwargs)


def test_bad_codes_and_foreign_tokenizer(tokenizers, tmp_path):
    tok = tokenizers["char"]
    with pytest.raises(GenolmError, match="0..4"):
        encode_codes(tok, np.array([[0, 5]], dtype=np.uint8))
    with pytest.raises(GenolmError, match="2-D uint8"):
        encode_codes(tok, np.array([0, 1], dtype=np.uint8))
    with pytest.raises(GenolmError, match="2-D uint8"):
        encode_codes(tok, np.array([[0, 1]], dtype=np.int64))
    tok.save_pretrained(tmp_path)
    config = tmp_path / "tokenizer_config.json"
    config.write_text(config.read_text().replace('"genolm_kind": "char"', '"genolm_kind": "words"'))
    with pytest.raises(GenolmError, match="genolm_kind"):
        tokenizer_kind(AutoTokenizer.from_pretrained(tmp_path, local_files_only=True))


@pytest.mark.parametrize("kind", ["kmer", "kmer_overlap"])
def test_encode_codes_largest_k(kind):
    tok = build_tokenizer(kind, k=8)
    sequences = ["TTTTTTTT" * 4 + "GCA", "ACGTNACGTTTTTTTTAC" + "GATTACA" * 2 + "TTT"]
    ids, lengths = encode_codes(tok, _codes(sequences))
    for row, seq in enumerate(sequences):
        assert (
            ids[row, : lengths[row]].tolist() == tok(_text(tok, seq), add_special_tokens=False)["input_ids"]
        )
    assert ids[0, 0] == tok.convert_tokens_to_ids("TTTTTTTT") == 5 + 4**8 - 1


@pytest.mark.parametrize("k", range(1, 8))
@pytest.mark.parametrize("kind", ["kmer", "kmer_overlap"])
def test_encode_codes_every_k_matches_the_tokenizer(kind, k):
    """k-mer ids are built from shorter k-mers (1, 2, 3, 6 for k=6): every k exercises another chain."""
    tok = build_tokenizer(kind, k=k)
    rng = np.random.default_rng(k)
    sequences = _random_sequences(rng, 6, 41, "ACGT") + _random_sequences(rng, 3, 41, "ACGTTTTTTTTTN")
    ids, lengths = encode_codes(tok, _codes(sequences))
    for row, seq in enumerate(sequences):
        assert (
            ids[row, : lengths[row]].tolist() == tok(_text(tok, seq), add_special_tokens=False)["input_ids"]
        )


def test_id_lookup_takes_the_table_when_ids_are_not_consecutive():
    from genolm.tokenizers import _lookup

    index = np.array([[0, 3, 1], [2, 2, 0]], dtype=np.uint16)
    consecutive = np.arange(7, 11, dtype=np.int32)
    shuffled = np.array([9, 4, 30, 5], dtype=np.int32)
    for table in (consecutive, shuffled):
        got = _lookup(table, index)
        assert got.dtype == np.int32 and got.tolist() == table[index].tolist()
