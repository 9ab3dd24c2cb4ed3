"""Built-in synthetic datasets: procedural stand-ins for the report's three datasets (R6).

Each is written in the real dataset's on-disk format, so everything downstream reads it exactly
as it would read the real data::

    cityscapes    pix2pix   train/1.jpg ... val/1.jpg       photo (A) | label map (B)
    edges2shoes   pix2pix   train/1_AB.jpg ... val/..       edge map (A) | shoe photo (B)
    face2simpson  unpaired  trainA/ testA/ (human faces), trainB/ testB/ (Simpsons)

Images are JPEG (quality 90). Every image is a function of ``(seed, dataset, folder, index)``
alone (its own ``numpy`` generator), so asking for more images keeps the first ones unchanged,
and the same seed gives the same bytes. Files are written under a hidden temporary name and then
renamed, so an interrupted run never leaves a truncated image under a real name. The folder
gets a ``cg-synth.json`` note of what made it (``"complete": false`` until the last image is
written); rerunning into such a folder replaces its images (stale ones of a larger earlier run
are removed); any other non-empty folder is refused.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
from PIL import Image

from cg.data import SYNTHETIC_NAMES
from cg.data.formats import DatasetFiles, list_images, scan_dataset
from cg.data.synthetic.city import render_cityscapes
from cg.data.synthetic.faces import render_face
from cg.data.synthetic.shoes import render_shoe
from cg.data.synthetic.simpsons import render_simpson
from cg.errors import UserError

MARKER = "cg-synth.json"
#: The version of the renderers' drawings, raised whenever one changes what it draws: it is in
#: the ``cg-synth.json`` note and in the names of the report's cached dataset folders, so a
#: cache made by other renderers is never taken for this one's.
VERSION = 3
JPEG_QUALITY = 90
_ALL_FOLDERS = ("train", "val", "trainA", "trainB", "testA", "testB")

Render = Callable[[np.random.Generator, int], Image.Image]
# (folder, file name pattern, renderer, count key) per dataset; the folder's position in
# _ALL_FOLDERS is part of each image's random stream.
_LAYOUT: dict[str, list[tuple[str, str, Render, str]]] = {
    "cityscapes": [
        ("train", "{}.jpg", render_cityscapes, "train"),
        ("val", "{}.jpg", render_cityscapes, "val"),
    ],
    "edges2shoes": [
        ("train", "{}_AB.jpg", render_shoe, "train"),
        ("val", "{}_AB.jpg", render_shoe, "val"),
    ],
    "face2simpson": [
        ("trainA", "{:05d}.jpg", render_face, "train"),
        ("trainB", "{:05d}.jpg", render_simpson, "train"),
        ("testA", "{:05d}.jpg", render_face, "val"),
        ("testB", "{:05d}.jpg", render_simpson, "val"),
    ],
}


def image_rng(seed: int, name: str, folder: str, index: int) -> np.random.Generator:
    """The generator of one image: seeded from ``(seed, dataset, folder, index)`` only."""
    key = [seed, SYNTHETIC_NAMES.index(name), _ALL_FOLDERS.index(folder), index]
    return np.random.default_rng(key)


def render(name: str, folder: str, index: int, *, size: int = 64, seed: int = 0) -> Image.Image:
    """Image ``index`` (1-based) of ``folder`` of the synthetic dataset ``name``."""
    renderer = next(r for f, _, r, _ in _LAYOUT[name] if f == folder)
    return renderer(image_rng(seed, name, folder, index), size)


def render_val(name: str, domain: str, index: int, *, size: int = 64, seed: int = 0) -> Image.Image:
    """Validation image ``index`` (1-based) of ``domain`` (``a`` or ``b``) of the synthetic
    dataset ``name``, ``size`` pixels square: a half of a ``val/`` pair (pix2pix) or an image of
    ``testA/`` or ``testB/`` (unpaired), as :func:`synthesize` would write it (before JPEG)."""
    if domain not in ("a", "b"):
        raise UserError(f"domain={domain!r} must be a or b")
    folders = [f for f, _, _, count in _LAYOUT[name] if count == "val"]
    if len(folders) == 1:  # pix2pix: A | B side by side
        pair = render(name, folders[0], index, size=size, seed=seed)
        return pair.crop((0, 0, size, size) if domain == "a" else (size, 0, 2 * size, size))
    return render(name, folders["ab".index(domain)], index, size=size, seed=seed)


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a hidden temporary name and a rename (no fsync: the
    files are regenerated in seconds; the rename alone keeps half-written files invisible)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_jpeg(path: Path, image: Image.Image) -> None:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=JPEG_QUALITY)
    _write(path, buf.getvalue())


def _render_files(name: str, size: int, seed: int, jobs: Sequence[tuple[str, int, str]]) -> None:
    """Render and write ``(folder, index, path)`` jobs (run in worker processes too)."""
    for folder, index, path in jobs:
        _write_jpeg(Path(path), render(name, folder, index, size=size, seed=seed))


def default_workers(n_images: int) -> int:
    """Worker processes worth starting for ``n_images``: one per core, each with 32 images
    or more (starting one costs about as much as rendering a few dozen 64 px images)."""
    return max(1, min(os.cpu_count() or 1, 8, n_images // 32))


def _run(name: str, size: int, seed: int, jobs: list[tuple[str, int, str]], workers: int) -> None:
    if workers <= 1:
        _render_files(name, size, seed, jobs)
        return
    # "spawn": the workers import numpy and PIL only, never a copy of the caller's threads
    ctx = multiprocessing.get_context("spawn")
    per = max(8, -(-len(jobs) // (4 * workers)))
    try:
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures = [
                pool.submit(_render_files, name, size, seed, jobs[i : i + per])
                for i in range(0, len(jobs), per)
            ]
            for f in futures:
                f.result()
    except BrokenProcessPool:
        raise UserError(
            f"the {workers} rendering processes stopped unexpectedly; run with workers=1 "
            "(--workers 1), and when calling synthesize() from a script, call it under "
            '`if __name__ == "__main__":`'
        ) from None


def _check_args(name: str, size: int, n_train: int, n_val: int, seed: int) -> None:
    if name not in SYNTHETIC_NAMES:
        raise UserError(
            f"unknown synthetic dataset {name!r}; choose one of {', '.join(SYNTHETIC_NAMES)}"
        )
    if not 16 <= size <= 1024:
        raise UserError(f"size={size} must be between 16 and 1024 pixels")
    if n_train < 1 or n_val < 1:
        raise UserError(f"n_train={n_train} and n_val={n_val} must both be at least 1")
    if seed < 0:
        raise UserError(f"seed={seed} must not be negative")


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise UserError(
            f"{out} is not empty and was not made by `cg synth` (no {MARKER}); "
            "choose an empty or new folder"
        )
    out.mkdir(parents=True, exist_ok=True)


def _remove_stale(out: Path, written: set[Path]) -> None:
    """Delete images of an earlier run that this run did not write, and emptied folders."""
    for folder in _ALL_FOLDERS:
        d = out / folder
        if not d.is_dir():
            continue
        for f in list_images(d):
            if f not in written:
                f.unlink()
        for f in d.glob(".*.tmp"):  # left by an interrupted run
            f.unlink()
        if not any(d.iterdir()):
            d.rmdir()


def synthesize(
    name: str,
    out: str | Path,
    *,
    size: int = 64,
    n_train: int = 200,
    n_val: int = 20,
    seed: int = 0,
    workers: int | None = 1,
) -> DatasetFiles:
    """Write the synthetic dataset ``name`` into ``out`` and return its file lists.

    ``n_train`` and ``n_val`` count pairs (pix2pix) or images per domain (unpaired); ``size``
    is the side of each square image (a pair is ``2 * size`` wide). ``workers > 1`` renders
    in that many processes (started with "spawn": call it under ``if __name__ == "__main__"``
    in a script), ``None`` picks :func:`default_workers`; the files are the same whatever the
    number of workers.
    """
    _check_args(name, size, n_train, n_val, seed)
    if workers is not None and workers < 1:
        raise UserError(f"workers={workers} must be at least 1")
    out = Path(out)
    _prepare(out)
    counts = {"train": n_train, "val": n_val}
    jobs: list[tuple[str, int, str]] = []
    for folder, pattern, _, count in _LAYOUT[name]:
        (out / folder).mkdir(exist_ok=True)
        jobs += [
            (folder, i, str(out / folder / pattern.format(i))) for i in range(1, counts[count] + 1)
        ]
    note = {
        "name": name,
        "size": size,
        "n_train": n_train,
        "n_val": n_val,
        "seed": seed,
        "version": VERSION,
    }
    _write_note(out, {**note, "complete": False})  # the folder is ours even if interrupted
    _run(name, size, seed, jobs, min(workers or default_workers(len(jobs)), len(jobs)))
    _remove_stale(out, {Path(p) for _, _, p in jobs})
    _write_note(out, {**note, "complete": True})
    return scan_dataset(out)


def _write_note(out: Path, note: dict) -> None:
    _write(out / MARKER, (json.dumps(note, indent=2) + "\n").encode())


def read_note(root: str | Path) -> dict | None:
    """The ``cg-synth.json`` note of a folder written by :func:`synthesize`, else None."""
    try:
        return json.loads((Path(root) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
