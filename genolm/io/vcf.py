"""VCF reading via pysam: one Variant per ALT allele; the oddities of real files are counted and skipped."""

from __future__ import annotations

import contextlib
import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pysam

from genolm.errors import GenolmError
from genolm.io.fasta import open_binary

log = logging.getLogger(__name__)

SKIP_REASONS = ("missing_alt", "symbolic_alt", "alt_equals_ref")


@dataclass(frozen=True)
class Variant:
    """One REF>ALT allele; `pos` is 1-based as in the VCF, INFO values are strings (lists joined by ',')."""

    id: str
    contig: str
    pos: int
    ref: str
    alt: str
    info: dict[str, str]


def read_variants(path: str | os.PathLike) -> Iterator[Variant]:
    """Stream variants, one per usable ALT; skipped alleles are counted and logged at the end."""
    skipped: Counter[str] = Counter()
    for variant, _ in _iter_alleles(os.fspath(path), skipped, with_genotypes=False):
        yield variant
    if skipped:
        log.info("%s: skipped alleles %s", path, dict(skipped))


def read_variants_counted(path: str | os.PathLike) -> tuple[list[Variant], dict[str, int]]:
    """All variants plus skip counts per reason (every reason in SKIP_REASONS is present, possibly 0)."""
    skipped: Counter[str] = Counter()
    variants = [v for v, _ in _iter_alleles(os.fspath(path), skipped, with_genotypes=False)]
    return variants, {reason: skipped[reason] for reason in SKIP_REASONS}


def read_genotypes(path: str | os.PathLike) -> tuple[list[str], list[tuple[Variant, np.ndarray]]]:
    """Samples and, per variant, the ALT dosage of each sample (0/1/2, haploid 0/1; -1 where missing)."""
    path = os.fspath(path)
    with _open(path) as vf:
        samples = list(vf.header.samples)
    skipped: Counter[str] = Counter()
    return samples, list(_iter_alleles(path, skipped, with_genotypes=True))


@contextlib.contextmanager
def _open(path: str) -> Iterator[pysam.VariantFile]:
    """Open through a Python file object: htslib then streams plain-gzip VCFs, which it cannot seek."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with-block below
    except OSError as exc:
        raise GenolmError(f"{path}: cannot open ({exc.strerror or exc})") from exc
    with fh:
        try:
            vf = pysam.VariantFile(fh)
        except (OSError, ValueError, TypeError) as exc:  # TypeError: pysam's own error path on some bytes
            raise GenolmError(f"{path}: not a readable VCF/BCF file ({_unreadable(path, exc)})") from exc
        with vf:
            yield vf


def _unreadable(path: str, exc: Exception) -> str:
    """Why htslib refused the file, in words (its own message shows a Python file object)."""
    with open_binary(path) as fh:
        if fh.read(3) == b"\xef\xbb\xbf":
            return "it starts with a UTF-8 byte-order mark, which htslib cannot read; remove it"
    if isinstance(exc, TypeError) or "is it VCF/BCF format" in str(exc):
        return "unrecognised format; expected text starting with '##fileformat=VCF' or BCF"
    return str(exc)


def _skip_reason(ref: str, alt: str | None) -> str | None:
    if alt is None or alt == ".":
        return "missing_alt"
    if alt.startswith("<") or alt == "*" or "[" in alt or "]" in alt:
        return "symbolic_alt"
    if alt.upper() == ref.upper():
        return "alt_equals_ref"
    return None


def _iter_alleles(
    path: str, skipped: Counter[str], *, with_genotypes: bool
) -> Iterator[tuple[Variant, np.ndarray | None]]:
    """Split each record into one Variant per ALT; pysam's parse errors become GenolmError."""
    with _open(path) as vf:
        numbers = {key: meta.number for key, meta in vf.header.info.items()}
        records = iter(vf)
        index = 0
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except (OSError, ValueError) as exc:
                raise GenolmError(f"{path}: malformed VCF record after {index} records ({exc})") from exc
            index += 1
            for allele, alt in enumerate(record.alts or (None,), start=1):
                reason = _skip_reason(record.ref, alt)
                if reason:
                    skipped[reason] += 1
                    continue
                variant = Variant(
                    id=record.id or f"{record.chrom}:{record.pos}:{record.ref}:{alt}",
                    contig=record.chrom,
                    pos=record.pos,
                    ref=record.ref,
                    alt=alt,
                    info=_info(record, numbers, allele),
                )
                yield variant, (_dosages(record, allele) if with_genotypes else None)


def _info(record: pysam.VariantRecord, numbers: dict, allele: int) -> dict[str, str]:
    """INFO as strings; per-allele fields (Number=A/R) keep only this ALT's value(s)."""
    info = {}
    for key, value in record.info.items():
        if isinstance(value, tuple):
            if numbers.get(key) == "A" and len(value) >= allele:
                value = (value[allele - 1],)
            elif numbers.get(key) == "R" and len(value) > allele:
                value = (value[0], value[allele])
            info[key] = ",".join(_text(v) for v in value)
        else:
            info[key] = _text(value)
    return info


def _text(value) -> str:
    if value is True:
        return "1"  # a Flag that is present
    if value is None:
        return "."
    if isinstance(value, float):
        return format(value, ".7g")  # htslib stores float32; 7 digits round-trip what the file said
    return str(value)


def _dosages(record: pysam.VariantRecord, allele: int) -> np.ndarray:
    out = np.empty(len(record.samples), dtype=np.int8)
    for i, sample in enumerate(record.samples.values()):
        gt = sample.get("GT") if "GT" in sample else None
        out[i] = -1 if not gt or None in gt else sum(a == allele for a in gt)
    return out
