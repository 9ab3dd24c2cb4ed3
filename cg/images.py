"""Images as tensors: [-1, 1] floats to uint8, sample grids, encoding and saving.

Sample grids follow the report's convention (R7): in every row the model's output on the left
and the source image on the right; where a figure shows both splits, the training rows come
first (top) and the validation rows below them, after a white gap.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from PIL import Image
from torchvision.utils import make_grid

from cg.files import atomic_write_bytes


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Map float images in [-1, 1] to uint8 in [0, 255] (on the CPU)."""
    x = images.detach().float().cpu()
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def sample_grid(outputs: torch.Tensor, sources: torch.Tensor, padding: int = 2) -> torch.Tensor:
    """A grid with one row per image: ``[output | source]``.

    ``outputs`` and ``sources`` are float tensors in [-1, 1] of shape (N, 3, H, W), or uint8.
    Returns a uint8 tensor (3, H', W').
    """
    if outputs.shape != sources.shape:
        raise ValueError(f"outputs {tuple(outputs.shape)} and sources {tuple(sources.shape)}")
    out = outputs if outputs.dtype == torch.uint8 else to_uint8(outputs)
    src = sources if sources.dtype == torch.uint8 else to_uint8(sources)
    rows = torch.stack([out.cpu(), src.cpu()], dim=1).flatten(0, 1)
    return make_grid(rows, nrow=2, padding=padding, pad_value=255)


def stack_grids(*grids: torch.Tensor, gap: int = 8) -> torch.Tensor:
    """Stack uint8 grids (3, H_i, W) vertically with ``gap`` white rows between them.

    Used for "top train, bottom validation" sample figures; empty (zero-height) grids are
    skipped, narrower ones are padded white on the right.
    """
    parts = [g for g in grids if g.numel()]
    if not parts:
        raise ValueError("stack_grids needs at least one non-empty grid")
    width = max(g.shape[-1] for g in parts)
    white = torch.full((3, gap, width), 255, dtype=torch.uint8)
    rows: list[torch.Tensor] = []
    for i, g in enumerate(parts):
        if g.shape[-1] < width:
            pad = torch.full((3, g.shape[1], width - g.shape[-1]), 255, dtype=torch.uint8)
            g = torch.cat([g, pad], dim=-1)
        if i:
            rows.append(white)
        rows.append(g)
    return torch.cat(rows, dim=1)


#: Pillow's format for each file suffix an output may have; anything else is written as PNG.
FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}


def encode(image: torch.Tensor, suffix: str = ".png") -> bytes:
    """A uint8 (3, H, W) tensor encoded in the format of ``suffix`` (JPEG and WebP: quality 95;
    PNG and the others: lossless)."""
    fmt = FORMATS.get(suffix.lower(), "PNG")
    buf = io.BytesIO()
    extra = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    Image.fromarray(image.permute(1, 2, 0).contiguous().numpy()).save(buf, format=fmt, **extra)
    return buf.getvalue()


def save_image(image: torch.Tensor, path: str | Path) -> Path:
    """Save a uint8 (3, H, W) tensor as a PNG, atomically."""
    path = Path(path)
    atomic_write_bytes(path, encode(image, ".png"))
    return path
