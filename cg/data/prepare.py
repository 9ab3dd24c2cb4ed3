"""Building cg's on-disk formats from datasets users download themselves (R6).

- :func:`prepare_cityscapes`: the pix2pix format from the official Cityscapes release, as the
  reference's ``datasets/prepare_cityscapes_dataset.py`` builds it: for every frame of
  ``train`` and ``val``, the photo ``leftImg8bit/<split>/<city>/<id>_leftImg8bit.png`` and its
  colour map ``gtFine/<split>/<city>/<id>_gtFine_color.png`` are converted to RGB, resized to
  256x256 (Pillow's bicubic default) and saved side by side as one JPEG (quality 100, no chroma
  subsampling): **photo left (A), colour map right (B)**. Unlike the reference (``0.jpg``,
  ``1.jpg``... and ``val`` saved as ``test/``), files are named by frame, ``<split>/<id>.jpg``,
  and ``val`` stays ``val/``.
- :func:`prepare_unpaired`: ``trainA/ trainB/ testA/ testB/`` from two folders of images (for
  face2simpson: IMDB-WIKI face crops as A, Simpsons crops as B), split at random but the same
  way for the same seed; unreadable files are skipped and counted.

Both build into a hidden folder beside ``out`` and rename it into place at the end, so a failed
run leaves nothing that looks like a dataset.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image

from cg.data import check_images, list_images, load_rgb
from cg.data.archives import publish_dir, refuse_existing
from cg.errors import UserError
from cg.files import atomic_write_text
from cg.progress import progress_bar

CITYSCAPES_SPLITS = ("train", "val")
_LABEL_SUFFIX = "_gtFine_color.png"
_PHOTO_SUFFIX = "_leftImg8bit.png"
_T = TypeVar("_T")


def _staging(out: Path, overwrite: bool) -> Path:
    """A fresh hidden folder beside ``out`` to build into (``out`` itself is checked first)."""
    refuse_existing(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.prepare-", dir=out.parent))


def _parallel(fn: Callable[[_T], Any], items: Sequence[_T], desc: str, progress: bool) -> None:
    """``fn`` over ``items`` in threads (Pillow decodes and encodes without the GIL)."""
    workers = min(8, os.cpu_count() or 1)
    with (
        ThreadPoolExecutor(workers) as pool,
        progress_bar(total=len(items), desc=desc, unit=" img", progress=progress) as bar,
    ):
        for _ in pool.map(fn, items):
            bar.update(1)


def _few(names: Iterable[str], n: int = 3) -> str:
    names = sorted(names)
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


# --- Cityscapes -----------------------------------------------------------------------------


def _release_dir(folder: str | Path, name: str, flag: str) -> Path:
    """The folder holding ``train/`` and ``val/``: ``folder`` itself or ``folder/<name>``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{flag} {folder} does not exist; unzip {name}_trainvaltest.zip there")
    for cand in (folder, folder / name):
        if all((cand / s).is_dir() for s in CITYSCAPES_SPLITS):
            return cand
    raise UserError(
        f"{flag} {folder} has no train/ and val/ folders; point it at the unzipped {name} "
        f"folder (from {name}_trainvaltest.zip, with one sub-folder per city)"
    )


def _frames(split_dir: Path, suffix: str) -> dict[str, Path]:
    """``{frame id: file}`` for ``split_dir/<city>/<id><suffix>``."""
    found: dict[str, Path] = {}
    for path in sorted(split_dir.glob(f"*/*{suffix}")):
        frame = path.name[: -len(suffix)]
        if frame in found:
            raise UserError(f"frame {frame} appears twice: {found[frame]} and {path}")
        found[frame] = path
    return found


def _cityscapes_pairs(gtfine: Path, leftimg: Path, split: str) -> list[tuple[str, Path, Path]]:
    labels = _frames(gtfine / split, _LABEL_SUFFIX)
    photos = _frames(leftimg / split, _PHOTO_SUFFIX)
    if not labels:
        raise UserError(f"no *{_LABEL_SUFFIX} files in {gtfine / split}/<city>/")
    if not photos:
        raise UserError(f"no *{_PHOTO_SUFFIX} files in {leftimg / split}/<city>/")
    only_labels, only_photos = labels.keys() - photos.keys(), photos.keys() - labels.keys()
    if only_labels or only_photos:
        raise UserError(
            f"{split}: {len(only_labels)} colour maps without a photo ({_few(only_labels)}) and "
            f"{len(only_photos)} photos without a colour map ({_few(only_photos)}); use "
            "--gtfine and --leftimg8bit from the same Cityscapes release"
        )
    return [(frame, photos[frame], labels[frame]) for frame in sorted(labels)]


def _resized(path: Path, size: int) -> Image.Image:
    rgb = Image.fromarray(load_rgb(path).permute(1, 2, 0).numpy())
    return rgb.resize((size, size), Image.Resampling.BICUBIC)


def cityscapes_pair_image(photo: Path, label: Path, size: int = 256) -> Image.Image:
    """The pix2pix image of one frame: the photo (A) left, its colour map (B) right."""
    pair = Image.new("RGB", (2 * size, size))
    pair.paste(_resized(photo, size), (0, 0))
    pair.paste(_resized(label, size), (size, 0))
    return pair


