"""FASTA reading and the A/C/G/T/N base codes every later stage uses.

Sequences are decoded with a 256-entry lookup table that `bytes.translate` applies to multi-megabyte
blocks, never a per-character Python loop; gzip is inflated by ISA-L (`isal`, ~3x zlib) when installed.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from collections.abc import Iterator
from typing import BinaryIO, TextIO

import numpy as np

from genolm.errors import GenolmError

try:  # ISA-L inflates ~3x faster than zlib; the standard library stays the fallback
    from isal import igzip as _gzip
    from isal.isal_zlib import error as _ISAL_ERROR
except ImportError:  # pragma: no cover - isal is in requirements.txt
    _gzip, _ISAL_ERROR = gzip, zlib.error

A, C, G, T, N = 0, 1, 2, 3, 4
_INVALID = 255
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"
_CHUNK_SIZE = 1 << 18  # bytes decompressed and encoded at a time: big for C loops, small for the cache
_INLINE_SPACE = b" \t\r"  # whitespace other than line ends: rare in FASTA, only looked for on a miss

_TABLE = np.full(256, _INVALID, dtype=np.uint8)
for _letters, _code in (("Aa", A), ("Cc", C), ("Gg", G), ("Tt", T), ("RYSWKMBDHVNryswkmbdhvn", N)):
    _TABLE[np.frombuffer(_letters.encode(), dtype=np.uint8)] = _code
_TRANSLATE = _TABLE.tobytes()  # the same table, in the form bytes.translate applies at C speed
_LOWERCASE = (np.arange(256) >= ord("a")).astype(np.uint8).tobytes()  # byte -> 1 if soft-masked
_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)

FastaRecord = tuple[str, np.ndarray] | tuple[str, np.ndarray, np.ndarray]


class _CheckedGzip(io.RawIOBase):
    """Raw stream over a gzip file that turns truncation/corruption into a GenolmError naming the file."""

    def __init__(self, path: str | os.PathLike):
        self._path = os.fspath(path)
        self._gz = _gzip.open(self._path, "rb")  # noqa: SIM115 - closed by close(), owned by this wrapper

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            return self._gz.readinto(buffer)
        except (EOFError, zlib.error, _ISAL_ERROR, gzip.BadGzipFile) as exc:
            raise self._corrupt(exc) from exc

    def read(self, size: int = -1) -> bytes:
        """Straight from the decompressor: no intermediate buffer and copy (the FASTA reader's path)."""
        try:
            return self._gz.read(size)
        except (EOFError, zlib.error, _ISAL_ERROR, gzip.BadGzipFile) as exc:
            raise self._corrupt(exc) from exc

    def _corrupt(self, exc: Exception) -> GenolmError:
        return GenolmError(f"{self._path}: gzip data is truncated or corrupt ({exc})")

    def close(self) -> None:
        self._gz.close()
        super().close()


def _is_gzip(path: str | os.PathLike) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


def open_binary(path: str | os.PathLike, *, buffered: bool = True) -> BinaryIO:
    """Open a plain, gzip or bgzip file for binary reading; compression is sniffed from the magic bytes.

    `buffered=False` suits callers that only read large blocks: each read comes straight from the file
    or the decompressor, without a second copy through a buffer.
    """
    try:
        if _is_gzip(path):
            raw = _CheckedGzip(path)
            return io.BufferedReader(raw, buffer_size=1 << 20) if buffered else raw
        return open(path, "rb", buffering=1 << 20 if buffered else 0)
    except OSError as exc:
        raise GenolmError(f"{path}: cannot open ({exc.strerror or exc})") from exc


class _CheckedText(io.TextIOWrapper):
    """UTF-8 text; a decoding error becomes a GenolmError naming file and line (iteration calls readline)."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(open_binary(path), encoding="utf-8-sig", newline=None)
        self._path = os.fspath(path)

    def readline(self, size: int = -1) -> str:
        try:
            return super().readline(size)
        except UnicodeDecodeError as exc:
            raise self._not_utf8(exc) from exc

    def read(self, size: int | None = -1) -> str:
        try:
            return super().read(size)
        except UnicodeDecodeError as exc:
            raise self._not_utf8(exc) from exc

    def _not_utf8(self, exc: UnicodeDecodeError) -> GenolmError:
        """Slow path, only on error: rescan the raw lines for the first that is not UTF-8."""
        with open_binary(self._path) as fh:
            lineno = next((n for n, line in enumerate(fh, 1) if not _is_utf8(line)), 0)
        byte = exc.object[exc.start : exc.start + 1].hex()
        return GenolmError(f"{self._path}:{lineno}: not UTF-8 text (byte 0x{byte}); expected ASCII or UTF-8")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def open_text(path: str | os.PathLike) -> TextIO:
    """Open a plain, gzip or bgzip text file; CRLF line ends and a UTF-8 BOM are tolerated."""
    return _CheckedText(path)


def encode(seq: str | bytes) -> np.ndarray:
    """Encode bases to uint8 codes (ACGT -> 0..3, other IUPAC -> 4); anything else is a GenolmError."""
    raw = seq.encode() if isinstance(seq, str) else bytes(seq)
    coded = raw.translate(_TRANSLATE)
    pos = coded.find(_INVALID)
    if pos >= 0:
        raise GenolmError(
            f"invalid base {raw[pos : pos + 1]!r} at position {pos}; expected A, C, G, T or IUPAC"
        )
    return np.frombuffer(coded, dtype=np.uint8).copy()


def decode(codes: np.ndarray) -> str:
    """Decode uint8 codes back to an uppercase ACGTN string."""
    codes = np.asarray(codes)
    if codes.size and (codes.min() < 0 or codes.max() > N):
        raise ValueError("base codes must lie in 0..4")
    return _LETTERS[codes].tobytes().decode()


def iter_fasta(path: str | os.PathLike, *, soft_mask: bool = False) -> Iterator[FastaRecord]:
    """Stream (name, codes) — or (name, codes, lowercase mask) — one contig at a time.

    The name is the first word of the header. Empty files, non-FASTA files, empty records,
    invalid characters and duplicate names raise GenolmError with the file and line (the first in the file).
    Each block is encoded as it is read, so a contig is held as codes (plus its mask), not as text.
    """
    path = os.fspath(path)
    seen: set[str] = set()
    name, header_line, pieces = None, 0, []
    with open_binary(path, buffered=False) as fh:
        for raw, bases, lineno in _blocks(fh, _CHUNK_SIZE):
            if bases is None:
                if name is not None:
                    yield _finish(path, name, header_line, pieces, soft_mask)
                name, header_line, pieces = _header_name(path, lineno, raw, seen), lineno, []
            elif name is not None:
                pieces.append(_encode_block(path, raw, bases, lineno, soft_mask))
            elif raw.strip():
                first = lineno + raw[: len(raw) - len(raw.lstrip())].count(b"\n")
                raise GenolmError(f"{path}:{first}: not FASTA: expected a '>' header line first")
    if name is None:
        raise GenolmError(f"{path}: empty file: expected FASTA records starting with '>'")
    yield _finish(path, name, header_line, pieces, soft_mask)


def _blocks(fh: BinaryIO, chunk_size: int) -> Iterator[tuple[bytes, bytes | None, int]]:
    """Yield (raw bytes, bases, first line number) per header line (bases None) and per run of other bytes
    (bases: the run without its line ends).

    Chunks are not cut at line ends: a run of sequence may end mid-line, which encoding does not mind, so
    a chunk without a header is used as read, without a copy. Only a header cut by the chunk end is carried
    over. The per-line cost stays in C (memchr-based find/replace), not in Python, and chunks of a few
    hundred KiB keep decompressing, line-end removal and encoding in cache.
    """
    lineno, carry, line_start, first = 1, [], True, True  # carry: pieces of a header line not yet ended
    while True:
        chunk = fh.read(max(chunk_size, len(_BOM)) if first else chunk_size)
        if not chunk and not carry:
            return
        if first:
            chunk, first = chunk.removeprefix(_BOM), False
        if carry and chunk and b"\n" not in chunk:  # a very long header line (or CR-only line ends)
            carry.append(chunk)
            continue
        data, carry, pos = b"".join([*carry, chunk]) if carry else chunk, [], 0
        while pos < len(data):
            if line_start and data[pos] == 0x3E:  # '>'
                end = data.find(b"\n", pos) + 1 or len(data)
                if data[end - 1] != 0x0A and chunk:  # the header goes on in the next chunk
                    carry = [data[pos:]]
                    break
                yield data[pos:end], None, lineno
                lineno += 1
            else:
                end = _next_header(data, pos + 1)
                raw = data if pos == 0 and end == len(data) else data[pos:end]
                bases = raw.replace(b"\n", b"")
                yield raw, bases, lineno
                lineno += len(raw) - len(bases)
            line_start, pos = data[end - 1] == 0x0A, end


def _next_header(data: bytes, pos: int) -> int:
    """Offset of the first '>' at or after `pos` > 0 that starts a line (len(data) if none), by memchr."""
    nxt = data.find(b">", pos)
    while nxt > 0 and data[nxt - 1] != 0x0A:  # a '>' inside a line is an invalid base, not a header
        nxt = data.find(b">", nxt + 1)
    return len(data) if nxt < 0 else nxt


def _header_name(path: str, lineno: int, line: bytes, seen: set[str]) -> str:
    if b"\r" in line.rstrip(b"\r\n"):  # first: such a "line" may be the whole file
        raise GenolmError(f"{path}:{lineno}: lines end in CR alone (old Mac style); convert them to LF")
    words = line[1:].split(maxsplit=1)
    if not words:
        raise GenolmError(f"{path}:{lineno}: FASTA header has no name")
    name = words[0].decode("utf-8", errors="replace")
    if name in seen:
        raise GenolmError(f"{path}:{lineno}: duplicate contig name {name!r}")
    seen.add(name)
    return name


def _encode_block(
    path: str, raw: bytes, bases: bytes, lineno: int, soft_mask: bool
) -> tuple[bytes, bytes | None]:
    """(codes, soft-mask flags or None) of one run of sequence lines; the table's sentinel marks bad bytes.

    The common case is one translate; CR, spaces and tabs are deleted only when the sentinel shows up.
    """
    coded = bases.translate(_TRANSLATE)
    if coded.find(_INVALID) >= 0:
        bases = bases.translate(None, _INLINE_SPACE)
        coded = bases.translate(_TRANSLATE)
        if coded.find(_INVALID) >= 0:
            _raise_invalid(path, raw, lineno)
    return coded, bases.translate(_LOWERCASE) if soft_mask else None


def _finish(
    path: str, name: str, header_line: int, pieces: list[tuple[bytes, bytes | None]], soft_mask: bool
) -> FastaRecord:
    """Join one record's encoded blocks into one writable code array (and mask)."""
    codes = _join([coded for coded, _ in pieces], np.uint8)
    if not len(codes):
        raise GenolmError(f"{path}:{header_line}: record {name!r} has no sequence")
    if soft_mask:
        return name, codes, _join([flags for _, flags in pieces], np.bool_)
    return name, codes


def _join(pieces: list[bytes], dtype: type) -> np.ndarray:
    """Concatenate into one numpy array: numpy's large allocations ask for huge pages, so a big contig
    costs far fewer page faults than a bytes join."""
    out = np.empty(sum(map(len, pieces)), dtype=dtype)
    at = 0
    for piece in pieces:
        out[at : at + len(piece)] = np.frombuffer(piece, dtype=dtype)
        at += len(piece)
    return out


def _raise_invalid(path: str, data: bytes, first_line: int) -> None:
    """Slow path, only on error: find the line and character that failed."""
    for offset, line in enumerate(data.split(b"\n")):
        clean = line.translate(None, _WHITESPACE)
        pos = clean.translate(_TRANSLATE).find(_INVALID)
        if pos >= 0:
            char = clean[pos : pos + 1].decode("utf-8", errors="replace")
            raise GenolmError(
                f"{path}:{first_line + offset}: invalid sequence character {char!r}; "
                "expected A, C, G, T or IUPAC codes"
            )


def read_genome(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All contigs of a FASTA as code arrays; for genomes small enough to hold in memory."""
    return dict(iter_fasta(path))


def contig_lengths(path: str | os.PathLike) -> dict[str, int]:
    """Contig name -> length, validating the sequence on the way."""
    return {name: len(codes) for name, codes in iter_fasta(path)}
