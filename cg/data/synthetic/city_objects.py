"""The street scene's canvas and its objects: trees, poles with signs and lights, cars, people.

Objects stand on the ground plane of :mod:`cg.data.synthetic.city`; each is drawn in world
units (camera heights) through :meth:`Canvas.at`, so its size shrinks with depth as it should.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from cg.data.synthetic import paint as sp

_CAR_COLORS = [
    (0.15, 0.15, 0.16), (0.85, 0.86, 0.86), (0.55, 0.56, 0.58), (0.30, 0.32, 0.36),
    (0.10, 0.16, 0.35), (0.55, 0.08, 0.08), (0.92, 0.92, 0.90), (0.35, 0.40, 0.30),
]  # fmt: skip
_CLOTHES = [
    (0.1, 0.1, 0.12),
    (0.25, 0.3, 0.45),
    (0.6, 0.15, 0.12),
    (0.8, 0.8, 0.78),
    (0.3, 0.25, 0.2),
]


class Canvas:
    """Label ids, photo (float RGB 0..1) and depth of a ``W x W`` street scene, plus its
    randomly drawn layout (horizon, vanishing point, kerb and facade offsets)."""

    def __init__(self, rng: np.random.Generator, W: int, sky: int = 11) -> None:
        self.W = W
        centres = np.arange(W, dtype=np.float32) + 0.5  # pixel centres, as read-only views
        self.X = np.broadcast_to(centres[None, :], (W, W))
        self.Y = np.broadcast_to(centres[:, None], (W, W))
        self.hy = rng.uniform(0.36, 0.48) * W
        self.vx = rng.uniform(0.38, 0.62) * W
        self.u_left, self.u_right = -rng.uniform(1.0, 2.4), rng.uniform(1.0, 2.8)
        self.f_left = self.u_left - rng.uniform(0.9, 2.0)
        self.f_right = self.u_right + rng.uniform(0.9, 2.0)
        self.greenery = rng.uniform(0.05, 0.5)
        self.edge_lines = bool(rng.random() < 0.5)
        self.labels = np.full((W, W), sky, np.uint8)
        self.photo = np.zeros((W, W, 3), np.float32)
        self.depth = np.full((W, W), np.inf, np.float32)
        self.noise = sp.fractal_noise(rng, W, W, (6, 24, 96))  # plaster, asphalt, paving
        self.leaf = sp.fractal_noise(rng, W, W, (12, 40, 120))  # foliage

    def at(self, u: float, z: float, h: float = 0.0) -> tuple[float, float]:
        """Pixel of the world point at lateral offset ``u``, depth ``z``, height ``h``."""
        d = self.W / z
        return self.vx + u * d, self.hy + d * (1.0 - h)

    def box(self, u0: float, u1: float, z: float, h0: float, h1: float) -> list[float]:
        """Pixel rectangle of a frontal box at depth ``z`` (for ImageDraw.rectangle)."""
        (x0, y0), (x1, y1) = self.at(u0, z, h0), self.at(u1, z, h1)
        return [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]

    def stamp(self, mask: Image.Image, parts: dict[int, tuple], z: float) -> None:
        """Paint each part ``k`` drawn with value ``k`` in ``mask``: ``parts[k] = (label,
        colour)`` or ``(label, colour, amount)`` for ``colour * (1 + amount * leaf noise)``."""
        bbox = mask.getbbox()
        if bbox is None:
            return
        x0, y0, x1, y1 = bbox
        a = np.asarray(mask.crop(bbox))
        for k, (label, color, *amount) in parts.items():
            m = a == k
            if not m.any():
                continue
            self.labels[y0:y1, x0:x1][m] = label
            self.depth[y0:y1, x0:x1][m] = z
            px = np.broadcast_to(np.float32(color), (int(m.sum()), 3))
            if amount:
                px = px * (1 + amount[0] * self.leaf[y0:y1, x0:x1][m])[:, None]
            self.photo[y0:y1, x0:x1][m] = px


def _new(c: Canvas) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    return sp.blank_mask(c.W, c.W)


def _tree(c: Canvas, rng: np.random.Generator, u: float, z: float, ids: dict[str, int]) -> None:
    mask, draw = _new(c)
    trunk = rng.uniform(1.4, 2.4)
    draw.rectangle(c.box(u - 0.07, u + 0.07, z, 0, trunk + 0.3), fill=1)
    r = rng.uniform(0.9, 1.8)
    for _ in range(rng.integers(5, 9)):
        du, dh = rng.uniform(-0.6, 0.6) * r, rng.uniform(-0.3, 0.5) * r
        cx, cy = c.at(u + du, z, trunk + r * 0.8 + dh)
        rad = rng.uniform(0.45, 0.75) * r * c.W / z
        draw.ellipse([cx - rad, cy - rad * 0.9, cx + rad, cy + rad * 0.9], fill=2)
    green = sp.jitter(rng, (0.20, 0.30, 0.10), 0.05)
    parts = {1: (ids["vegetation"], (0.22, 0.18, 0.14)), 2: (ids["vegetation"], green, 1.2)}
    c.stamp(mask, parts, z)


def _pole(c: Canvas, rng: np.random.Generator, u: float, z: float, ids: dict[str, int]) -> None:
    mask, draw = _new(c)
    height = rng.uniform(3.5, 5.5)
    draw.rectangle(c.box(u - 0.04, u + 0.04, z, 0, height), fill=1)
    parts = {1: (ids["pole"], np.float32((0.42, 0.42, 0.40)))}
    kind = rng.random()
    if kind < 0.45:
        cx, cy = c.at(u, z, height - 0.4)
        rad = 0.22 * c.W / z
        shape = draw.ellipse if rng.random() < 0.6 else draw.rectangle
        shape([cx - rad, cy - rad, cx + rad, cy + rad], fill=2)
        sign = [(0.1, 0.3, 0.7), (0.75, 0.1, 0.1), (0.9, 0.8, 0.1)][rng.integers(3)]
        parts[2] = (ids["traffic_sign"], np.float32(sign))
    elif kind < 0.7:
        draw.rectangle(c.box(u - 0.14, u + 0.14, z, height - 0.8, height), fill=3)
        cx, cy = c.at(u, z, height - 0.2 - 0.25 * rng.integers(3))
        rad = 0.08 * c.W / z
        draw.ellipse([cx - rad, cy - rad, cx + rad, cy + rad], fill=4)
        lamp = [(0.9, 0.2, 0.1), (0.95, 0.7, 0.1), (0.2, 0.9, 0.4)][rng.integers(3)]
        parts[3] = (ids["traffic_light"], np.float32((0.12, 0.12, 0.12)))
        parts[4] = (ids["traffic_light"], np.float32(lamp))
    c.stamp(mask, parts, z)


def _car(c: Canvas, rng: np.random.Generator, u: float, z: float, ids: dict[str, int]) -> None:
    mask, draw = _new(c)
    length, half = rng.uniform(2.6, 3.2), 0.6
    side = u + half if u < -half else (u - half if u > half else None)
    if side is not None:  # the flank facing the camera's axis, drawn first (it is farther)
        ring = [
            c.at(side, z + dz, h) for dz, h in ((0, 0.15), (length, 0.15), (length, 0.6), (0, 0.6))
        ]
        draw.polygon(ring, fill=1)
        cabin = [(0.5, 0.6), (length - 0.3, 0.6), (length - 0.7, 0.95), (1.1, 0.95)]
        draw.polygon([c.at(side, z + dz, h) for dz, h in cabin], fill=1)
        glass = [(0.65, 0.64), (length - 0.4, 0.64), (length - 0.75, 0.9), (1.2, 0.9)]
        draw.polygon([c.at(side, z + dz, h) for dz, h in glass], fill=2)
        for wz in (0.6, length - 0.6):
            t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
            pts = [c.at(side, z + wz + 0.3 * np.cos(a), 0.2 + 0.2 * np.sin(a)) for a in t]
            draw.polygon(pts, fill=3)
    draw.rectangle(c.box(u - half, u + half, z, 0.12, 0.6), fill=1)
    cabin = [
        c.at(u - 0.55, z, 0.6),
        c.at(u + 0.55, z, 0.6),
        c.at(u + 0.45, z, 0.98),
        c.at(u - 0.45, z, 0.98),
    ]
    draw.polygon(cabin, fill=1)
    draw.polygon(
        [
            c.at(u - 0.47, z, 0.64),
            c.at(u + 0.47, z, 0.64),
            c.at(u + 0.4, z, 0.93),
            c.at(u - 0.4, z, 0.93),
        ],
        fill=2,
    )
    draw.rectangle(c.box(u - half, u + half, z, 0.1, 0.2), fill=3)
    for s in (-1, 1):
        draw.rectangle(c.box(u + s * 0.58, u + s * 0.42, z, 0.0, 0.12), fill=3)
        draw.rectangle(c.box(u + s * 0.57, u + s * 0.43, z, 0.44, 0.54), fill=4)
    draw.rectangle(c.box(u - 0.14, u + 0.14, z, 0.25, 0.34), fill=5)
    body = sp.jitter(rng, _CAR_COLORS[rng.integers(len(_CAR_COLORS))], 0.03)
    car = ids["car"]
    parts = {
        1: (car, body),
        2: (car, np.float32((0.12, 0.14, 0.17))),
        3: (car, np.float32((0.05, 0.05, 0.05))),
        4: (car, np.float32((0.7, 0.08, 0.06))),
        5: (car, np.float32((0.9, 0.9, 0.86))),
    }
    c.stamp(mask, parts, z)


def _person(c: Canvas, rng: np.random.Generator, u: float, z: float, ids: dict[str, int]) -> None:
    mask, draw = _new(c)
    tall = rng.uniform(1.05, 1.25)
    stride = rng.uniform(0.0, 0.08)
    draw.polygon(
        [
            c.at(u - 0.12 - stride, z, 0),
            c.at(u - 0.02 - stride, z, 0),
            c.at(u + 0.02, z, 0.5 * tall),
            c.at(u - 0.14, z, 0.5 * tall),
        ],
        fill=1,
    )
    draw.polygon(
        [
            c.at(u + 0.02 + stride, z, 0),
            c.at(u + 0.12 + stride, z, 0),
            c.at(u + 0.14, z, 0.5 * tall),
            c.at(u - 0.02, z, 0.5 * tall),
        ],
        fill=1,
    )
    draw.rounded_rectangle(c.box(u - 0.17, u + 0.17, z, 0.46 * tall, 0.86 * tall), 2, fill=2)
    cx, cy = c.at(u, z, 0.93 * tall)
    rad = 0.085 * c.W / z
    draw.ellipse([cx - rad, cy - rad * 1.2, cx + rad, cy + rad * 1.2], fill=3)
    skin = [(0.85, 0.68, 0.56), (0.55, 0.38, 0.26), (0.35, 0.24, 0.18)][rng.integers(3)]
    person = ids["person"]
    parts = {
        1: (person, sp.jitter(rng, (0.15, 0.17, 0.25), 0.08)),
        2: (person, sp.jitter(rng, _CLOTHES[rng.integers(len(_CLOTHES))], 0.08)),
        3: (person, np.float32(skin)),
    }
    c.stamp(mask, parts, z)


def _spread(rng: np.random.Generator, n: int, z0: float, z1: float, gap: float) -> np.ndarray:
    """``n`` depths in ``[z0, z1)`` at least ``gap`` apart (fewer if they do not fit)."""
    z = z0 + np.cumsum(rng.uniform(gap, gap * 2.5, n)) - gap
    return z[z < z1]


def draw_objects(c: Canvas, rng: np.random.Generator, ids: dict[str, int]) -> None:
    """Place trees, poles, cars and people on the street and draw them back to front."""
    Draw = Callable[[Canvas, np.random.Generator, float, float, dict[str, int]], None]
    todo: list[tuple[float, float, Draw]] = []
    for s, kerb, facade in ((-1, c.u_left, c.f_left), (1, c.u_right, c.f_right)):
        for z in _spread(rng, rng.poisson(c.greenery * 8), 3.0, 60.0, 4.0):
            todo.append((z, facade - s * 0.45, _tree))
        for z in _spread(rng, rng.integers(0, 4), 2.5, 45.0, 5.0):
            todo.append((z, kerb + s * 0.25, _pole))
        for z in _spread(rng, rng.integers(0, 6), 3.0, 55.0, 3.6):
            todo.append((z, kerb - s * 0.75, _car))
        for z in _spread(rng, rng.integers(0, 4), 3.0, 40.0, 2.0):
            lo, hi = sorted((facade - s * 0.2, kerb + s * 0.2))
            todo.append((z, rng.uniform(lo, hi), _person))
    lanes = np.arange(c.u_left + 2.0, c.u_right - 0.9, 2.2)
    for z in _spread(rng, rng.integers(0, 3), 5.0, 45.0, 6.0):
        if len(lanes):
            todo.append((z, float(rng.choice(lanes)), _car))
    for z, u, draw in sorted(todo, key=lambda t: -t[0]):
        draw(c, rng, u, float(z), ids)
