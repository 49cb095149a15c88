"""Turn a config input spec (path, URL, NCBI assembly, Ensembl release, ClinVar) into a verified download.

URLs follow each archive's published layout; expected checksums come from the checksum file the
archive publishes beside the data, fetched (and cached) through `genolm.download`.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from genolm.download import NotFoundError, fetch, read_text
from genolm.errors import GenolmError

log = logging.getLogger(__name__)

NCBI_BASE = "https://ftp.ncbi.nlm.nih.gov/genomes/all"
ENSEMBL_BASE = "https://ftp.ensembl.org/pub"
CLINVAR_BASE = "https://ftp.ncbi.nlm.nih.gov/pub/clinvar"

NCBI_SUFFIXES = {
    "genome": "_genomic.fna.gz",
    "gff3": "_genomic.gff.gz",
    "gbff": "_genomic.gbff.gz",
    "gtf": "_genomic.gtf.gz",
}
ENSEMBL_KINDS = ("genome", "gff3", "gtf")

# Allowed keys of each spec form, keyed by the key that names the form.
SPEC_KEYS = {
    "path": {"path", "md5", "sha256"},
    "url": {"url", "md5", "sha256"},
    "ncbi": {"ncbi", "assembly_name", "file"},
    "ensembl": {"ensembl", "file"},
    "clinvar": {"clinvar"},
}
_ACCESSION = re.compile(r"(GC[AF])_(\d{3})(\d{3})(\d{3})\.\d+")


def download_source(
    spec: dict,
    dest: str | os.PathLike,
    *,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
    base_urls: dict[str, str] | None = None,
) -> dict:
    """Resolve `spec`, fetch it to `dest` verified, and return the provenance record with "spec" added."""
    url, checksums = resolve_source(spec, base_urls=base_urls, cache_dir=cache_dir, offline=offline)
    record = fetch(url, Path(dest), cache_dir=cache_dir, offline=offline, **checksums)
    return {**record, "spec": spec}


def resolve_source(
    spec: dict,
    *,
    base_urls: dict[str, str] | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
) -> tuple[str, dict[str, str]]:
    """(URL or path, expected checksums as `fetch` keywords) for one input spec."""
    if not isinstance(spec, dict):
        raise GenolmError(f"input spec {spec!r}: expected a mapping with one of {', '.join(SPEC_KEYS)}")
    forms = [k for k in SPEC_KEYS if k in spec]
    if len(forms) != 1:
        raise GenolmError(
            f"input spec {spec!r}: expected exactly one of {', '.join(SPEC_KEYS)}, got {forms or 'none'}"
        )
    form = forms[0]
    for key in spec:
        if key not in SPEC_KEYS[form]:
            allowed = ", ".join(sorted(SPEC_KEYS[form]))
            raise GenolmError(f"input spec key {key!r}: not allowed with {form!r}; allowed: {allowed}")
    bases = _bases(base_urls)
    text = {"cache_dir": cache_dir, "offline": offline}
    if form in ("path", "url"):
        return str(spec[form]), {k: spec[k] for k in ("md5", "sha256") if spec.get(k)}
    if form == "ncbi":
        kind = spec.get("file", "genome")
        urls = ncbi_assembly_urls(spec["ncbi"], spec.get("assembly_name"), bases["ncbi"], (kind,), **text)
        url, md5 = urls[kind]
        return url, {"md5": md5} if md5 else {}
    if form == "ensembl":
        ens = _sub_spec(spec["ensembl"], "ensembl", required={"species", "release", "assembly"})
        kind = spec.get("file", "genome")
        url, bsd = ensembl_urls(
            ens["species"], ens["release"], ens["assembly"], bases["ensembl"], (kind,), **text
        )[kind]
        return url, {"bsdsum": bsd} if bsd else {}
    cv = _sub_spec(spec["clinvar"] or {}, "clinvar", optional={"assembly", "release"})
    url, md5 = clinvar_url(
        cv.get("assembly", "GRCh38"), str(cv.get("release", "latest")), bases["clinvar"], **text
    )
    return url, {"md5": md5} if md5 else {}


def ncbi_assembly_urls(
    accession: str,
    assembly_name: str | None = None,
    base_url: str = NCBI_BASE,
    kinds: tuple[str, ...] = ("genome", "gff3", "gbff"),
    *,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
) -> dict[str, tuple[str, str | None]]:
    """kind -> (URL, md5 from the assembly's md5checksums.txt) under NCBI's genomes/all tree.

    Without `assembly_name` the assembly folder is found in the HTML listing of its parent.
    """
    m = _ACCESSION.fullmatch(accession or "")
    if not m:
        raise GenolmError(f"NCBI accession {accession!r}: expected GCF_ or GCA_, 9 digits and .version")
    for kind in kinds:
        if kind not in NCBI_SUFFIXES:
            raise GenolmError(f"NCBI file {kind!r}: expected one of {', '.join(NCBI_SUFFIXES)}")
    parent = f"{base_url.rstrip('/')}/{m.group(1)}/{m.group(2)}/{m.group(3)}/{m.group(4)}/"
    text = {"cache_dir": cache_dir, "offline": offline}
    if assembly_name is None:
        folder = _assembly_folder(read_text(parent, **text), accession, parent)
    elif re.fullmatch(r"[^/\s]+", assembly_name):
        folder = f"{accession}_{assembly_name}"
    else:
        raise GenolmError(f"NCBI assembly_name {assembly_name!r}: expected a name without '/' or spaces")
    directory = parent + folder
    md5s = _md5checksums(read_text(f"{directory}/md5checksums.txt", **text))
    out = {}
    for kind in kinds:
        name = folder + NCBI_SUFFIXES[kind]
        if name not in md5s:
            raise GenolmError(f"{directory}/md5checksums.txt: no entry for {name} (file {kind!r})")
        out[kind] = (f"{directory}/{name}", md5s[name])
    return out


def ensembl_urls(
    species: str,
    release: int,
    assembly: str,
    base_url: str = ENSEMBL_BASE,
    kinds: tuple[str, ...] = ENSEMBL_KINDS,
    *,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
) -> dict[str, tuple[str, str | None]]:
    """kind -> (URL, BSD sum "<sum> <blocks>" from the CHECKSUMS beside it, or None if there is none)."""
    if not re.fullmatch(r"[a-z0-9_]+", str(species)):
        raise GenolmError(f"ensembl species {species!r}: expected a lower-case name like 'homo_sapiens'")
    if not str(release).isdigit():
        raise GenolmError(f"ensembl release {release!r}: expected an integer like 112")
    if not re.fullmatch(r"[^/\s]+", str(assembly)):
        raise GenolmError(f"ensembl assembly {assembly!r}: expected a name like 'GRCh38'")
    cap = species[0].upper() + species[1:]
    root = f"{base_url.rstrip('/')}/release-{release}"
    layout = {
        "genome": (f"{root}/fasta/{species}/dna", f"{cap}.{assembly}.dna.toplevel.fa.gz"),
        "gff3": (f"{root}/gff3/{species}", f"{cap}.{assembly}.{release}.gff3.gz"),
        "gtf": (f"{root}/gtf/{species}", f"{cap}.{assembly}.{release}.gtf.gz"),
    }
    out = {}
    for kind in kinds:
        if kind not in layout:
            raise GenolmError(f"ensembl file {kind!r}: expected one of {', '.join(ENSEMBL_KINDS)}")
        directory, name = layout[kind]
        try:
            sums = _ensembl_checksums(
                read_text(f"{directory}/CHECKSUMS", cache_dir=cache_dir, offline=offline)
            )
        except NotFoundError:
            log.warning("%s/CHECKSUMS not found; %s will not be verified", directory, name)
            out[kind] = (f"{directory}/{name}", None)
            continue
        if name not in sums:
            raise GenolmError(f"{directory}/CHECKSUMS: no entry for {name} (check species/assembly/release)")
        out[kind] = (f"{directory}/{name}", sums[name])
    return out


def clinvar_url(
    assembly: str = "GRCh38",
    release: str = "latest",
    base_url: str = CLINVAR_BASE,
    *,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
) -> tuple[str, str | None]:
    """(URL, md5 from the `.md5` file beside it, or None if there is none) of a ClinVar VCF.

    `release` is "latest" or a date YYYYMMDD from ClinVar's archive_2.0. With a cache, "latest"
    stays what it was when first fetched; clear the cache entry to refresh it.
    """
    if assembly not in ("GRCh37", "GRCh38"):
        raise GenolmError(f"clinvar assembly {assembly!r}: expected GRCh37 or GRCh38")
    root = f"{base_url.rstrip('/')}/vcf_{assembly}"
    if release == "latest":
        url = f"{root}/clinvar.vcf.gz"
    elif re.fullmatch(r"(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])", release):
        url = f"{root}/archive_2.0/{release[:4]}/clinvar_{release}.vcf.gz"
    else:
        raise GenolmError(f"clinvar release {release!r}: expected 'latest' or a date YYYYMMDD")
    try:
        text = read_text(url + ".md5", cache_dir=cache_dir, offline=offline)
    except NotFoundError:
        log.warning("%s.md5 not found; %s will not be verified", url, url)
        return url, None
    m = re.match(r"\s*([0-9a-fA-F]{32})\b", text)
    if not m:
        raise GenolmError(f"{url}.md5: expected '<md5>  <file>', got {text[:60]!r}")
    return url, m.group(1).lower()


def _assembly_folder(listing: str, accession: str, parent: str) -> str:
    """The one `<accession>_<name>` entry in a directory listing (HTML or FTP text)."""
    names = sorted(set(re.findall(rf"{re.escape(accession)}_[^/\"'<>\s]+", listing)))
    if len(names) != 1:
        found = ", ".join(names) or "none"
        raise GenolmError(f"{parent}: expected one folder starting with {accession}_, found {found}")
    return names[0]


def _md5checksums(text: str) -> dict[str, str]:
    """NCBI md5checksums.txt lines `<md5>  ./<file>` -> {file: md5}."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and re.fullmatch(r"[0-9a-fA-F]{32}", parts[0]):
            out[parts[1].removeprefix("./")] = parts[0].lower()
    return out


def _ensembl_checksums(text: str) -> dict[str, str]:
    """Ensembl CHECKSUMS lines `<sum> <blocks> <file>` -> {file: "<sum> <blocks>"}."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            out[parts[2]] = f"{int(parts[0])} {int(parts[1])}"
    return out


def _bases(base_urls: dict[str, str] | None) -> dict[str, str]:
    bases = {"ncbi": NCBI_BASE, "ensembl": ENSEMBL_BASE, "clinvar": CLINVAR_BASE}
    for key, value in (base_urls or {}).items():
        if key not in bases:
            raise GenolmError(f"base_urls key {key!r}: expected one of {', '.join(bases)}")
        bases[key] = value
    return bases


def _sub_spec(
    sub: object, name: str, required: set[str] = frozenset(), optional: set[str] = frozenset()
) -> dict:
    """Check the nested mapping of an ensembl/clinvar spec for missing and unknown keys."""
    if not isinstance(sub, dict):
        raise GenolmError(f"input spec key {name!r}: expected a mapping, got {sub!r}")
    allowed = required | optional
    for key in sub:
        if key not in allowed:
            raise GenolmError(
                f"input spec key {name}.{key}: not allowed; allowed: {', '.join(sorted(allowed))}"
            )
    missing = sorted(required - set(sub))
    if missing:
        raise GenolmError(f"input spec key {name!r}: missing {', '.join(missing)}")
    return sub
