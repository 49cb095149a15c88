"""Fetch one remote or local file to a path, verified and atomically, with retries, resume and a cache.

This is the transport layer only; `genolm.sources` turns config specs (NCBI, Ensembl, ClinVar)
into URLs and checksums and calls `fetch`.
"""

from __future__ import annotations

import errno
import ftplib
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import requests
import urllib3

from genolm.atomic import atomic_path, write_json
from genolm.errors import GenolmError

log = logging.getLogger(__name__)

ALLOWED_SCHEMES = ("http", "https", "ftp", "file")
CHUNK = 1 << 20
_HASH_CHUNK = 1 << 22
_MAX_SLEEP = 60.0
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


class NotFoundError(GenolmError):
    """The server answered 404 (or the local file is absent); callers may treat that as 'no such file'."""


class _Transient(Exception):
    """A failure worth retrying: 5xx, short body, dropped connection."""


_RETRYABLE = (
    _Transient,
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    urllib.error.URLError,
    ConnectionError,
    TimeoutError,
)


def _disk_errors_in_one_line(func):
    """Out-of-space, quota and read-only errors while writing become one GenolmError naming the target."""

    @functools.wraps(func)
    def wrapper(url: str, dest: str | os.PathLike, **kwargs):
        try:
            return func(url, dest, **kwargs)
        except OSError as exc:
            if exc.errno not in _DISK_ERRNOS:
                raise
            where = kwargs.get("cache_dir") or Path(dest).parent
            raise GenolmError(
                f"{url}: cannot write {dest} ({os.strerror(exc.errno)}); free space in {where} and rerun"
            ) from exc

    return wrapper


@_disk_errors_in_one_line
def fetch(
    url: str,
    dest: str | os.PathLike,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    bsdsum: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
    retries: int = 5,
    timeout: float = 60.0,
    backoff: float = 1.0,
) -> dict:
    """Download `url` (http(s)/ftp/file URL or local path) to `dest` and return its provenance record.

    `md5`/`sha256` are hex digests; `bsdsum` is Ensembl's CHECKSUMS value "<sum> <blocks>" (BSD `sum`).
    Transient errors are retried `retries` times (so `retries + 1` attempts) with exponential
    backoff; HTTP downloads resume with a Range request, FTP downloads with REST. With `cache_dir`,
    remote files are kept there keyed by URL and `dest` is a hard link (or copy) of the verified
    cached file. `offline` allows only local paths and cache hits. Nothing partial is ever left at
    `dest` or in the cache.
    """
    dest = Path(dest)
    expected = {k: v for k, v in (("md5", md5), ("sha256", sha256), ("bsdsum", bsdsum)) if v}
    local = _local_path(url)
    if local is not None:
        if local.is_dir():
            raise GenolmError(f"{url}: is a directory; expected a file (name the file inside it)")
        if not local.is_file():
            raise NotFoundError(f"{url}: no such file")
        digests = _write_verified(dest, lambda tmp: shutil.copyfile(local, tmp), url, expected)
        return _record(url, dest, digests, _now(), from_cache=False)

    get = _attempts(url, retries=retries, timeout=timeout, backoff=backoff)
    if cache_dir is None:
        if offline:
            raise GenolmError(f"{url}: offline mode needs a cache_dir holding this file, and none was given")
        return _record(url, dest, _write_verified(dest, get, url, expected), _now(), from_cache=False)

    cached, sidecar = cache_paths(cache_dir, url)
    meta = _cache_hit(cached, sidecar, url, expected)
    from_cache = meta is not None
    if meta is None:
        if offline:
            raise GenolmError(f"{url}: offline mode and not in the cache {cache_dir}")
        digests = _write_verified(cached, get, url, expected)
        meta = {"source": url, "fetched_at": _now(), **digests}
        write_json(sidecar, meta)
    _link_or_copy(cached, dest)
    digests = {k: meta[k] for k in ("size", "md5", "sha256", "bsdsum") if k in meta}
    return _record(url, dest, digests, meta["fetched_at"], from_cache=from_cache)


def _write_verified(path: Path, write: Callable[[Path], object], url: str, expected: dict[str, str]) -> dict:
    """`write(tmp)` the file, then check it against `expected`: nothing reaches `path` unless it matches.

    Returns:
        Its digests (size, md5, sha256; bsdsum when one is expected).
    """
    with atomic_path(path) as tmp:
        write(tmp)
        return _verify(tmp, url, expected)


def read_text(url: str, **options: Any) -> str:
    """Fetch a small text file (listing, checksum file) through `fetch`, so it is cached and retried too.

    Args:
        url: as for `fetch`.
        options: `fetch`'s keyword options (cache_dir, offline, retries, timeout, backoff).

    Returns:
        The file's text (undecodable bytes replaced).
    """
    with tempfile.TemporaryDirectory(prefix="genolm-text-") as tmp:
        path = Path(tmp) / "text"
        fetch(url, path, **options)
        return path.read_text(errors="replace")


