"""The download stage against a loopback HTTP server that mimics NCBI/Ensembl/ClinVar and injects faults."""

from __future__ import annotations

import hashlib
import http.server
import logging
import os
import random
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

from genolm.download import NotFoundError, bsd_sum, cache_paths, fetch
from genolm.errors import GenolmError
from genolm.sources import clinvar_url, download_source, ensembl_urls, ncbi_assembly_urls
from tests.conftest import shared_data

ECOLI = Path(__file__).resolve().parents[2] / "shared" / "data" / "ecoli_k12"
ASM = "GCF_000005845.2_ASM584v2"
NCBI_DIR = f"/genomes/all/GCF/000/005/845/{ASM}"
PAYLOAD = bytes(range(256)) * 1200  # 300 KiB, so a drop mid-body leaves a partial file to resume
FAST = {"backoff": 0.01, "timeout": 5.0}


class Server(http.server.ThreadingHTTPServer):
    """Serves `routes` (URL path -> bytes); `faults` is a queue consumed one per request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, bytes] = {}
        self.faults: list[str] = []
        self.range_ok = True
        self.requests: list[tuple[str, str | None]] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def hits(self, path: str) -> int:
        return sum(p == path for p, _ in self.requests)


class Handler(http.server.BaseHTTPRequestHandler):
    server: Server

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        fault = srv.faults.pop(0) if srv.faults else None
        if fault == "500":
            self.send_error(500)
            return
        if fault == "stall":
            time.sleep(0.5)
        body = srv.routes.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if m and srv.range_ok:
            start = int(m.group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        rest = body[start:]
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        # "drop": the connection dies half-way through a body whose Content-Length promised more.
        self.wfile.write(rest[: len(rest) // 2] if fault == "drop" else rest)


@pytest.fixture
def server():
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def ncbi(server):
    """The E. coli assembly laid out as in NCBI's genomes/all tree, with the parent's HTML listing."""
    if not ECOLI.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{ECOLI} missing in CI")
        pytest.skip(f"real E. coli data not available at {ECOLI}")
    for f in ECOLI.glob(f"{ASM}_*"):
        server.routes[f"{NCBI_DIR}/{f.name}"] = f.read_bytes()
    server.routes[f"{NCBI_DIR}/md5checksums.txt"] = (ECOLI / "md5checksums.txt").read_bytes()
    server.routes["/genomes/all/GCF/000/005/845/"] = (
        f'<html><body><a href="../">../</a>\n<a href="{ASM}/">{ASM}/</a> 2022-12-19 10:00 -\n</body></html>'
    ).encode()
    return server


def _md5sums() -> dict[str, str]:
    return {
        name: md5 for md5, name in (line.split() for line in (ECOLI / "MD5SUMS").read_text().splitlines())
    }


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_ncbi_genome_resolved_from_listing_and_verified_against_md5checksums(ncbi, tmp_path):
    dest = tmp_path / "out" / "genome.fa.gz"
    spec = {"ncbi": "GCF_000005845.2", "file": "genome"}
    rec = download_source(spec, dest, base_urls={"ncbi": f"{ncbi.base}/genomes/all"})
    expected = _md5sums()[f"{ASM}_genomic.fna.gz"]
    data = (ECOLI / f"{ASM}_genomic.fna.gz").read_bytes()
    assert rec["md5"] == expected == hashlib.md5(dest.read_bytes()).hexdigest()
    assert dest.read_bytes() == data
    assert rec["source"] == f"{ncbi.base}{NCBI_DIR}/{ASM}_genomic.fna.gz"
    assert rec["size"] == len(data) and rec["sha256"] == hashlib.sha256(data).hexdigest()
    assert rec["spec"] == spec and rec["from_cache"] is False and rec["path"] == str(dest)
    assert rec["fetched_at"].endswith("+00:00")
    assert [p for p, _ in ncbi.requests] == [
        "/genomes/all/GCF/000/005/845/",
        f"{NCBI_DIR}/md5checksums.txt",
        f"{NCBI_DIR}/{ASM}_genomic.fna.gz",
    ]
    assert _files(tmp_path) == [dest]


def test_ncbi_urls_with_assembly_name_skip_the_listing(ncbi):
    base = f"{ncbi.base}/genomes/all"
    urls = ncbi_assembly_urls("GCF_000005845.2", "ASM584v2", base, ("gff3", "gbff"))
    sums = _md5sums()
    assert urls == {
        "gff3": (f"{base}/GCF/000/005/845/{ASM}/{ASM}_genomic.gff.gz", sums[f"{ASM}_genomic.gff.gz"]),
        "gbff": (f"{base}/GCF/000/005/845/{ASM}/{ASM}_genomic.gbff.gz", sums[f"{ASM}_genomic.gbff.gz"]),
    }
    assert [p for p, _ in ncbi.requests] == [f"{NCBI_DIR}/md5checksums.txt"]
    with pytest.raises(GenolmError, match=r"md5checksums.txt: no entry for .*_genomic.gtf.gz"):
        ncbi_assembly_urls("GCF_000005845.2", "ASM584v2", base, ("gtf",))


@pytest.mark.parametrize("acc", ["GCF_5845.2", "GCX_000005845.2", "GCF_000005845", "GCF_000005845.2x"])
def test_ncbi_accession_format_is_validated(acc):
    with pytest.raises(GenolmError, match=re.escape(repr(acc)) + ".*GCF_ or GCA_"):
        ncbi_assembly_urls(acc, base_url="http://127.0.0.1:9")


def test_ncbi_ambiguous_or_missing_listing_entry(server):
    parent = "/all/GCA/000/001/405/"
    server.routes[parent] = b'<a href="GCA_000001405.15_GRCh38/">x</a><a href="GCA_000001405.15_alt/">y</a>'
    with pytest.raises(
        GenolmError, match=r"one folder .*found GCA_000001405.15_GRCh38, GCA_000001405.15_alt"
    ):
        ncbi_assembly_urls("GCA_000001405.15", base_url=f"{server.base}/all")
    server.routes[parent] = b'<a href="GCA_000001405.14_GRCh38/">x</a>'
    with pytest.raises(GenolmError, match=r"found none"):
        ncbi_assembly_urls("GCA_000001405.15", base_url=f"{server.base}/all")


def test_5xx_is_retried_until_success(server, tmp_path):
    server.routes["/f.bin"] = PAYLOAD
    server.faults = ["500", "500"]
    rec = fetch(f"{server.base}/f.bin", tmp_path / "f.bin", retries=2, **FAST)
    assert server.hits("/f.bin") == 3
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert rec["sha256"] == hashlib.sha256(PAYLOAD).hexdigest()


def test_read_timeout_is_retried(server, tmp_path):
    server.routes["/f.bin"] = PAYLOAD
    server.faults = ["stall"]
    fetch(f"{server.base}/f.bin", tmp_path / "f.bin", retries=1, backoff=0.01, timeout=0.2)
    assert server.hits("/f.bin") == 2 and (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_dropped_connection_resumes_with_range(server, tmp_path):
    server.routes["/f.bin"] = PAYLOAD
    server.faults = ["drop"]
    fetch(f"{server.base}/f.bin", tmp_path / "f.bin", md5=hashlib.md5(PAYLOAD).hexdigest(), **FAST)
    (first, r1), (second, r2) = server.requests
    assert r1 is None
    resumed_at = int(re.fullmatch(r"bytes=(\d+)-", r2).group(1))
    assert 0 < resumed_at <= len(PAYLOAD) // 2
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert _files(tmp_path) == [tmp_path / "f.bin"]


def test_truncated_body_detected_and_restarted_when_server_ignores_range(server, tmp_path):
    server.routes["/f.bin"] = PAYLOAD
    server.range_ok = False
    server.faults = ["drop"]
    fetch(f"{server.base}/f.bin", tmp_path / "f.bin", **FAST)
    assert len(server.requests) == 2 and server.requests[1][1] is not None  # asked to resume, got 200
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_persistently_truncated_body_fails_cleanly(server, tmp_path):
    server.routes["/f.bin"] = PAYLOAD
    server.range_ok = False
    server.faults = ["drop"] * 3
    with pytest.raises(GenolmError, match=r"after 3 attempts") as err:
        fetch(f"{server.base}/f.bin", tmp_path / "f.bin", retries=2, **FAST)
    assert "\n" not in str(err.value)
    assert _files(tmp_path) == []


def test_permanent_failure_gives_one_line_error_and_leaves_nothing(server, tmp_path):
    url = f"{server.base}/f.bin"
    server.routes["/f.bin"] = PAYLOAD
    server.faults = ["500"] * 10
    with pytest.raises(GenolmError) as err:
        fetch(url, tmp_path / "out" / "f.bin", retries=3, **FAST)
    msg = str(err.value)
    assert "\n" not in msg and url in msg and "500" in msg and "4 attempts" in msg
    assert server.hits("/f.bin") == 4
    assert _files(tmp_path) == []


def test_connection_refused_is_retried_then_reported(tmp_path):
    srv = Server()  # bound to a free port, then closed: nothing listens there
    url = f"{srv.base}/f.bin"
    srv.server_close()
    with pytest.raises(GenolmError, match=re.escape(url) + r": download failed after 2 attempts"):
        fetch(url, tmp_path / "f.bin", retries=1, **FAST)
    assert _files(tmp_path) == []


def test_404_is_not_retried(server, tmp_path):
    with pytest.raises(GenolmError, match=r"/missing.gz: HTTP 404") as err:
        fetch(f"{server.base}/missing.gz", tmp_path / "x.gz", **FAST)
    assert "\n" not in str(err.value)
    assert server.hits("/missing.gz") == 1 and _files(tmp_path) == []


def test_checksum_mismatch_leaves_nothing_and_caches_nothing(server, tmp_path):
    url = f"{server.base}/f.bin"
    server.routes["/f.bin"] = PAYLOAD
    cache, out = tmp_path / "cache", tmp_path / "out"
    got = hashlib.md5(PAYLOAD).hexdigest()
    with pytest.raises(GenolmError, match=rf"{re.escape(url)}: md5 mismatch: expected 0{{32}}, got {got}"):
        fetch(url, out / "f.bin", md5="0" * 32, cache_dir=cache, **FAST)
    with pytest.raises(GenolmError, match=r"sha256 mismatch"):
        fetch(url, out / "f.bin", sha256="f" * 64, **FAST)
    assert _files(tmp_path) == []


def test_cache_reuse_and_corrupt_entry_is_redownloaded(server, tmp_path):
    url = f"{server.base}/f.bin"
    server.routes["/f.bin"] = PAYLOAD
    cache = tmp_path / "cache"
    first = fetch(url, tmp_path / "a.bin", cache_dir=cache, **FAST)
    cached, sidecar = cache_paths(cache, url)
    assert first["from_cache"] is False and cached.read_bytes() == PAYLOAD and sidecar.is_file()
    assert cached.parent.name == hashlib.sha256(url.encode()).hexdigest()[:16] and cached.name == "f.bin"

    again = fetch(url, tmp_path / "b.bin", cache_dir=cache, **FAST)
    assert again["from_cache"] is True and server.hits("/f.bin") == 1
    assert again["fetched_at"] == first["fetched_at"] and again["sha256"] == first["sha256"]
    assert (tmp_path / "b.bin").read_bytes() == PAYLOAD

    cached.unlink()  # break the hard links, then corrupt the cached copy alone
    cached.write_bytes(PAYLOAD[:-1] + b"X")
    healed = fetch(url, tmp_path / "c.bin", cache_dir=cache, **FAST)
    assert healed["from_cache"] is False and server.hits("/f.bin") == 2
    assert (tmp_path / "c.bin").read_bytes() == PAYLOAD and cached.read_bytes() == PAYLOAD


def test_cached_copy_not_matching_a_given_checksum_is_refetched(server, tmp_path):
    url = f"{server.base}/f.bin"
    server.routes["/f.bin"] = b"old"
    fetch(url, tmp_path / "a.bin", cache_dir=tmp_path / "cache", **FAST)
    server.routes["/f.bin"] = PAYLOAD
    rec = fetch(
        url, tmp_path / "b.bin", md5=hashlib.md5(PAYLOAD).hexdigest(), cache_dir=tmp_path / "cache", **FAST
    )
    assert rec["from_cache"] is False and (tmp_path / "b.bin").read_bytes() == PAYLOAD


def test_offline_uses_only_the_cache(server, tmp_path):
    url = f"{server.base}/f.bin"
    server.routes["/f.bin"] = PAYLOAD
    cache = tmp_path / "cache"
    with pytest.raises(GenolmError, match=rf"{re.escape(url)}: offline mode and not in the cache"):
        fetch(url, tmp_path / "x.bin", cache_dir=cache, offline=True)
    with pytest.raises(GenolmError, match=r"offline mode needs a cache_dir"):
        fetch(url, tmp_path / "x.bin", offline=True)
    assert server.requests == [] and not (tmp_path / "x.bin").exists()
    fetch(url, tmp_path / "a.bin", cache_dir=cache, **FAST)
    rec = fetch(url, tmp_path / "b.bin", cache_dir=cache, offline=True)
    assert rec["from_cache"] is True and (tmp_path / "b.bin").read_bytes() == PAYLOAD
    assert server.hits("/f.bin") == 1


def test_offline_ncbi_resolution_works_from_a_warm_cache(ncbi, tmp_path):
    spec = {"ncbi": "GCF_000005845.2", "file": "gff3"}
    kw = {"cache_dir": tmp_path / "cache", "base_urls": {"ncbi": f"{ncbi.base}/genomes/all"}}
    download_source(spec, tmp_path / "a.gff.gz", **kw)
    n = len(ncbi.requests)
    rec = download_source(spec, tmp_path / "b.gff.gz", offline=True, **kw)
    assert len(ncbi.requests) == n and rec["from_cache"] is True
    assert rec["md5"] == _md5sums()[f"{ASM}_genomic.gff.gz"]


def test_local_path_and_file_url(tmp_path, monkeypatch):
    src = tmp_path / "in" / "x.fa"
    src.parent.mkdir()
    src.write_bytes(b">a\nACGT\n")
    md5 = hashlib.md5(b">a\nACGT\n").hexdigest()
    monkeypatch.chdir(tmp_path)
    rec = download_source({"path": "in/x.fa", "md5": md5}, tmp_path / "a.fa", offline=True)
    assert (
        rec["md5"] == md5 and rec["source"] == "in/x.fa" and (tmp_path / "a.fa").read_bytes() == b">a\nACGT\n"
    )
    rec = fetch(src.as_uri(), tmp_path / "b.fa", md5=md5)
    assert rec["size"] == 8 and (tmp_path / "b.fa").read_bytes() == b">a\nACGT\n"
    with pytest.raises(GenolmError, match=r"md5 mismatch"):
        fetch(str(src), tmp_path / "c.fa", md5="0" * 32)
    with pytest.raises(GenolmError, match=r"in/nope.fa: no such file"):
        fetch("in/nope.fa", tmp_path / "d.fa")
    assert not (tmp_path / "c.fa").exists() and not (tmp_path / "d.fa").exists()


def test_bad_scheme_names_url_and_allowed_schemes(tmp_path):
    with pytest.raises(
        GenolmError, match=r"s3://bucket/x.fa: unsupported URL scheme 's3'; .*http, https, ftp, file"
    ):
        fetch("s3://bucket/x.fa", tmp_path / "x.fa")


def test_bsd_sum_matches_coreutils_sum_r(tmp_path):
    # Reference values from GNU coreutils `sum -r`.
    (tmp_path / "h").write_bytes(b"hello world\n")
    (tmp_path / "e").write_bytes(b"")
    assert bsd_sum(tmp_path / "h") == (3762, 1)
    assert bsd_sum(tmp_path / "e") == (0, 0)
    if ECOLI.is_dir():
        assert bsd_sum(ECOLI / f"{ASM}_genomic.fna.gz") == (50223, 1392)


def test_ensembl_download_verified_with_bsd_sum(server, tmp_path):
    base = f"{server.base}/pub"
    root = "/pub/release-112"
    server.routes[f"{root}/gtf/homo_sapiens/Homo_sapiens.GRCh38.112.gtf.gz"] = b"hello world\n"
    server.routes[f"{root}/gtf/homo_sapiens/CHECKSUMS"] = (
        b"03762 1 Homo_sapiens.GRCh38.112.gtf.gz\n1 1 README\n"
    )
    server.routes[f"{root}/fasta/homo_sapiens/dna/CHECKSUMS"] = (
        b"00001 1 Homo_sapiens.GRCh38.dna.toplevel.fa.gz\n"
    )
    urls = ensembl_urls("homo_sapiens", 112, "GRCh38", base)
    assert urls == {
        "genome": (
            f"{base}/release-112/fasta/homo_sapiens/dna/Homo_sapiens.GRCh38.dna.toplevel.fa.gz",
            "1 1",
        ),
        "gff3": (f"{base}/release-112/gff3/homo_sapiens/Homo_sapiens.GRCh38.112.gff3.gz", None),
        "gtf": (f"{base}/release-112/gtf/homo_sapiens/Homo_sapiens.GRCh38.112.gtf.gz", "3762 1"),
    }
    ens = {"species": "homo_sapiens", "release": 112, "assembly": "GRCh38"}
    rec = download_source({"ensembl": ens, "file": "gtf"}, tmp_path / "a.gtf.gz", base_urls={"ensembl": base})
    assert rec["bsdsum"] == "3762 1" and (tmp_path / "a.gtf.gz").read_bytes() == b"hello world\n"
    server.routes[f"{root}/fasta/homo_sapiens/dna/Homo_sapiens.GRCh38.dna.toplevel.fa.gz"] = b"hello world\n"
    with pytest.raises(GenolmError, match=r"bsdsum mismatch: expected 1 1, got 3762 1"):
        download_source({"ensembl": ens, "file": "genome"}, tmp_path / "g.fa.gz", base_urls={"ensembl": base})
    assert not (tmp_path / "g.fa.gz").exists()


def test_clinvar_latest_and_archive_urls_with_md5(server, tmp_path):
    base = f"{server.base}/clinvar"
    vcf = b"##fileformat=VCFv4.1\n"
    md5 = hashlib.md5(vcf).hexdigest()
    server.routes["/clinvar/vcf_GRCh38/clinvar.vcf.gz"] = vcf
    server.routes["/clinvar/vcf_GRCh38/clinvar.vcf.gz.md5"] = f"{md5}  clinvar.vcf.gz\n".encode()
    assert clinvar_url("GRCh38", "latest", base) == (f"{base}/vcf_GRCh38/clinvar.vcf.gz", md5)
    archive = f"{base}/vcf_GRCh37/archive_2.0/2022/clinvar_20220525.vcf.gz"
    assert clinvar_url("GRCh37", "20220525", base) == (archive, None)  # no .md5 beside it
    rec = download_source(
        {"clinvar": {"assembly": "GRCh38"}}, tmp_path / "c.vcf.gz", base_urls={"clinvar": base}
    )
    assert rec["md5"] == md5 and (tmp_path / "c.vcf.gz").read_bytes() == vcf
    with pytest.raises(
        GenolmError, match=r"clinvar release '2022-05-25': expected 'latest' or a date YYYYMMDD"
    ):
        clinvar_url(release="2022-05-25", base_url=base)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"md5": "x"}, r"expected exactly one of path, url, ncbi, ensembl, clinvar, got none"),
        ({"path": "a", "url": "b"}, r"exactly one of .*got \['path', 'url'\]"),
        (
            {"url": "http://x/y", "sha1": "z"},
            r"key 'sha1': not allowed with 'url'; allowed: md5, sha256, url",
        ),
        (
            {"ncbi": "GCF_000005845.2", "file": "vcf"},
            r"NCBI file 'vcf': expected one of genome, gff3, gbff, gtf",
        ),
        ({"ensembl": {"species": "homo_sapiens", "release": 112}}, r"key 'ensembl': missing assembly"),
        ({"clinvar": {"build": "hg38"}}, r"key clinvar.build: not allowed; allowed: assembly, release"),
    ],
)
def test_bad_specs_name_the_key(spec, message, tmp_path):
    with pytest.raises(GenolmError, match=message):
        download_source(spec, tmp_path / "x", base_urls={"ncbi": "http://127.0.0.1:9"})
    assert _files(tmp_path) == []


def test_unknown_base_url_key(tmp_path):
    with pytest.raises(GenolmError, match=r"base_urls key 'ucsc': expected one of ncbi, ensembl, clinvar"):
        download_source({"path": "x"}, tmp_path / "x", base_urls={"ucsc": "http://127.0.0.1:9"})


def test_progress_is_logged(server, tmp_path, caplog):
    server.routes["/f.bin"] = PAYLOAD * 8
    with caplog.at_level(logging.INFO, logger="genolm.download"):
        fetch(f"{server.base}/f.bin", tmp_path / "f.bin", **FAST)
    lines = [r.getMessage() for r in caplog.records if "/f.bin: " in r.getMessage()]
    assert lines and lines[-1].startswith(f"{server.base}/f.bin: 100% ({len(PAYLOAD) * 8} bytes")


# ---------------------------------------------------------------- FTP, against a real pyftpdlib server


class _FtpHandler(FTPHandler):
    """pyftpdlib's handler plus a fault queue: "drop" sends only half of what is left, then closes
    the data connection (the client sees a short body); "norest" answers REST with 502."""

    faults: list[str]
    rests: list[int]

    def ftp_REST(self, line):
        if self.faults and self.faults[0] == "norest":
            self.faults.pop(0)
            self.respond("502 Command not implemented.")
            return
        self.rests.append(int(line))
        super().ftp_REST(line)

    def ftp_RETR(self, file):
        if self.faults and self.faults[0] == "drop":
            self.faults.pop(0)
            data = Path(file).read_bytes()
            rest = self._restart_position
            cut = Path(self.fs.root).parent / "truncated"  # outside the served tree
            cut.write_bytes(data[: rest + (len(data) - rest) // 2])
            file = str(cut)
        return super().ftp_RETR(file)


class _SymlinkFS(AbstractedFS):
    """Lets the served tree link to ../shared/data (read-only) instead of copying it."""

    def validpath(self, path):
        return True


class FtpServer(threading.Thread):
    """An anonymous, read-only pyftpdlib server on 127.0.0.1 serving `root`, polled in this thread."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        authorizer = DummyAuthorizer()
        authorizer.add_anonymous(str(root), perm="elr")
        handler = type("Handler", (_FtpHandler,), {"faults": [], "rests": []})
        handler.authorizer, handler.abstracted_fs = authorizer, _SymlinkFS
        self.handler = handler
        self.ftpd = FTPServer(("127.0.0.1", 0), handler)
        # serve_forever logs "starting" on every poll; keep those lines off the root logger, whose
        # handlers earlier in-process run_step calls may have left on a closed capture stream.
        logging.getLogger("pyftpdlib").propagate = False
        self.stopping = threading.Event()

    @property
    def base(self) -> str:
        return f"ftp://127.0.0.1:{self.ftpd.address[1]}"

    def run(self) -> None:
        while not self.stopping.is_set():
            self.ftpd.serve_forever(timeout=0.01, blocking=False, handle_exit=False)
        self.ftpd.close_all()


