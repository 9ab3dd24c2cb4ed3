"""What each image statistic of the findings says about known degradations (``docs/findings.md``'s
degradation table, ``python -m cg.report.findings.degradations``; the tests hold each statistic to
the ordering its claim means).

Image sets (64 px): the built-in data of the design seed :data:`SEED` (faces and Simpsons of
face2simpson; Cityscapes photos and shoes, the targets of the paired sets, with their label
and edge maps as inputs), and a real photograph (matplotlib's sample ``grace_hopper.jpg``, in
crops). Cases (:mod:`cg.eval.degrade`): Gaussian blur of rising sigma, JPEG at low quality,
colour patches (blotches), noise, blur under colour patches, and a copy of the input.

Statistics, each read on a case and given over its reading on the clean images:

- ``detail``: the mean gradient ``D`` (:func:`cg.report.findings.scores.details`);
- ``sharpness``: edge sharpness (:func:`cg.report.findings.scores.edge_sharpness`), R9.4-blur's;
- ``invented detail``: ``D`` where the input is flat (paired sets), R9.2-detail's;
- ``identity``: ``|case - input|`` in [0, 1] units (absolute, paired sets), R9.5's; the
  cases degrade the *input* here, and ``target`` is the true translation;
- ``KID x 1000`` against the set's other half (absolute), R9.4-better's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from matplotlib import cbook
from PIL import Image

from cg.data.datasets import split_pair, to_float
from cg.data.synthetic import render
from cg.eval import degrade as G
from cg.eval.metrics import identity_distance
from cg.report.findings.kid import features, kid
from cg.report.findings.scores import details, flat_mask, mean_edge_sharpness, mean_invented_detail

#: The design seed of the built-in images (the report shows seeds 0-4).
SEED = 100
SIZE = 64
#: Images per set (KID: two halves of it).
COUNT = 16

#: Case name -> degradation of images in [-1, 1].
CASES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "clean": lambda x: x,
    "blur 0.5": lambda x: G.blur(x, 0.5),
    "blur 1": lambda x: G.blur(x, 1.0),
    "blur 2": lambda x: G.blur(x, 2.0),
    "JPEG 30": lambda x: G.jpeg(x, 30),
    "JPEG 10": lambda x: G.jpeg(x, 10),
    "patches": lambda x: G.colour_patches(x, 8, 0.3),
    "noise 0.05": lambda x: G.noise(x, 0.05),
    "noise 0.1": lambda x: G.noise(x, 0.1),
    "blur 1 + patches": lambda x: G.colour_patches(G.blur(x, 1.0), 8, 0.3),
}


def _tensor(image) -> torch.Tensor:

    return to_float(torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1))


@functools.cache
def image_set(name: str, count: int = COUNT) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(images, inputs)`` of a set: ``faces``, ``simpsons``, ``cityscapes`` (photos, label
    maps), ``shoes`` (photos, edge maps) or ``photo`` (crops of a real photograph)."""

    if name == "photo":
        with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as im:
            photo = im.convert("RGB")
        rng = np.random.default_rng(SEED)
        crops = []
        for _ in range(count):
            side = int(rng.integers(128, 256))
            x, y = (int(rng.integers(0, d - side)) for d in photo.size)
            crops.append(_tensor(photo.crop((x, y, x + side, y + side)).resize((SIZE, SIZE))))
        return torch.stack(crops), None
    if name in ("faces", "simpsons"):
        folder = "testA" if name == "faces" else "testB"
        images = [render("face2simpson", folder, i + 1, size=SIZE, seed=SEED) for i in range(count)]
        return torch.stack([_tensor(im) for im in images]), None
    dataset = {"cityscapes": "cityscapes", "shoes": "edges2shoes"}[name]

    pairs = [_tensor(render(dataset, "val", i + 1, size=SIZE, seed=SEED)) for i in range(count)]
    a, b = split_pair(torch.stack(pairs))
    # pix2pix pairs are A | B: Cityscapes photo | labels, edges2shoes edges | shoe
    return (a, b) if name == "cityscapes" else (b, a)


SETS = ("faces", "simpsons", "cityscapes", "shoes", "photo")
PAIRED = ("cityscapes", "shoes")


def readings(statistic: str, name: str) -> dict[str, float]:
    """``statistic`` on every case of set ``name`` (relative to clean, or absolute for
    ``identity`` and ``KID x 1000``, module docstring)."""
    images, inputs = image_set(name)
    if statistic == "identity":
        if inputs is None:
            raise ValueError(f"{name} has no inputs; identity is read on {', '.join(PAIRED)}")
        out = {c: float(identity_distance(f(inputs), inputs).mean()) for c, f in CASES.items()}
        return {**out, "target": float(identity_distance(images, inputs).mean())}
    if statistic == "KID x 1000":
        return _kid_readings(name)
    value = _statistic(statistic, inputs)
    clean = value(images)
    out = {c: value(f(images)) / clean for c, f in CASES.items()}
    if inputs is not None:
        out["copy of input"] = value(inputs) / clean
    return out


def _statistic(statistic: str, inputs: torch.Tensor | None) -> Callable[[torch.Tensor], float]:
    if statistic == "detail":
        return lambda x: float(details(x).mean())
    if statistic == "sharpness":
        return mean_edge_sharpness
    if statistic == "invented detail":
        if inputs is None:
            raise ValueError("invented detail is read where the input is flat: a paired set")
        mask = flat_mask(inputs)
        return lambda x: mean_invented_detail(x, mask)
    raise ValueError(f"no statistic {statistic!r}; give one of {', '.join(STATISTICS)}")


def _kid_readings(name: str) -> dict[str, float]:
    """KID x 1000 of each case of one half of the set against the other half as the real
    images; ``other domain``: the first half of the other face2simpson domain (what a
    generator that copies its input would give)."""

    images, _ = image_set(name)
    half = len(images) // 2
    real = features(images[half:])
    out = {c: 1000 * kid(features(f(images[:half])), real) for c, f in CASES.items()}
    other = {"faces": "simpsons", "simpsons": "faces"}.get(name)
    if other is not None:
        out["other domain"] = 1000 * kid(features(image_set(other)[0][:half]), real)
    return out


STATISTICS = ("detail", "sharpness", "invented detail", "identity", "KID x 1000")


def table() -> pd.DataFrame:
    """Every statistic's readings on every set it applies to: rows ``(statistic, set)``,
    columns the cases."""
    rows = {}
    for statistic in STATISTICS:
        sets = PAIRED if statistic in ("invented detail", "identity") else SETS
        if statistic == "KID x 1000":
            sets = ("faces", "simpsons")
        for name in sets:
            rows[(statistic, name)] = readings(statistic, name)
    return pd.DataFrame.from_dict(rows, orient="index")


def markdown(frame: pd.DataFrame) -> str:
    """The table as Markdown, two decimals, blank where a case does not apply."""
    cols = list(frame.columns)
    lines = ["| statistic | set | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for (statistic, name), r in frame.iterrows():
        cells = ["" if pd.isna(r[c]) else f"{r[c]:.2f}" for c in cols]
        lines.append(f"| {statistic} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    print(markdown(table()))


if __name__ == "__main__":
    main()