def cache_paths(cache_dir: str | os.PathLike, url: str) -> tuple[Path, Path]:
    """Where `url` lives in the cache: `<cache>/<sha256(url)[:16]>/<basename>` and its JSON sidecar."""
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    name = Path(unquote(urlparse(url).path)).name or "index.html"
    entry = Path(cache_dir) / key / name
    return entry, entry.with_name(name + ".json")


def bsd_sum(path: str | os.PathLike) -> tuple[int, int]:
    """BSD `sum` (coreutils `sum -r`) of a file: (16-bit rotating checksum, 1 KiB blocks).

    Ensembl publishes these in CHECKSUMS. Pure Python, so about 4 minutes per GB.
    """
    s = 0
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            size += len(chunk)
            for b in chunk:
                s = (((s >> 1) | ((s & 1) << 15)) + b) & 0xFFFF
    return s, -(-size // 1024)


def _local_path(url: str) -> Path | None:
    """The filesystem path for a plain path or file:// URL; None for remote URLs; error for other schemes."""
    scheme = urlparse(url).scheme.lower()
    if scheme == "":
        return Path(url)
    if scheme == "file":
        return Path(urllib.request.url2pathname(urlparse(url).path))
    if scheme in ALLOWED_SCHEMES:
        return None
    allowed = ", ".join(ALLOWED_SCHEMES)
    raise GenolmError(f"{url}: unsupported URL scheme {scheme!r}; expected one of {allowed} or a local path")


def _attempts(url: str, *, retries: int, timeout: float, backoff: float):
    """A function that downloads `url` into a given temp path, retrying transient failures."""
    single = _http_once if urlparse(url).scheme.lower() in ("http", "https") else _ftp_once

    def run(tmp: Path) -> None:
        last: Exception | None = None
        for attempt in range(retries + 1):
            if attempt:
                delay = min(backoff * 2 ** (attempt - 1), _MAX_SLEEP)
                log.warning("%s: attempt %d failed (%s); retrying in %.1f s", url, attempt, last, delay)
                time.sleep(delay)
            try:
                single(url, tmp, timeout)
                return
            except _RETRYABLE as e:
                last = e
        raise GenolmError(
            f"{url}: download failed after {retries + 1} attempts; last error: {_one_line(last)}"
        )

    return run


def _http_once(url: str, tmp: Path, timeout: float) -> None:
    """One HTTP attempt: resume from the bytes already in `tmp` if the server honours Range."""
    have = tmp.stat().st_size if tmp.exists() else 0
    # identity: we want the file's bytes as published, never a transfer-decoded version.
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    with requests.get(url, headers=headers, stream=True, timeout=timeout) as r:
        if r.status_code == 416 and have:
            tmp.unlink()
            raise _Transient("server refused to resume (HTTP 416); restarting")
        if r.status_code >= 500:
            raise _Transient(f"HTTP {r.status_code} {r.reason}")
        if r.status_code == 404:
            raise NotFoundError(f"{url}: HTTP 404 {r.reason}")
        if r.status_code >= 400:
            raise GenolmError(f"{url}: HTTP {r.status_code} {r.reason}")
        if r.status_code == 206:
            if _range_start(r.headers.get("Content-Range")) != have:
                tmp.unlink(missing_ok=True)
                raise _Transient(f"resume answered with Content-Range {r.headers.get('Content-Range')}")
            mode = "ab"
        else:
            mode, have = "wb", 0  # 200: the server ignored Range, so start over
        length = r.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        _write(r.raw.stream(CHUNK, decode_content=False), tmp, mode, have, total, url)


def _ftp_once(url: str, tmp: Path, timeout: float) -> None:
    """One FTP attempt (passive, binary): resume with REST from the bytes already in `tmp`.

    A server that refuses REST gets the file again from byte 0. A directory URL (ending in '/')
    yields its LIST text, as a browser would show it.
    """
    parts = urlparse(url)
    path = unquote(parts.path) or "/"
    have = tmp.stat().st_size if tmp.exists() else 0
    try:
        with ftplib.FTP(timeout=timeout) as ftp:
            ftp.connect(parts.hostname or "", parts.port or 21)
            ftp.login(unquote(parts.username or "anonymous"), unquote(parts.password or "anonymous@"))
            ftp.voidcmd("TYPE I")
            if path.endswith("/"):
                have, total, command = 0, None, f"LIST {path}"
            else:
                total, command = _ftp_size(ftp, url, path), f"RETR {path}"
                if total is not None and have > total:
                    have = 0
            try:
                conn = ftp.transfercmd(command, rest=have or None)
            except ftplib.error_perm as e:
                if have and str(e).startswith(("500", "502", "504", "554")):  # REST not understood/allowed
                    tmp.unlink()
                    raise _Transient(f"server refused to resume ({_one_line(e)}); restarting") from e
                raise
            with conn:
                _write(iter(lambda: conn.recv(CHUNK), b""), tmp, "ab" if have else "wb", have, total, url)
            ftp.voidresp()
    except ftplib.error_perm as e:
        if str(e).startswith("550"):
            raise NotFoundError(f"{url}: {_one_line(e)}") from e
        raise GenolmError(f"{url}: FTP server refused: {_one_line(e)}") from e
    except (ftplib.error_temp, ftplib.error_reply, ftplib.error_proto, EOFError) as e:
        raise _Transient(f"FTP: {_one_line(e)}") from e
    except OSError as e:
        if e.errno in _DISK_ERRNOS:
            raise
        raise _Transient(f"FTP: {_one_line(e)}") from e


def _ftp_size(ftp: ftplib.FTP, url: str, path: str) -> int | None:
    """SIZE of `path` (None when the server has no SIZE command); 550 means no such file."""
    try:
        return ftp.size(path)
    except ftplib.error_perm as e:
        if str(e).startswith("550"):
            raise NotFoundError(f"{url}: {_one_line(e)}") from e
        return None


def _write(chunks: Iterable[bytes], tmp: Path, mode: str, have: int, total: int | None, url: str) -> None:
    """Append the stream to `tmp`, logging progress, and fail if it ends before `total` bytes."""
    done = have
    with open(tmp, mode) as fh:
        for chunk in _progress(chunks, url, have, total):
            fh.write(chunk)
            done += len(chunk)
    if total is not None and done < total:
        raise _Transient(f"body ended at {done} of {total} bytes")


def _progress(chunks: Iterable[bytes], url: str, have: int, total: int | None) -> Iterator[bytes]:
    """Pass chunks through, logging a line every 10% (or every 10 s when the size is unknown)."""
    done, start = have, time.monotonic()
    last_time, last_tenth = start, (10 * have // total) if total else 0
    for chunk in chunks:
        yield chunk
        done += len(chunk)
        now = time.monotonic()
        tenth = 10 * done // total if total else 0
        if tenth > last_tenth or now - last_time >= 10:
            rate = (done - have) / max(now - start, 1e-9) / 1e6
            pct = f"{100 * done / total:.0f}%" if total else "?%"
            log.info("%s: %s (%d bytes, %.1f MB/s)", url, pct, done, rate)
            last_time, last_tenth = now, tenth


def _range_start(content_range: str | None) -> int | None:
    """The first byte of a `Content-Range: bytes a-b/n` header."""
    m = re.match(r"bytes\s+(\d+)-", content_range or "")
    return int(m.group(1)) if m else None


def _digests(path: Path, with_bsd: bool) -> dict:
    """Size, md5 and sha256 of a file (and its BSD sum when asked), in one read."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            md5.update(chunk)
            sha.update(chunk)
    out = {"size": path.stat().st_size, "md5": md5.hexdigest(), "sha256": sha.hexdigest()}
    if with_bsd:
        checksum, blocks = bsd_sum(path)
        out["bsdsum"] = f"{checksum} {blocks}"
    return out


def _verify(path: Path, url: str, expected: dict[str, str]) -> dict:
    """Digests of `path`; raise naming the URL, expected and got value on any mismatch."""
    got = _digests(path, "bsdsum" in expected)
    for kind, want in expected.items():
        if not _same(kind, want, got[kind]):
            raise GenolmError(f"{url}: {kind} mismatch: expected {want}, got {got[kind]}")
    return got


def _same(kind: str, want: str, got: str) -> bool:
    if kind == "bsdsum":
        try:
            return [int(x) for x in want.split()] == [int(x) for x in got.split()]
        except ValueError:
            raise GenolmError(f"bsdsum {want!r}: expected '<checksum> <blocks>' as two integers") from None
    return want.strip().lower() == got


def _cache_hit(cached: Path, sidecar: Path, url: str, expected: dict[str, str]) -> dict | None:
    """The sidecar of a cached copy that still verifies; a corrupt or stale entry is removed."""
    if not cached.is_file():
        return None
    try:
        meta = json.loads(sidecar.read_text())
        got = _digests(cached, "bsdsum" in expected)
        ok = got["sha256"] == meta["sha256"] and all(_same(k, v, got[k]) for k, v in expected.items())
    except (OSError, ValueError, KeyError):
        ok = False
    if ok:
        log.info("%s: using verified cached copy %s", url, cached)
        return {**meta, **got}
    log.warning("%s: cached copy %s failed verification; discarding it", url, cached)
    cached.unlink(missing_ok=True)
    sidecar.unlink(missing_ok=True)
    return None


def _link_or_copy(src: Path, dest: Path) -> None:
    """Make `dest` a hard link of `src` (a copy across filesystems), replacing it atomically."""
    with atomic_path(dest) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def _record(url: str, dest: Path, digests: dict, fetched_at: str, *, from_cache: bool) -> dict:
    return {"source": url, "path": str(dest), **digests, "fetched_at": fetched_at, "from_cache": from_cache}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _one_line(e: BaseException | None) -> str:
    return " ".join(str(e).split()) or type(e).__name__