@pytest.fixture
def ftp(tmp_path_factory):
    """E. coli's assembly folder linked into NCBI's genomes/all layout, plus a small payload file."""
    root = tmp_path_factory.mktemp("ftp") / "root"
    parent = root / "genomes" / "all" / "GCF" / "000" / "005" / "845"
    parent.mkdir(parents=True)
    (parent / ASM).symlink_to(shared_data("ecoli_k12"), target_is_directory=True)
    (root / "payload.bin").write_bytes(PAYLOAD)
    srv = FtpServer(root)
    srv.start()
    yield srv
    srv.stopping.set()
    srv.join(5)


def test_ftp_ncbi_source_verified_against_md5checksums(ftp, tmp_path):
    """The NCBI source over ftp://: folder found in the FTP LIST, md5checksums.txt read, file verified."""
    dest = tmp_path / "out" / "annotation.gff3.gz"
    spec = {"ncbi": "GCF_000005845.2", "file": "gff3"}
    rec = download_source(spec, dest, base_urls={"ncbi": f"{ftp.base}/genomes/all"})
    name = f"{ASM}_genomic.gff.gz"
    assert rec["source"] == f"{ftp.base}{NCBI_DIR}/{name}"
    assert rec["md5"] == _md5sums()[name] == hashlib.md5(dest.read_bytes()).hexdigest()
    assert dest.read_bytes() == (ECOLI / name).read_bytes()
    assert ftp.handler.rests == []  # nothing to resume


