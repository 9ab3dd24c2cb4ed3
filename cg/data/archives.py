"""Safe extraction of downloaded dataset archives (tar.gz/.bz2/.xz and zip).

An archive from the network is untrusted. Every entry is checked, and the whole archive is
refused (:class:`~cg.errors.UserError` naming the entry) when one of them:

- has an absolute name (``/etc/x``, ``C:/x``) or a ``..`` component (``a/../../x``);
- is a symlink or hardlink whose target is absolute or resolves outside the destination;
- is a device, FIFO or socket;
- would make the archive expand to more than ``max_bytes`` (decompression bombs);
- (zip) is encrypted, or writes more bytes than its header declares.

Tar archives go through :mod:`tarfile`'s ``data`` extraction filter (which also drops
ownership and setuid bits); the checks above are applied on top, since that filter quietly
strips a leading ``/`` rather than refusing it. Zip archives get the same checks, written here.

:func:`install_archive` extracts into a hidden temporary folder beside the target and renames it
into place only when everything succeeded, so a refused or failed extraction leaves nothing that
looks like a dataset.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Literal

from cg.errors import UserError
from cg.progress import progress_bar

DEFAULT_MAX_BYTES = 64 * 1024**3  # 64 GiB: edges2handbags, the largest set, is about 8 GiB
_IGNORED_TOP = {"__MACOSX", ".DS_Store"}
_CHUNK = 1 << 20


class ArchiveRefused(UserError):
    """The archive's content is unsafe, damaged or too big: no point extracting it again."""


