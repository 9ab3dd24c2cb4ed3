"""Painting helpers shared by the procedural datasets: noise, gradients, masks, resampling.

Images are painted as ``float32`` arrays ``(H, W, 3)`` in 0..1 at a higher internal resolution
(:func:`supersample`), then reduced with an area filter, which anti-aliases every edge.
Every random draw comes from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Color = Sequence[float]


def supersample(size: int) -> int:
    """Internal resolution factor: at least 2, and at least 192 internal pixels."""
    return max(2, -(-192 // size))


def smooth_noise(
    rng: np.random.Generator, h: int, w: int, cells: float, cells_y: float | None = None
) -> np.ndarray:
    """Value noise in 0..1 with about ``cells`` features across the width and ``cells_y``
    down the height (default: square features), bicubic (bilinear for the finest)."""
    gw = max(2, int(cells) + 2)
    gh = max(2, int(cells * h / w if cells_y is None else cells_y) + 2)
    grid = rng.random((gh, gw), dtype=np.float32)
    fine = gw * 6 > w  # features of a few pixels: bilinear is as good and faster
    kind = Image.Resampling.BILINEAR if fine else Image.Resampling.BICUBIC
    up = Image.fromarray(grid, "F").resize((w, h), kind)
    return np.asarray(up, dtype=np.float32)


def fractal_noise(
    rng: np.random.Generator, h: int, w: int, cells: Sequence[float] = (4, 16, 64)
) -> np.ndarray:
    """Octaves of value noise with weights 1/2, 1/4, ... (coarsest first), centred on 0, about
    -0.5..0.5. Built as a pyramid: each octave's grid is added to the upsampled sum of the
    coarser ones, and only the finest is resized to ``h x w`` (one full-size resize)."""
    acc: np.ndarray | None = None
    total = 0.0
    for k, c in enumerate(sorted(cells)):
        gw, gh = max(2, int(c) + 2), max(2, int(c * h / w) + 2)
        weight = 0.5 ** (k + 1)
        grid = weight * (rng.random((gh, gw), dtype=np.float32) - 0.5)
        if acc is not None:
            up = Image.fromarray(acc, "F").resize((gw, gh), Image.Resampling.BICUBIC)
            grid += np.asarray(up, np.float32)
        acc, total = grid, total + weight
    assert acc is not None
    kind = Image.Resampling.BILINEAR if acc.shape[1] * 6 > w else Image.Resampling.BICUBIC
    out = np.asarray(Image.fromarray(acc, "F").resize((w, h), kind), np.float32)
    return out / total


def vertical_gradient(h: int, w: int, top: Color, bottom: Color) -> np.ndarray:
    """``(h, w, 3)`` blend from colour ``top`` to ``bottom``."""
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    return np.broadcast_to((1 - t) * np.float32(top) + t * np.float32(bottom), (h, w, 3)).copy()


def blank_mask(h: int, w: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    m = Image.new("L", (w, h), 0)
    return m, ImageDraw.Draw(m)


def as_mask(m: Image.Image) -> np.ndarray:
    return np.asarray(m) > 127


def soft(m: Image.Image, radius: float) -> np.ndarray:
    """A mask image blurred by ``radius`` px, as float weights 0..1."""
    return np.asarray(m.filter(ImageFilter.GaussianBlur(radius)), np.float32) / 255.0


def fill(canvas: np.ndarray, mask: np.ndarray, color: Color | np.ndarray) -> None:
    """Paint ``color`` (a colour, or an ``(H, W, 3)`` array) where the bool ``mask`` is set."""
    canvas[mask] = color[mask] if isinstance(color, np.ndarray) and color.ndim == 3 else color


def blend(canvas: np.ndarray, weight: np.ndarray, color: Color | np.ndarray) -> None:
    """``canvas = (1 - weight) * canvas + weight * color`` in place; ``weight`` is ``(H, W)``."""
    w = weight[..., None]
    canvas *= 1 - w
    canvas += w * (np.asarray(color, np.float32))


def to_image(canvas: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(canvas, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")


def reduce(canvas: np.ndarray, size: int | tuple[int, int]) -> Image.Image:
    """An RGB image of ``size`` (int: square; tuple: width, height), area-averaged."""
    wh = (size, size) if isinstance(size, int) else size
    return to_image(canvas).resize(wh, Image.Resampling.BOX)


def jitter(rng: np.random.Generator, color: Color, amount: float) -> np.ndarray:
    """``color`` with each channel moved by up to ``amount`` (clipped to 0..1)."""
    c = np.float32(color) + rng.uniform(-amount, amount, 3).astype(np.float32)
    return np.clip(c, 0, 1)


def shade(color: Color, factor: float) -> np.ndarray:
    return np.clip(np.float32(color) * factor, 0, 1)


def boundaries(labels: np.ndarray) -> np.ndarray:
    """Bool mask of pixels whose right or lower neighbour has a different label."""
    edge = np.zeros(labels.shape, bool)
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return edge


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation with a square of side ``2 * radius + 1`` (PIL's MaxFilter)."""
    if radius <= 0:
        return mask
    img = Image.fromarray(mask.astype(np.uint8) * 255, "L")
    return as_mask(img.filter(ImageFilter.MaxFilter(2 * radius + 1)))


