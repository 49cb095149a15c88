"""Match contig names across files that spell them differently (1/chr1/NC_000001.11, MT/chrM/NC_012920.1)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from genolm.errors import GenolmError

log = logging.getLogger(__name__)

# Human RefSeq chromosome accessions (version dropped: GRCh37 and GRCh38 differ only there).
REFSEQ_HUMAN = {f"NC_{i:06d}": str(i) for i in range(1, 23)} | {
    "NC_000023": "X",
    "NC_000024": "Y",
    "NC_012920": "MT",
}


def canonical_contig(name: str) -> str:
    """A spelling-independent key: no chr prefix, M -> MT, human RefSeq accession -> chromosome."""
    accession = name.split(".", 1)[0]
    if accession in REFSEQ_HUMAN:
        return REFSEQ_HUMAN[accession]
    key = name[3:] if name.lower().startswith("chr") else name
    return "MT" if key.upper() in ("M", "MT") else key


def reconcile_contigs(names: Iterable[str], reference: Iterable[str], *, source: str) -> dict[str, str]:
    """Map each name (from `source`) to a reference contig, or raise GenolmError listing what failed."""
    wanted = list(dict.fromkeys(names))
    refs = list(dict.fromkeys(reference))
    exact = set(refs)
    by_key: dict[str, str] = {}
    for ref in refs:
        by_key.setdefault(canonical_contig(ref), ref)
    mapping: dict[str, str] = {}
    for name in wanted:
        if name in exact:
            mapping[name] = name
        elif canonical_contig(name) in by_key:
            mapping[name] = by_key[canonical_contig(name)]
    unmatched = [name for name in wanted if name not in mapping]
    if unmatched and len(refs) == 1 and len(wanted) == 1:
        log.warning(
            "%s: contig %r not in the reference; mapping it to its only contig %r", source, wanted[0], refs[0]
        )
        return {wanted[0]: refs[0]}
    if unmatched:
        raise GenolmError(
            f"{source}: {len(unmatched)} contig(s) not found in the reference: {', '.join(unmatched[:5])}"
            f" (reference has: {', '.join(refs[:5])}{', ...' if len(refs) > 5 else ''})"
        )
    return mapping