def archive_kind(path: str | Path) -> Literal["tar", "zip"]:
    """``"tar"`` or ``"zip"``, from the file's content (not its name)."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return "zip"
    if tarfile.is_tarfile(path):
        return "tar"
    raise ArchiveRefused(f"{path}: not a tar or zip archive; check the URL or the downloaded file")


def _safe_name(archive: Path, name: str) -> str:
    """The entry's name as a relative POSIX path, or a UserError if it is unsafe."""
    posix = name.replace("\\", "/")
    if "\x00" in posix:
        raise ArchiveRefused(f"{archive}: unsafe entry {name!r}: NUL in the name; archive refused")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        raise ArchiveRefused(f"{archive}: unsafe entry {name!r}: absolute path; archive refused")
    parts = [p for p in posix.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveRefused(f"{archive}: unsafe entry {name!r}: '..' in the path; archive refused")
    return "/".join(parts)


def _check_link(archive: Path, name: str, rel: str, target: str) -> None:
    """Refuse a symlink ``rel -> target`` that is absolute or leaves the destination."""
    target = target.replace("\\", "/")
    if target.startswith("/") or (len(target) > 1 and target[1] == ":"):
        raise ArchiveRefused(
            f"{archive}: unsafe entry {name!r}: link to absolute path {target!r}; archive refused"
        )
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
    if resolved == ".." or resolved.startswith("../"):
        raise ArchiveRefused(
            f"{archive}: unsafe entry {name!r}: link to {target!r} points outside the dataset; "
            "archive refused"
        )


def _check_hardlink(archive: Path, name: str, target: str) -> None:
    """Refuse a hardlink (target named from the archive's root) that may leave the dataset."""
    try:
        _safe_name(archive, target)
    except UserError:
        raise ArchiveRefused(
            f"{archive}: unsafe entry {name!r}: hardlink to {target!r} outside the dataset; "
            "archive refused"
        ) from None


def _too_big(archive: Path, total: int, max_bytes: int) -> ArchiveRefused:
    return ArchiveRefused(
        f"{archive}: expands to more than {max_bytes:,} bytes (at least {total:,}); refused as a "
        "possible decompression bomb. If the archive is genuine, raise --max-extract-gb"
    )


def _extract_tar(archive: Path, dest: Path, max_bytes: int, progress: bool) -> None:
    if not hasattr(tarfile, "data_filter"):
        raise UserError(
            "safe tar extraction needs Python's tarfile extraction filters (Python 3.11.4+, "
            "3.12+ or 3.10.12+); upgrade Python"
        )
    total = 0
    try:
        with (
            tarfile.open(archive, "r:*") as tf,
            progress_bar(desc="extract", unit=" files", progress=progress) as bar,
        ):
            for member in tf:
                rel = _safe_name(archive, member.name)
                if member.issym():
                    _check_link(archive, member.name, rel, member.linkname)
                elif member.islnk():
                    _check_hardlink(archive, member.name, member.linkname)
                if member.isreg():
                    total += member.size
                    if total > max_bytes:
                        raise _too_big(archive, total, max_bytes)
                tf.extract(member, dest, filter="data")
                bar.update(1)
    except tarfile.FilterError as e:
        name = e.tarinfo.name if e.tarinfo is not None else "?"
        raise ArchiveRefused(f"{archive}: unsafe entry {name!r}: {e}; archive refused") from None
    except (tarfile.TarError, EOFError) as e:
        raise ArchiveRefused(
            f"{archive}: damaged tar archive ({e}); delete it and download again"
        ) from e


def _zip_mode(info: zipfile.ZipInfo) -> int:
    """The Unix file mode a zip entry carries (0 when it was made elsewhere)."""
    return (info.external_attr >> 16) & 0xFFFF if info.create_system == 3 else 0


def _check_zip(
    archive: Path, zf: zipfile.ZipFile, max_bytes: int
) -> list[tuple[zipfile.ZipInfo, str]]:
    """Every entry checked before anything is written; returns (entry, safe name) pairs."""
    entries: list[tuple[zipfile.ZipInfo, str]] = []
    seen: set[str] = set()
    total = 0
    for info in zf.infolist():
        rel = _safe_name(archive, info.filename)
        mode = _zip_mode(info)
        kind = stat.S_IFMT(mode)
        if kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
            raise ArchiveRefused(
                f"{archive}: unsafe entry {info.filename!r}: device, FIFO or socket; "
                "archive refused"
            )
        if info.flag_bits & 0x1:
            raise ArchiveRefused(f"{archive}: entry {info.filename!r} is encrypted; not supported")
        if kind == stat.S_IFLNK:
            if info.file_size > 4096:
                raise ArchiveRefused(f"{archive}: unsafe entry {info.filename!r}: oversized link")
            _check_link(archive, info.filename, rel, zf.read(info).decode("utf-8", "replace"))
        if rel and not info.is_dir():
            if rel in seen:
                raise ArchiveRefused(f"{archive}: entry {info.filename!r} appears twice; refused")
            seen.add(rel)
        total += info.file_size
        if total > max_bytes:
            raise _too_big(archive, total, max_bytes)
        entries.append((info, rel))
    return entries


def _inside(dest_real: str, path: str) -> bool:
    return os.path.commonpath([os.path.realpath(path), dest_real]) == dest_real


def _extract_zip(archive: Path, dest: Path, max_bytes: int, progress: bool) -> None:
    dest_real = os.path.realpath(dest)
    try:
        with zipfile.ZipFile(archive) as zf:
            entries = _check_zip(archive, zf, max_bytes)
            bar = progress_bar(entries, desc="extract", unit=" files", progress=progress)
            for info, rel in bar:
                if not rel:
                    continue
                out = os.path.join(dest_real, *rel.split("/"))
                if not _inside(dest_real, os.path.dirname(out)):
                    raise ArchiveRefused(
                        f"{archive}: unsafe entry {info.filename!r}: its folder is a link "
                        "pointing outside the dataset; archive refused"
                    )
                if info.is_dir():
                    os.makedirs(out, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(out), exist_ok=True)
                if stat.S_ISLNK(_zip_mode(info)):
                    os.symlink(zf.read(info).decode("utf-8"), out)
                    continue
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                with zf.open(info) as src, os.fdopen(os.open(out, flags, 0o644), "wb") as dst:
                    written = 0
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > info.file_size:
                            raise ArchiveRefused(
                                f"{archive}: entry {info.filename!r} holds more data than its "
                                "header declares; archive refused"
                            )
                        dst.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as e:
        raise ArchiveRefused(
            f"{archive}: damaged or unsupported zip ({e}); download it again"
        ) from e
    except FileExistsError as e:
        raise ArchiveRefused(f"{archive}: entry clashes with an earlier one ({e.filename})") from e


def extract_archive(
    archive: str | Path,
    dest: str | Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: bool = True,
) -> None:
    """Extract ``archive`` into the existing folder ``dest``, refusing unsafe entries.

    On a refusal the folder may hold part of the archive: extract into a folder you delete on
    failure (as :func:`install_archive` does). Nothing is ever written outside ``dest``.
    """
    archive, dest = Path(archive), Path(dest)
    if archive_kind(archive) == "zip":
        _extract_zip(archive, dest, max_bytes, progress)
    else:
        _extract_tar(archive, dest, max_bytes, progress)


def install_archive(
    archive: str | Path,
    target: str | Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Extract ``archive`` and move its content to ``target``; all or nothing.

    Extraction goes to a hidden temporary folder beside ``target``. When the archive holds one
    top-level folder (``facades/train/...``, as the reference's archives do), that folder's
    content becomes ``target``; otherwise the archive's whole content does. An existing
    non-empty ``target`` is refused unless ``overwrite``, and then replaced only at the end.
    """
    archive, target = Path(archive), Path(target)
    refuse_existing(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    _check_free_space(archive, target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.extract-", dir=target.parent))
    try:
        extract_archive(archive, tmp, max_bytes=max_bytes, progress=progress)
        top = [p for p in tmp.iterdir() if p.name not in _IGNORED_TOP]
        if not top:
            raise ArchiveRefused(f"{archive}: the archive is empty")
        src = top[0] if len(top) == 1 and top[0].is_dir() and not top[0].is_symlink() else tmp
        publish_dir(src, target, overwrite)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def refuse_existing(target: Path, overwrite: bool) -> None:
    """A UserError when ``target`` exists and is not an empty folder, unless ``overwrite``."""
    if target.exists() and not overwrite and (not target.is_dir() or any(target.iterdir())):
        raise UserError(f"{target} already exists; remove it or pass --overwrite to replace it")


def publish_dir(src: Path, target: Path, overwrite: bool) -> None:
    """Rename the finished folder ``src`` to ``target`` (same file system).

    An old ``target`` (allowed only with ``overwrite``) is moved aside first and removed only
    after the swap, so ``target`` is at every moment either the old content or the new one.
    """
    refuse_existing(target, overwrite)
    if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
        target.rmdir()
    old = None
    if target.exists() or target.is_symlink():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
    src.rename(target)
    if old is not None:
        shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()


def _check_free_space(archive: Path, folder: Path) -> None:
    """Refuse early when the folder obviously cannot hold the extracted archive."""
    need = archive.stat().st_size
    free = shutil.disk_usage(folder).free
    if free < need:
        raise UserError(
            f"{folder}: {free / 1e9:.1f} GB free, the archive alone needs {need / 1e9:.1f} GB "
            "to extract; free some space or choose another --root"
        )