def test_ftp_url_source_with_checksum(ftp, tmp_path):
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    rec = download_source({"url": f"{ftp.base}/payload.bin", "sha256": sha}, tmp_path / "p.bin")
    assert rec["sha256"] == sha and (tmp_path / "p.bin").read_bytes() == PAYLOAD
    with pytest.raises(GenolmError, match=r"payload.bin: md5 mismatch: expected 0+, got "):
        download_source({"url": f"{ftp.base}/payload.bin", "md5": "0" * 32}, tmp_path / "q.bin")
    assert not (tmp_path / "q.bin").exists()


def test_ftp_dropped_transfer_resumes_with_rest(ftp, tmp_path):
    ftp.handler.faults[:] = ["drop", "drop"]
    rec = fetch(f"{ftp.base}/payload.bin", tmp_path / "p.bin", md5=hashlib.md5(PAYLOAD).hexdigest(), **FAST)
    assert (tmp_path / "p.bin").read_bytes() == PAYLOAD and rec["size"] == len(PAYLOAD)
    half = len(PAYLOAD) // 2
    assert ftp.handler.rests == [
        half,
        half + (len(PAYLOAD) - half) // 2,
    ]  # each retry resumes where it stopped


def test_ftp_server_without_rest_restarts_from_zero(ftp, tmp_path):
    ftp.handler.faults[:] = ["drop", "norest"]
    fetch(f"{ftp.base}/payload.bin", tmp_path / "p.bin", sha256=hashlib.sha256(PAYLOAD).hexdigest(), **FAST)
    assert (tmp_path / "p.bin").read_bytes() == PAYLOAD and ftp.handler.rests == []