def chaikin(
    points: Sequence[tuple[float, float]], iters: int = 3, closed: bool = True
) -> np.ndarray:
    """Smooth a polygon (or open polyline) by Chaikin's corner cutting: each edge ``p q`` is
    replaced by the points at 1/4 and 3/4 of it, ``iters`` times."""
    p = np.asarray(points, np.float64)
    for _ in range(iters):
        q = np.roll(p, -1, axis=0) if closed else p[1:]
        a = p if closed else p[:-1]
        cut = np.empty((2 * len(a), 2))
        cut[0::2] = 0.75 * a + 0.25 * q
        cut[1::2] = 0.25 * a + 0.75 * q
        p = cut if closed else np.vstack([p[:1], cut, p[-1:]])
    return p


def flat(points: np.ndarray) -> list[tuple[float, float]]:
    """``(n, 2)`` points as the list of tuples ImageDraw wants."""
    return [(float(x), float(y)) for x, y in points]


def ellipse(W: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    """Bool mask ``(W, W)`` of an axis-aligned ellipse."""
    m, d = blank_mask(W, W)
    d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255)
    return as_mask(m)


def polygon(W: int, points: Sequence[tuple[float, float]] | np.ndarray) -> np.ndarray:
    """Bool mask ``(W, W)`` of a polygon."""
    m, d = blank_mask(W, W)
    d.polygon(flat(np.asarray(points, np.float64)), fill=255)
    return as_mask(m)


class Layer:
    """A foreground being painted: colour ``(W, W, 3)`` premultiplied by its coverage
    ``(W, W)``, both 0..1 (premultiplied, so rotating it resamples colour and coverage alike)."""

    def __init__(self, W: int) -> None:
        self.W = W
        self.rgb = np.zeros((W, W, 3), np.float32)
        self.alpha = np.zeros((W, W), np.float32)

    def put(self, mask: np.ndarray, color: Color | np.ndarray) -> None:
        """Cover ``mask`` (bool) with ``color``: a colour, or an ``(W, W, 3)`` texture."""
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if rows.size == 0:
            return
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        m, c = mask[box], np.asarray(color, np.float32)
        self.rgb[box][m] = c[box][m] if c.ndim == 3 else c
        self.alpha[box][m] = 1.0

    def over(self, background: np.ndarray) -> np.ndarray:
        """This layer composited over ``background``: ``rgb + (1 - alpha) * background``."""
        return self.rgb + background * (1 - self.alpha[..., None])

    def rotated(self, degrees: float, centre: tuple[float, float]) -> Layer:
        """This layer rotated by ``degrees`` (counter-clockwise) about ``centre`` (bilinear)."""
        rgba = np.concatenate([self.rgb, self.alpha[..., None]], axis=2)
        img = Image.fromarray((np.clip(rgba, 0, 1) * 255 + 0.5).astype(np.uint8), "RGBA")
        img = img.rotate(degrees, Image.Resampling.BILINEAR, center=centre)
        out = Layer(self.W)
        arr = np.asarray(img, np.float32) / 255.0
        out.rgb, out.alpha = arr[..., :3].copy(), arr[..., 3].copy()
        return out
