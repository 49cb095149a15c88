"""FASTA reading and the A/C/G/T/N base codes every later stage uses.

Sequences are decoded with a 256-entry numpy lookup table, never a per-character Python loop,
so whole bacterial genomes parse in well under a second.
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

A, C, G, T, N = 0, 1, 2, 3, 4
_INVALID = 255
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"

_TABLE = np.full(256, _INVALID, dtype=np.uint8)
for _letters, _code in (("Aa", A), ("Cc", C), ("Gg", G), ("Tt", T), ("RYSWKMBDHVNryswkmbdhvn", N)):
    _TABLE[np.frombuffer(_letters.encode(), dtype=np.uint8)] = _code
_TRANSLATE = _TABLE.tobytes()  # the same table, in the form bytes.translate applies at C speed
_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)
_COMPLEMENT = np.array([T, G, C, A, N], dtype=np.uint8)

FastaRecord = tuple[str, np.ndarray] | tuple[str, np.ndarray, np.ndarray]


class _CheckedGzip(io.RawIOBase):
    """Raw stream over a gzip file that turns truncation/corruption into a GenolmError naming the file."""

    def __init__(self, path: str | os.PathLike):
        self._path = os.fspath(path)
        self._gz = gzip.open(self._path, "rb")  # noqa: SIM115 - closed by close(), owned by this wrapper

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            return self._gz.readinto(buffer)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise GenolmError(f"{self._path}: gzip data is truncated or corrupt ({exc})") from exc

    def close(self) -> None:
        self._gz.close()
        super().close()


def _is_gzip(path: str | os.PathLike) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


def open_binary(path: str | os.PathLike) -> BinaryIO:
    """Open a plain, gzip or bgzip file for binary reading; compression is sniffed from the magic bytes."""
    try:
        if _is_gzip(path):
            return io.BufferedReader(_CheckedGzip(path), buffer_size=1 << 20)
        return open(path, "rb", buffering=1 << 20)
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


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of a code array (N stays N)."""
    return _COMPLEMENT[np.asarray(codes)[::-1]]


def iter_fasta(path: str | os.PathLike, *, soft_mask: bool = False) -> Iterator[FastaRecord]:
    """Stream (name, codes) — or (name, codes, lowercase mask) — one contig at a time.

    The name is the first word of the header. Empty files, non-FASTA files, empty records,
    invalid characters and duplicate names raise GenolmError with the file and line.
    """
    path = os.fspath(path)
    seen: set[str] = set()
    name, header_line, blocks = None, 0, []
    with open_binary(path) as fh:
        for is_header, data, lineno in _blocks(fh):
            if is_header:
                if name is not None:
                    yield _finish(path, name, header_line, blocks, soft_mask)
                name, header_line, blocks = _header_name(path, lineno, data, seen), lineno, []
            elif name is not None:
                blocks.append((data, lineno))
            elif data.strip():
                first = lineno + data[: len(data) - len(data.lstrip())].count(b"\n")
                raise GenolmError(f"{path}:{first}: not FASTA: expected a '>' header line first")
    if name is None:
        raise GenolmError(f"{path}: empty file: expected FASTA records starting with '>'")
    yield _finish(path, name, header_line, blocks, soft_mask)


def _blocks(fh: BinaryIO, chunk_size: int = 1 << 22) -> Iterator[tuple[bool, bytes, int]]:
    """Yield (is_header, bytes, first line number) for each header line and each run of other lines.

    Works on large chunks so the per-line cost stays in C (bytes.find/count), not in Python.
    """
    lineno, tail, first = 1, [], True  # tail: pieces of a line not yet ended (one-line genomes stay linear)
    while True:
        chunk = fh.read(chunk_size)
        if first:
            chunk, first = chunk.removeprefix(_BOM), False
        if chunk:
            cut = chunk.rfind(b"\n") + 1
            if not cut:
                tail.append(chunk)
                continue
            data, tail = b"".join([*tail, chunk[:cut]]), [chunk[cut:]]
        elif any(tail):
            data, tail = b"".join([*tail, b"\n"]), []
        else:
            return
        pos = 0
        while pos < len(data):
            if data[pos] == 0x3E:  # '>'
                end = data.index(b"\n", pos) + 1
                yield True, data[pos:end], lineno
                lineno += 1
            else:
                nxt = data.find(b"\n>", pos)
                end = len(data) if nxt < 0 else nxt + 1
                block = data[pos:end]
                yield False, block, lineno
                lineno += block.count(b"\n")
            pos = end


def _header_name(path: str, lineno: int, line: bytes, seen: set[str]) -> str:
    words = line[1:].split()
    if not words:
        raise GenolmError(f"{path}:{lineno}: FASTA header has no name")
    if b"\r" in line.rstrip(b"\r\n"):
        raise GenolmError(f"{path}:{lineno}: lines end in CR alone (old Mac style); convert them to LF")
    name = words[0].decode("utf-8", errors="replace")
    if name in seen:
        raise GenolmError(f"{path}:{lineno}: duplicate contig name {name!r}")
    seen.add(name)
    return name


def _finish(
    path: str, name: str, header_line: int, blocks: list[tuple[bytes, int]], soft_mask: bool
) -> FastaRecord:
    """Join one record's lines and encode them with the lookup table; its sentinel code marks bad bytes."""
    joined = bytearray().join(data for data, _ in blocks)
    coded = joined.translate(_TRANSLATE, _WHITESPACE)
    if not coded:
        raise GenolmError(f"{path}:{header_line}: record {name!r} has no sequence")
    if coded.find(_INVALID) >= 0:
        _raise_invalid(path, blocks)
    codes = np.frombuffer(coded, dtype=np.uint8)
    if soft_mask:
        return name, codes, np.frombuffer(joined.translate(None, _WHITESPACE), dtype=np.uint8) >= ord("a")
    return name, codes


def _raise_invalid(path: str, blocks: list[tuple[bytes, int]]) -> None:
    """Slow path, only on error: find the line and character that failed."""
    for data, first_line in blocks:
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
