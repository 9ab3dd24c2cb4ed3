"""Dataset layouts on disk: detection, file listing and cheap per-file checks.

Two layouts are read (R6), both as published by the reference pix2pix/CycleGAN project::

    pix2pix (paired)              unpaired
    ROOT/train/**/*.jpg           ROOT/trainA/**  ROOT/trainB/**
    ROOT/val/**/*.jpg             ROOT/testA/**   ROOT/testB/**   (or valA/ valB/)
      (or ROOT/test/)

A pix2pix file holds one pair side by side: the left half is domain A, the right half B.
Image files are found recursively by extension (:data:`IMAGE_EXTENSIONS`, any case); hidden
files (names starting with ``.``, e.g. macOS ``._x.jpg`` or unfinished temporary files) are
skipped. Every list is sorted, so a dataset always reads in the same order.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image, UnidentifiedImageError

from cg.errors import UserError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})

Format = Literal["pix2pix", "unpaired"]


@dataclass(frozen=True)
class DatasetFiles:
    """The image files of a dataset, per split and domain.

    For ``pix2pix`` data ``train_a is train_b`` (the A|B pair files of ``train/``) and
    ``val_a is val_b`` (``val/``, or ``test/`` when there is no ``val/``).
    """

    root: Path
    format: Format
    train_a: list[Path]
    train_b: list[Path]
    val_a: list[Path]
    val_b: list[Path]

    @property
    def paired(self) -> bool:
        return self.format == "pix2pix"

    def fingerprint(self) -> str:
        """What identifies the data wherever it lies: a hash of the format and, per split and
        domain in order, each file's path relative to ``root`` and its size in bytes. A copied
        or moved dataset keeps its fingerprint; an added, removed, renamed or resized file
        changes it (a file rewritten to the same size does not: the check is one ``stat`` a
        file, not a read)."""
        h = hashlib.sha256(f"cg-data-1:{self.format}".encode())
        lists = (
            (self.train_a, self.val_a)
            if self.paired
            else (self.train_a, self.train_b, self.val_a, self.val_b)
        )
        for files in lists:
            h.update(b"\0split")
            for f in files:
                rel = f.relative_to(self.root).as_posix()
                h.update(f"\0{rel}\0{f.stat().st_size}".encode())
        return h.hexdigest()[:16]


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def list_images(folder: str | Path) -> list[Path]:
    """All image files under ``folder``, recursively (following linked folders, each walked
    once), sorted; hidden files and folders skipped."""
    folder = Path(folder)
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()  # folders already walked: linked folders may loop
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found.extend(p for name in filenames if is_image_file(p := Path(dirpath, name)))
    return sorted(found)


_PIX2PIX_HELP = "pix2pix (train/ and val/ or test/, A|B pairs side by side)"
_UNPAIRED_HELP = "unpaired (trainA/, trainB/ and testA/, testB/ or valA/, valB/)"


def _split(root: Path, name: str) -> list[Path]:
    files = list_images(root / name)
    if not files:
        exts = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
        raise UserError(f"split folder {root / name} has no images ({exts}); add images to it")
    return files


def _first_dir(root: Path, names: Sequence[str]) -> str | None:
    return next((n for n in names if (root / n).is_dir()), None)


def scan_dataset(root: str | Path) -> DatasetFiles:
    """Detect the layout of ``root`` and list its images (see the module docstring).

    Raises a :class:`UserError` when ``root`` is missing, is not a known layout (naming the
    folders that were expected and those found), or a split has no images (naming it).
    """
    root = Path(root)
    if not root.exists():
        raise UserError(f"dataset folder {root} does not exist (create one with `cg synth`)")
    if not root.is_dir():
        raise UserError(f"dataset path {root} is not a folder")
    has_pix2pix = (root / "train").is_dir()
    has_unpaired = (root / "trainA").is_dir() or (root / "trainB").is_dir()
    if has_pix2pix and has_unpaired:
        raise UserError(
            f"{root} has both train/ (pix2pix) and trainA/ or trainB/ (unpaired) folders; "
            "keep only one layout"
        )
    if has_pix2pix:
        val = _first_dir(root, ("val", "test"))
        if val is None:
            raise UserError(
                f"{root} has train/ but no val/ or test/ folder; expected {_PIX2PIX_HELP}"
            )
        pairs_train, pairs_val = _split(root, "train"), _split(root, val)
        return DatasetFiles(root, "pix2pix", pairs_train, pairs_train, pairs_val, pairs_val)
    if has_unpaired:
        missing = [n for n in ("trainA", "trainB") if not (root / n).is_dir()]
        val_a, val_b = _first_dir(root, ("testA", "valA")), _first_dir(root, ("testB", "valB"))
        missing += [n for n, v in (("testA", val_a), ("testB", val_b)) if v is None]
        if missing:
            names = ", ".join(m + "/" for m in missing)
            raise UserError(f"{root} is missing {names}; expected {_UNPAIRED_HELP}")
        assert val_a is not None and val_b is not None
        return DatasetFiles(
            root,
            "unpaired",
            _split(root, "trainA"),
            _split(root, "trainB"),
            _split(root, val_a),
            _split(root, val_b),
        )
    found = sorted(p.name + "/" for p in root.iterdir() if p.is_dir())
    raise UserError(
        f"{root} is not a known dataset layout: expected {_PIX2PIX_HELP} or {_UNPAIRED_HELP}; "
        f"found folders: {', '.join(found) or 'none'}"
    )


# --- cheap per-file checks ------------------------------------------------------------------

_JPEG_END = b"\xff\xd9"
_PNG_END = b"IEND\xaeB`\x82"
_TAIL = 64
_EXIF_ORIENTATION = 0x0112


def _looks_complete(path: Path, fmt: str | None, size: int) -> bool:
    """Whether the file ends with its format's end marker (JPEG EOI, PNG IEND, WebP RIFF
    length). A cheap test for downloads cut short; ``True`` for formats without one. ``False``
    is only a suspicion (some writers append data after the marker), settled by a decode."""
    if fmt not in ("JPEG", "PNG", "WEBP"):
        return True
    with open(path, "rb") as f:
        if fmt == "WEBP":
            head = f.read(8)
            return int.from_bytes(head[4:8], "little") + 8 <= size
        f.seek(max(0, size - _TAIL))
        tail = f.read().rstrip(b"\0\r\n ")
    return tail.endswith(_JPEG_END if fmt == "JPEG" else _PNG_END)


def inspect_image(path: Path) -> tuple[tuple[int, int] | None, str | None]:
    """``((width, height), None)`` for a readable image (size after EXIF orientation), or
    ``(size or None, reason)`` for a broken one. Reads headers only, except for files whose end
    marker is missing: those are decoded in full to tell trailing data from truncation."""
    try:
        nbytes = path.stat().st_size
    except OSError as e:
        return None, f"cannot be read: {e.strerror or e}"
    if nbytes == 0:
        return None, "empty file (0 bytes)"
    try:
        with Image.open(path) as im:
            w, h = im.size
            if im.getexif().get(_EXIF_ORIENTATION) in (5, 6, 7, 8):
                w, h = h, w
            if not _looks_complete(path, im.format, nbytes):
                im.load()  # raises if the data is really cut short
    except UnidentifiedImageError:
        return None, "not an image file (unknown or damaged header)"
    except Image.DecompressionBombError as e:
        return None, f"too large to decode safely: {e}"
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        return None, f"truncated or damaged: {e}"
    return (w, h), None


def pair_width_problem(width: int) -> str | None:
    """The reason a pix2pix file of this width cannot be split into A|B, else None."""
    if width % 2:
        return f"width {width} is odd: an A|B pair needs two equal halves"
    return None


def _inspect_all(files: Sequence[Path]) -> list[tuple[tuple[int, int] | None, str | None]]:
    if len(files) < 64:
        return [inspect_image(Path(f)) for f in files]
    with ThreadPoolExecutor(max_workers=min(8, 2 * (os.cpu_count() or 1))) as pool:
        return list(pool.map(inspect_image, map(Path, files), chunksize=32))


def check_images(files: Sequence[Path], *, pairs: bool) -> list[tuple[Path, str]]:
    """``(file, reason)`` for every file that cannot be used, in the order given.

    Cheap: opens headers (no full decode) and looks for the format's end marker. Finds empty,
    unreadable and truncated files, and with ``pairs=True`` odd widths (no equal A|B halves).
    """
    return [(Path(f), r) for f, (_, r) in zip(files, inspect_images(files, pairs=pairs)) if r]


def inspect_images(
    files: Sequence[Path], *, pairs: bool
) -> list[tuple[tuple[int, int] | None, str | None]]:
    """:func:`inspect_image` for every file, plus the A|B width check when ``pairs``."""
    out = _inspect_all(files)
    if pairs:
        out = [(s, r or (pair_width_problem(s[0]) if s else None)) for s, r in out]
    return out
