"""What the data holds for each finding's mechanism, measured on the images without training.

- **Target variance left given the input** (R9.2, R9.3, paired data): the share of the
  targets' pixel variance that the input does not fix. Each target pixel is predicted from
  its input's neighbourhood (a :data:`PATCH` x :data:`PATCH` patch at :data:`SIDE` px and the
  pixel's position) by the mean of its :data:`NEIGHBOURS` nearest training pixels (k-nearest
  neighbour regression over every pixel of the training pairs); the validation pairs' mean
  squared error of that prediction over their variance is what is left. Near 0: the input
  dictates the target (a copy task); near 1: it says little (a shoe's colour given its
  outline). Only what the input leaves open gives a pixel-loss model something to blur and a
  discriminator something to invent (R9.2), and a model something to memorise (R9.3).
- **Texture energy by frequency band** (R9.4; every domain): the mean square of the grey
  level's band-pass ``blur(x, s1) - blur(x, s2)`` (Gaussian, ``s`` in px) for the bands of
  :data:`BANDS`, in [0, 1] units x 1000. Skin, hair and shading put energy in the fine
  bands; flat cartoons put theirs in the coarse ones, at their outlines.
- **Diversity** (R9.4): the mean distance between two images' mean colours (skin tones and
  backgrounds), and between two images at 16 px (faces, poses and hair), in [0, 1] units.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F

from cg.data import DomainDataset
from cg.eval.degrade import blur

#: The k-NN regression: input patches of PATCH px at SIDE px, NEIGHBOURS nearest pixels.
SIDE, PATCH, NEIGHBOURS = 32, 5, 8
#: The frequency bands: (name, (s1, s2)) with s the Gaussian sigma in px (0: the image).
BANDS = (
    ("fine (1-2 px)", (0.0, 1.0)),
    ("middle (2-4 px)", (1.0, 2.0)),
    ("coarse (4-8 px)", (2.0, 4.0)),
)
#: Images per domain measured (the first ones of each split); the regression predicts the
#: pixels of the first REGRESSED validation images (about half a CPU-second per image at 64
#: training images).
MAX_IMAGES, REGRESSED = 128, 16


def _grey(images: torch.Tensor) -> torch.Tensor:
    return ((images.float() + 1) / 2).mean(1, keepdim=True)


def band_energy(images: torch.Tensor) -> dict[str, float]:
    """Mean texture energy per band of :data:`BANDS` (x 1000, module docstring)."""
    g = _grey(images)
    out = {}
    for name, (s1, s2) in BANDS:
        band = blur(g, s1) - blur(g, s2)
        out[name] = 1000 * float(band.pow(2).mean())
    return out


def diversity(images: torch.Tensor) -> dict[str, float]:
    """Mean pairwise distance of the images' mean colours, and of the images at 16 px."""
    x = (images.float() + 1) / 2
    colours = x.mean((2, 3))
    small = F.adaptive_avg_pool2d(x, 16).flatten(1)
    pairs = torch.triu_indices(len(x), len(x), 1)

    def spread(v: torch.Tensor) -> float:
        return float((v[pairs[0]] - v[pairs[1]]).abs().mean(1).mean())

    return {"colour diversity": spread(colours), "appearance diversity": spread(small)}


def _pixels(inputs: torch.Tensor) -> torch.Tensor:
    """Per pixel at SIDE px: its input patch and its position, ``(N * SIDE^2, features)``."""
    x = F.interpolate(inputs.float(), size=(SIDE, SIDE), mode="area")
    patches = F.unfold(F.pad(x, (PATCH // 2,) * 4, mode="replicate"), PATCH)  # (N, C*P*P, L)
    n = len(x)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, SIDE), torch.linspace(-1, 1, SIDE), indexing="ij")
    where = torch.stack([ys.flatten(), xs.flatten()]).expand(n, 2, SIDE * SIDE)
    return torch.cat([patches, where], 1).transpose(1, 2).reshape(n * SIDE * SIDE, -1)


def _targets(images: torch.Tensor) -> torch.Tensor:
    x = F.interpolate(images.float(), size=(SIDE, SIDE), mode="area")
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])


def variance_left(
    train_in: torch.Tensor, train_out: torch.Tensor, val_in: torch.Tensor, val_out: torch.Tensor
) -> float:
    """The share of the validation targets' variance that the k-NN regression on the input
    leaves (module docstring); images in [-1, 1]."""
    fx, fy = _pixels(train_in), _targets(train_out)
    qx, qy = _pixels(val_in), _targets(val_out)
    predicted = torch.empty_like(qy)
    # |q - f|^2 = |q|^2 - 2 q.f + |f|^2; |q|^2 is the same for every f of a query, so the
    # nearest are those of the smallest -2 q.f + |f|^2: one matrix product, no square roots
    norms = fx.pow(2).sum(1)
    for i in range(0, len(qx), 1024):
        ranking = torch.addmm(norms, qx[i : i + 1024], fx.T, alpha=-2)
        nearest = ranking.topk(NEIGHBOURS, largest=False).indices
        predicted[i : i + 1024] = fy[nearest].mean(1)
    error = (predicted - qy).pow(2).mean()
    return float(error / qy.var(0, unbiased=False).sum() * qy.shape[1])


def _images(paths: list, size: int, half: str | None) -> torch.Tensor:

    ds = DomainDataset(paths[:MAX_IMAGES], size, half=half)
    return torch.stack([ds[i] for i in range(len(ds))])


def measure(data: Any, image_size: int, domains: tuple[str, str] = ("A", "B")) -> pd.DataFrame:
    """The measurements of a dataset's files (:class:`~cg.data.formats.DatasetFiles`) at the
    runs' image size: one row per domain (validation images), and for paired data the
    variance of each domain left given the other."""
    rows: dict[str, dict[str, float]] = {}
    half = {"a": "a", "b": "b"} if data.paired else {"a": None, "b": None}
    split = {
        (d, s): _images(getattr(data, f"{s}_{d}"), image_size, half[d])
        for d in "ab"
        for s in ("train", "val")
    }
    for d, name in zip("ab", domains):
        row = {**band_energy(split[(d, "val")]), **diversity(split[(d, "val")])}
        if data.paired:
            o = "b" if d == "a" else "a"
            row["variance left given the other domain"] = variance_left(
                split[(o, "train")],
                split[(d, "train")],
                split[(o, "val")][:REGRESSED],
                split[(d, "val")][:REGRESSED],
            )
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("domain")