def prepare_cityscapes(
    gtfine: str | Path,
    leftimg8bit: str | Path,
    out: str | Path,
    *,
    size: int = 256,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, int]:
    """Write ``out/train/<id>.jpg`` and ``out/val/<id>.jpg``; returns the count per split.

    ``gtfine`` and ``leftimg8bit`` are the unzipped official folders (or the folders that hold
    ``gtFine/`` and ``leftImg8bit/``). Every frame must have both files; if not, nothing is
    written and the error counts and names the unmatched frames.
    """
    if size < 16:
        raise UserError(f"--size {size} is too small; use at least 16 (the reference uses 256)")
    gt = _release_dir(gtfine, "gtFine", "--gtfine")
    left = _release_dir(leftimg8bit, "leftImg8bit", "--leftimg8bit")
    pairs = {split: _cityscapes_pairs(gt, left, split) for split in CITYSCAPES_SPLITS}
    out = Path(out)
    stage = _staging(out, overwrite)
    try:
        for split, items in pairs.items():
            (stage / split).mkdir()

            def save(item: tuple[str, Path, Path], split: str = split) -> None:
                frame, photo, label = item
                image = cityscapes_pair_image(photo, label, size)
                image.save(stage / split / f"{frame}.jpg", "JPEG", quality=100, subsampling=0)

            _parallel(save, items, f"cityscapes {split}", progress)
        publish_dir(stage, out, overwrite)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return {split: len(items) for split, items in pairs.items()}


# --- two folders -> unpaired ----------------------------------------------------------------


@dataclass
class UnpairedReport:
    """What :func:`prepare_unpaired` wrote and skipped."""

    counts: dict[str, int] = field(default_factory=dict)  # trainA, testA, trainB, testB
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, reason)


def unique_names(files: Sequence[Path], root: Path) -> list[str]:
    """A flat file name per file of a recursive listing, unique (case-insensitively).

    A file keeps its own name unless another file has the same one; then its path below
    ``root`` joined by ``_`` (``cats/1.jpg`` -> ``cats_1.jpg``), plus ``-N`` if still taken.
    """
    rels = [f.relative_to(root) for f in files]
    counts = Counter(r.name.lower() for r in rels)
    taken: set[str] = set()
    names = []
    for rel in rels:
        name = rel.name if counts[rel.name.lower()] == 1 else "_".join(rel.parts)
        stem, ext = os.path.splitext(name)
        candidate, k = name, 1
        while candidate.lower() in taken:
            candidate, k = f"{stem}-{k}{ext}", k + 1
        taken.add(candidate.lower())
        names.append(candidate)
    return names


def split_count(n: int, val_fraction: float) -> int:
    """How many of ``n`` images go to the test split: ``round(n * f)``, at least 1 and at
    most ``n - 1``, so neither split is empty."""
    return min(max(1, round(n * val_fraction)), n - 1)


def _domain_sources(folder: Path, flag: str) -> tuple[list[Path], list[tuple[Path, str]]]:
    """``(readable images, [(unreadable image, reason)])`` under ``folder``."""
    if not folder.is_dir():
        raise UserError(f"{flag} {folder} is not a folder of images")
    files = list_images(folder)
    bad = check_images(files, pairs=False)
    bad_set = {p for p, _ in bad}
    good = [f for f in files if f not in bad_set]
    if len(good) < 2:
        raise UserError(
            f"{flag} {folder} has {len(good)} readable images ({len(bad)} unreadable); "
            "need at least 2 (one for training, one for testing)"
        )
    return good, bad


def prepare_unpaired(
    a: str | Path,
    b: str | Path,
    out: str | Path,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> UnpairedReport:
    """Copy the images under ``a`` and ``b`` into ``out/{train,test}{A,B}/``.

    Per domain, the sorted readable files are shuffled with ``random.Random(f"{seed}:A")`` (or
    ``:B``) and the first :func:`split_count` go to ``test``. Files keep their bytes and
    extensions; names are made flat and unique by :func:`unique_names`. ``out/prepare.json``
    records the sources, seed, counts and every skipped file with its reason.
    """
    if not 0.0 < val_fraction < 1.0:
        raise UserError(f"--val-fraction {val_fraction} must be above 0 and below 1")
    out = Path(out)
    sources = {"A": Path(a), "B": Path(b)}
    for flag, src in (("--a", sources["A"]), ("--b", sources["B"])):
        s, o = src.resolve(), out.resolve()
        if s == o or s in o.parents or o in s.parents:
            raise UserError(f"--out {out} and {flag} {src} overlap; choose separate folders")
    report = UnpairedReport()
    plan: list[tuple[Path, Path]] = []  # (source file, path below out)
    for domain, src in sources.items():
        good, bad = _domain_sources(src, f"--{domain.lower()}")
        report.skipped += bad
        names = unique_names(good, src)
        order = list(range(len(good)))
        random.Random(f"{seed}:{domain}").shuffle(order)
        n_test = split_count(len(good), val_fraction)
        for split, idx in (("test", order[:n_test]), ("train", order[n_test:])):
            report.counts[f"{split}{domain}"] = len(idx)
            plan += [(good[i], Path(f"{split}{domain}", names[i])) for i in sorted(idx)]
    stage = _staging(out, overwrite)
    try:
        for sub in report.counts:
            (stage / sub).mkdir()
        _parallel(lambda item: shutil.copyfile(item[0], stage / item[1]), plan, "copy", progress)
        manifest = {
            "a": str(sources["A"]),
            "b": str(sources["B"]),
            "seed": seed,
            "val_fraction": val_fraction,
            "counts": report.counts,
            "skipped": [{"file": str(p), "reason": r} for p, r in report.skipped],
        }
        atomic_write_text(stage / "prepare.json", json.dumps(manifest, indent=2) + "\n")
        publish_dir(stage, out, overwrite)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return report
