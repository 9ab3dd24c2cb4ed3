"""``cg survey build``: the pictures a survey shows, like the report's figures 19 and 20.

From the images under ``--input`` (recursive, sorted) it picks ``n`` at random with
``random.Random(seed)`` — the same files for the same seed and folder — translates them with
the checkpoint's generator for ``direction`` (resized to the checkpoint's ``image_size``, as in
``cg translate``) and writes, into the survey folder::

    grid.png              one row per image: left the generated image, right its source (R7)
    pairs/NN_generated.png, pairs/NN_source.png    each row's two images, NN = 01 .. n
    manifest.json         checkpoint (path, sha256), its config, direction, seed, n, image size,
                          the chosen files (relative to --input), cg version

Every file is written atomically; ``manifest.json`` comes last, so a folder with a manifest is
a complete survey. A folder that already has one is refused (its ratings belong to its grid).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import torch

from cg import __version__
from cg.data import list_images, load_rgb
from cg.errors import UserError
from cg.files import atomic_write_text, sha256
from cg.images import sample_grid, save_image, to_uint8
from cg.translate import load_generator, prepare, translate_batch


def choose_inputs(input_dir: str | Path, n: int, seed: int) -> list[Path]:
    """``n`` images from ``input_dir`` (recursive), chosen with ``random.Random(seed)``, in
    the order drawn. A :class:`UserError` when the folder has fewer than ``n`` images."""
    folder = Path(input_dir)
    if not folder.is_dir():
        raise UserError(f"input folder {folder} does not exist")
    if n < 1:
        raise UserError(f"--n {n}: a survey needs at least one image")
    files = list_images(folder)
    if len(files) < n:
        raise UserError(
            f"{folder} has {len(files)} images (jpg, png, bmp, tif, webp), fewer than --n {n}; "
            "lower --n or add images"
        )
    return random.Random(seed).sample(files, n)


def build_survey(
    checkpoint: str | Path,
    direction: str,
    input_dir: str | Path,
    out: str | Path,
    n: int = 8,
    seed: int = 0,
    device: str = "cpu",
) -> dict[str, Any]:
    """Build a survey folder (see the module docstring); returns the manifest."""
    out = Path(out)
    if (out / "manifest.json").exists():
        raise UserError(
            f"{out} already holds a survey (manifest.json); choose another --out or delete it"
        )
    checkpoint = Path(checkpoint)
    files = choose_inputs(input_dir, n, seed)
    generator, cfg = load_generator(checkpoint, direction, device)
    sources = torch.stack([prepare(load_rgb(f), cfg.image_size) for f in files])
    outputs = torch.cat(
        [translate_batch(generator, sources[i : i + 16]).cpu() for i in range(0, n, 16)]
    )
    save_image(sample_grid(outputs, sources), out / "grid.png")
    pairs = []
    for i, (fake, real) in enumerate(zip(to_uint8(outputs), to_uint8(sources)), start=1):
        names = {"generated": f"pairs/{i:02d}_generated.png", "source": f"pairs/{i:02d}_source.png"}
        save_image(fake, out / names["generated"])
        save_image(real, out / names["source"])
        pairs.append(names)
    root = Path(input_dir)
    manifest = {
        "format": "cg-survey",
        "cg_version": __version__,
        "survey": out.resolve().name,
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": sha256(checkpoint),
        "direction": direction,
        "seed": seed,
        "n": n,
        "image_size": cfg.image_size,
        "input_dir": str(root),
        "inputs": [f.relative_to(root).as_posix() for f in files],
        "grid": "grid.png",
        "pairs": pairs,
        "layout": "one row per image: left generated, right source",
        "config": cfg.to_dict(),
    }
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return manifest
