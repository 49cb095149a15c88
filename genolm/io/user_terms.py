"""Name inputs as the user configured them, not as the run's copies under results/<run>/data/.

Every stage reads `results/<run>/data/genome` and friends, but a user knows the path, URL or accession
they wrote in the config; errors and summaries should say that.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

from genolm.errors import GenolmError


def display_name(spec: Mapping | None) -> str:
    """One short phrase for a `sources` entry: its path or URL as written, else accession/release words.

    Args:
        spec: one entry of the config's `sources` (path, url, ncbi, ensembl, clinvar or simulated).

    Returns:
        e.g. 'data/my.gff3', 'https://.../x.vcf.gz', 'NCBI GCF_000005845.2 gff3', 'simulated annotation';
        '' for an empty spec.
    """
    spec = dict(spec or {})
    if "path" in spec or "url" in spec:
        return str(spec.get("path") or spec.get("url"))
    if "ncbi" in spec:
        return f"NCBI {spec['ncbi']} {spec.get('file', 'genome')}"
    if "ensembl" in spec:
        ens = dict(spec["ensembl"] or {})
        return (
            f"Ensembl {ens.get('species')} release {ens.get('release')} {ens.get('assembly')} "
            f"{spec.get('file', 'genome')}"
        )
    if "clinvar" in spec:
        cv = dict(spec["clinvar"] or {})
        return f"ClinVar {cv.get('assembly', 'GRCh38')} {cv.get('release', 'latest')}"
    if "simulated" in spec:
        return f"simulated {spec['simulated']}"
    return ""


def display_names(specs: Mapping[str, Mapping]) -> dict[str, str]:
    """`display_name` of each configured source, keyed like the config (genome, annotation, variants)."""
    return {key: display_name(spec) for key, spec in specs.items()}


def source_names(sources: Mapping[str, str] | None, **paths: str | os.PathLike | None) -> dict[str, str]:
    """Display name per input: the configured one from `sources`, else the path (None paths left out)."""
    given = sources or {}
    return {key: given.get(key) or os.fspath(path) for key, path in paths.items() if path is not None}


@contextlib.contextmanager
def in_user_terms(names: Mapping[str | os.PathLike, str]) -> Iterator[None]:
    """Re-raise a GenolmError with each run copy's path (key) replaced by the user's name for it.

    Raises:
        GenolmError: the same error, worded with the configured names.
    """
    try:
        yield
    except GenolmError as err:
        message = str(err)
        renamed = message
        for path, name in sorted(names.items(), key=lambda item: -len(os.fspath(item[0]))):
            if name and os.fspath(path) != name:
                renamed = renamed.replace(os.fspath(path), name)
        if renamed == message:
            raise
        raise GenolmError(renamed) from err