def test_ftp_persistent_drops_fail_cleanly_and_missing_file_is_not_retried(ftp, tmp_path):
    ftp.handler.faults[:] = ["drop"] * 3
    out = tmp_path / "out"
    with pytest.raises(
        GenolmError, match=r"payload.bin: download failed after 3 attempts; last error: .*body ended"
    ):
        fetch(f"{ftp.base}/payload.bin", out / "p.bin", retries=2, cache_dir=tmp_path / "cache", **FAST)
    assert _files(out) == [] and _files(tmp_path / "cache") == []
    with pytest.raises(NotFoundError, match=r"nope.bin: 550"):
        fetch(f"{ftp.base}/nope.bin", out / "n.bin", retries=3, **FAST)
    assert ftp.handler.faults == []


def test_bsd_sum_agrees_with_the_sum_binary(tmp_path):
    """Against coreutils' own `sum -r` (BSD algorithm, 1 KiB blocks) on odd sizes and a real file."""
    if shutil.which("sum") is None:
        pytest.skip("no `sum` binary on this machine")
    rng = random.Random(5)
    paths = []
    for size in (1, 1023, 1025, 70_001):
        paths.append(tmp_path / f"r{size}")
        paths[-1].write_bytes(rng.randbytes(size))
    paths.append(shared_data("ecoli_k12") / f"{ASM}_genomic.gff.gz")
    for path in paths:
        out = subprocess.run(["sum", "-r", str(path)], capture_output=True, text=True, check=True).stdout
        checksum, blocks = out.split()[:2]
        assert bsd_sum(path) == (int(checksum), int(blocks)), path.name
