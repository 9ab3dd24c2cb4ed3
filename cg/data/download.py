"""Downloading the reference pix2pix and CycleGAN datasets: resumable, verified, safely extracted.

The addresses are those of the reference implementation's download scripts
(junyanz/pytorch-CycleGAN-and-pix2pix, ``datasets/download_pix2pix_dataset.sh`` and
``datasets/download_cyclegan_dataset.sh``)::

    pix2pix  (paired, A|B pairs)   efrosgans.eecs.berkeley.edu/pix2pix/datasets/NAME.tar.gz
    CycleGAN (unpaired folders)    efrosgans.eecs.berkeley.edu/cyclegan/datasets/NAME.zip

The scripts say ``http://``; https is used here (the host serves both). Earlier versions of the
CycleGAN script used ``people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/NAME.zip``
before the reference moved both to the host above; pass ``--url`` whenever an address moves.

Names that both scripts offer (``facades``, ``maps``, ``cityscapes``) mean the pix2pix set; the
CycleGAN set is ``cyclegan/NAME`` and lands in ``ROOT/cyclegan/NAME``. ``pix2pix/NAME`` and
``cyclegan/NAME`` are accepted for every set. Like the reference script, pix2pix ``cityscapes`` is
not downloaded (its license needs registration): download it from cityscapes-dataset.com and run
``cg data prepare-cityscapes``, or pass ``--url`` with a copy you may use.

A download goes to ``ROOT/NAME.<ext>.part``, resumes from its end with an HTTP ``Range``
request (a server that ignores ``Range`` restarts it cleanly), is checked against the announced
length and, when given, a SHA-256, and only then renamed to ``ROOT/NAME.<ext>``: a partial file
never looks complete. The reference publishes no checksums, so none are built in (``--sha256``).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from time import sleep
from typing import BinaryIO, Literal

from cg import __version__
from cg.data.archives import (
    DEFAULT_MAX_BYTES,
    ArchiveRefused,
    install_archive,
    refuse_existing,
)
from cg.errors import UserError
from cg.progress import progress_bar

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: downloads go unlocked
    fcntl = None

_PIX2PIX = "https://efrosgans.eecs.berkeley.edu/pix2pix/datasets"
_CYCLEGAN = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets"
_CHUNK = 1 << 20
DEFAULT_TIMEOUT = 60.0  # seconds without an answer before giving up
DEFAULT_RETRIES = 3  # automatic resumes of an interrupted transfer
_CITYSCAPES_LICENSE = (
    "Cityscapes may not be redistributed (its license needs registration), so the reference "
    "does not download it: get gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip from "
    "https://www.cityscapes-dataset.com and run `cg data prepare-cityscapes`, or pass --url "
    "with a copy you may use"
)


class DownloadInterrupted(UserError):
    """A transfer that broke off; the ``.part`` file is kept and the next try resumes it."""

    def __init__(self, message: str, brief: str | None = None) -> None:
        super().__init__(message)
        self.brief = brief or message


@dataclass(frozen=True)
class Source:
    """One downloadable dataset: the name users type, its layout, address and checksum."""

    name: str
    kind: Literal["pix2pix", "cyclegan"]
    url: str
    sha256: str | None = None
    refusal: str | None = None  # why there is no download without --url


#: The names each reference script accepts, in its order.
PIX2PIX_NAMES = ("cityscapes", "night2day", "edges2handbags", "edges2shoes", "facades", "maps")
CYCLEGAN_NAMES = (
    "apple2orange", "summer2winter_yosemite", "horse2zebra", "monet2photo", "cezanne2photo",
    "ukiyoe2photo", "vangogh2photo", "maps", "cityscapes", "facades", "iphone2dslr_flower",
    "ae_photos",
)  # fmt: skip

#: Every dataset ``cg data download`` takes, by name; a CycleGAN set whose name the pix2pix
#: script also uses is ``cyclegan/NAME``.
SOURCES: dict[str, Source] = {
    **{
        n: Source(n, "pix2pix", f"{_PIX2PIX}/{n}.tar.gz",
                  refusal=_CITYSCAPES_LICENSE if n == "cityscapes" else None)
        for n in PIX2PIX_NAMES
    },
    **{
        (key := f"cyclegan/{n}" if n in PIX2PIX_NAMES else n): Source(
            key, "cyclegan", f"{_CYCLEGAN}/{n}.zip"
        )
        for n in CYCLEGAN_NAMES
    },
}  # fmt: skip


def resolve_source(name: str) -> Source:
    """The :data:`SOURCES` entry for ``name``, also accepting ``pix2pix/X`` and ``cyclegan/X``."""
    if name in SOURCES:
        return SOURCES[name]
    kind, _, bare = name.partition("/")
    if kind in ("pix2pix", "cyclegan") and bare in SOURCES and SOURCES[bare].kind == kind:
        return SOURCES[bare]
    names = ", ".join(sorted(SOURCES))
    raise UserError(f"unknown dataset {name!r}; known: {names}; or give any name with --url URL")


def _check_name(name: str) -> None:
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") or not re.fullmatch(r"[\w.+-]+", p) for p in parts):
        raise UserError(
            f"dataset name {name!r} must be letters, digits, '_', '-', '.', '+' (and '/')"
        )


def _archive_suffix(url: str) -> str:
    path = urllib.parse.urlsplit(url).path.lower()
    for suffix in (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip"):
        if path.endswith(suffix):
            return suffix
    return ".archive"


# --- one file over HTTP(S) ------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[BinaryIO]:
    """``path`` opened for appending and locked, so two downloads never write one file."""
    with open(path, "a+b") as f:
        if fcntl is not None:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise UserError(
                    f"{path} is being written by another download; wait for it"
                ) from None
        yield f


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """``(start, total)`` of a ``Content-Range: bytes START-END/TOTAL`` (or ``*/TOTAL``)."""
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value or "")
    if not m:
        return None, None
    start, total = m.groups()
    return (int(start) if start else None), (int(total) if total != "*" else None)


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse | int:
    """The response to GET ``url`` from byte ``offset``, or the total size when the server
    answers 416 (nothing left to send)."""
    headers = {"User-Agent": f"cg/{__version__}", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:
            _, total = _content_range(e.headers.get("Content-Range"))
            return -1 if total is None else total
        hint = "; check the name, or pass --url with the dataset's current address"
        raise UserError(f"{url}: HTTP {e.code} {e.reason}{hint if e.code == 404 else ''}") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            raise DownloadInterrupted(f"{url}: no answer within {timeout:g} s") from None
        raise UserError(
            f"{url}: cannot connect ({e.reason}); check the address or the network"
        ) from None
    except TimeoutError:
        raise DownloadInterrupted(f"{url}: no answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as e:
        raise DownloadInterrupted(f"{url}: the server gave no usable answer ({e})") from None


def _fetch_once(url: str, part: Path, timeout: float, progress: bool) -> None:
    """Bring ``part`` one request closer to complete; raises UserError if the transfer breaks."""
    with _locked(part) as f:
        offset = f.seek(0, os.SEEK_END)
        resp = _open(url, offset, timeout)
        if isinstance(resp, int):  # 416: complete already, or a stale file longer than the data
            if resp == offset:
                return
            f.truncate(0)
            offset = 0
            resp = _open(url, 0, timeout)
            assert not isinstance(resp, int)
        with resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if resp.status == 206:
                start, full = _content_range(resp.headers.get("Content-Range"))
                if start != offset:
                    f.truncate(0)
                    raise DownloadInterrupted(f"{url}: resumed at byte {start}, not {offset}")
                total = full if full is not None else (offset + total if total else None)
            else:  # 200: the whole file (a server that ignores Range starts over)
                f.truncate(0)
                offset = 0
            size, reason = offset, "connection closed"
            with progress_bar(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(".part"),
                progress=progress,
            ) as bar:
                while True:
                    try:
                        chunk = resp.read(_CHUNK)
                    except (http.client.IncompleteRead, OSError) as e:
                        reason = f"{type(e).__name__}: {e}"
                        break
                    if not chunk:
                        break
                    f.write(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
            f.flush()
            os.fsync(f.fileno())
        if total is not None and size != total:
            if size > total:
                f.truncate(0)
            brief = f"{url}: interrupted at {size:,} of {total:,} bytes ({reason})"
            raise DownloadInterrupted(
                f"{brief}; run the same command again to resume from {part}", brief
            )


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def download_file(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part`` (see the module docstring).

    An interrupted transfer is resumed up to ``retries`` times, then a UserError says how to
    resume; ``dest.part`` is kept for that. A SHA-256 mismatch removes ``dest.part`` and raises.
    An existing ``dest`` counts as done (it was only ever written after verification).
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise UserError(f"URL {url!r} must start with http:// or https://")
    dest = Path(dest)
    expected = sha256.lower() if sha256 else None
    if expected is not None and not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise UserError(f"--sha256 {sha256!r} is not 64 hexadecimal digits")
    part = dest.with_name(dest.name + ".part")
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(retries + 1):
            try:
                _fetch_once(url, part, timeout, progress)
                break
            except DownloadInterrupted as e:
                if attempt == retries:
                    raise
                print(f"{e.brief}; retry {attempt + 1} of {retries}", file=sys.stderr, flush=True)
                sleep(min(2.0**attempt, 30.0))
        if expected is not None and (got := file_sha256(part)) != expected:
            part.unlink()
            raise UserError(
                f"{url}: SHA-256 {got} does not match the expected {expected}; the download was "
                "deleted. Check --sha256 and the URL"
            )
        os.replace(part, dest)
    elif expected is not None and (got := file_sha256(dest)) != expected:
        raise UserError(f"{dest}: SHA-256 {got} does not match {expected}; delete the file")
    return dest


# --- a dataset: download, then extract ------------------------------------------------------


def download_dataset(
    name: str,
    root: str | Path,
    *,
    url: str | None = None,
    sha256: str | None = None,
    overwrite: bool = False,
    keep_archive: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    progress: bool = True,
) -> Path:
    """Download dataset ``name`` and extract it into ``root/name``; returns that folder.

    ``url`` overrides the address (and allows names outside :data:`SOURCES`). The archive is
    deleted after extraction, and when its content is refused, unless ``keep_archive``.
    """
    if url is None:
        source = resolve_source(name)
        if source.refusal:
            raise UserError(f"{name}: {source.refusal}")
        name, url, sha256 = source.name, source.url, sha256 or source.sha256
    else:
        _check_name(name)
        with contextlib.suppress(UserError):
            name = resolve_source(name).name
    root = Path(root)
    target = root / name
    refuse_existing(target, overwrite)
    archive = download_file(
        url,
        root / f"{name}{_archive_suffix(url)}",
        sha256=sha256,
        timeout=timeout,
        retries=retries,
        progress=progress,
    )
    try:
        install_archive(
            archive, target, max_bytes=max_bytes, overwrite=overwrite, progress=progress
        )
    except ArchiveRefused as e:
        if keep_archive:
            raise
        archive.unlink()
        raise ArchiveRefused(f"{e} (the download was deleted)") from None
    if not keep_archive:
        archive.unlink()
    return target
