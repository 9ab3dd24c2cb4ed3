"""Known degradations of images, to check what an image statistic says about each.

Every function takes images in [-1, 1], ``(N, C, H, W)``, and returns degraded images in
[-1, 1] of the same shape; the random ones draw from their own generator (``seed``), so a
degradation is the same on every machine. They stand for what a statistic must tell apart:

- :func:`blur`: Gaussian blur of standard deviation ``sigma`` pixels (what a pixel loss does);
- :func:`jpeg`: JPEG at a low ``quality`` (blocks: flattened 8x8 tiles and their seams);
- :func:`colour_patches`: a random colour offset per ``block`` x ``block`` tile (blotches:
  flat areas of wrong colour with sharp seams, as a small generator paints them);
- :func:`noise`: i.i.d. Gaussian noise of standard deviation ``sigma`` ([-1, 1] units).

A *copy of the input* needs no function: it is the input.
"""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from PIL import Image

from cg.data.datasets import to_float
from cg.images import to_uint8

__all__ = ["blur", "jpeg", "colour_patches", "noise"]


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of ``sigma`` pixels (a kernel of 3 sigma either side; 0: unchanged),
    reflecting at the borders (:func:`torchvision.transforms.functional.gaussian_blur`)."""
    if sigma < 0:
        raise ValueError(f"sigma={sigma} is negative; give a blur of 0 or more pixels")
    if sigma == 0:
        return images.clone()
    size = 2 * max(1, int(3 * sigma + 0.5)) + 1
    return TF.gaussian_blur(images.float(), kernel_size=size, sigma=sigma)


def jpeg(images: torch.Tensor, quality: int) -> torch.Tensor:
    """Each image saved as a JPEG of ``quality`` (1-100) and read back (Pillow's libjpeg,
    4:2:0 chroma subsampling, as the built-in data and most photographs are stored)."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quality={quality} is not a JPEG quality; give 1 to 100")
    out = []
    for x in to_uint8(images).permute(0, 2, 3, 1).numpy():
        buf = io.BytesIO()
        Image.fromarray(x).save(buf, format="JPEG", quality=quality)
        with Image.open(buf) as decoded:
            out.append(torch.from_numpy(np.array(decoded.convert("RGB"))))
    return to_float(torch.stack(out).permute(0, 3, 1, 2))


def colour_patches(
    images: torch.Tensor, block: int = 8, amplitude: float = 0.3, seed: int = 0
) -> torch.Tensor:
    """A random colour offset, uniform in ``[-amplitude, amplitude]`` per channel, added to
    every ``block`` x ``block`` tile (clipped to [-1, 1])."""
    n, c, h, w = images.shape
    if block < 1 or h % block or w % block:
        raise ValueError(f"block={block} does not tile {h} x {w} images; give a divisor of both")
    g = torch.Generator().manual_seed(seed)
    offsets = (torch.rand(n, c, h // block, w // block, generator=g) * 2 - 1) * amplitude
    tiles = F.interpolate(offsets, scale_factor=block, mode="nearest")
    return (images.float() + tiles).clamp(-1, 1)


def noise(images: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """I.i.d. Gaussian noise of standard deviation ``sigma`` added (clipped to [-1, 1])."""
    g = torch.Generator().manual_seed(seed)
    return (images.float() + torch.randn(images.shape, generator=g) * sigma).clamp(-1, 1)
