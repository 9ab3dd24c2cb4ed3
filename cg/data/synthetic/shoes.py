"""Procedural edges2shoes stand-in: a shoe photographed from the side on white, and its edges.

A shoe is drawn in its own coordinates: ``s`` runs along the sole from the toe (0, on the left,
as in the Zappos photos) to the heel (1), ``v`` is the height above the ground, both in units of
the shoe's length. A style (sneaker, boot, heel, flat) gives the top line of the upper as a few
control points, smoothed by Chaikin's corner cutting; the parts (outsole, midsole, upper, toe
cap, heel counter, stripe, tongue, opening, heel block) are painted as label regions, shaded and
textured for the photo, and their boundaries plus laces and stitching make the edge map. The
upper's material (creased leather, suede, knit mesh, canvas) is in the photo only: as in
edges2shoes, whose edges are outlines and seams, the input leaves it open.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from cg.data.synthetic import paint as sp

STYLES = ("sneaker", "boot", "heel", "flat")
_PARTS = ("outsole", "midsole", "upper", "toe", "counter", "stripe", "tongue", "opening", "heel")
P = {name: i + 1 for i, name in enumerate(_PARTS)}

_UPPERS = [
    (0.08, 0.08, 0.09), (0.36, 0.20, 0.10), (0.68, 0.48, 0.28), (0.92, 0.92, 0.90),
    (0.12, 0.16, 0.36), (0.70, 0.10, 0.12), (0.50, 0.50, 0.52), (0.88, 0.62, 0.70),
    (0.40, 0.42, 0.25), (0.40, 0.06, 0.12), (0.20, 0.45, 0.70), (0.85, 0.75, 0.55),
]  # fmt: skip
_SOLES = [(0.95, 0.95, 0.93), (0.12, 0.12, 0.12), (0.62, 0.42, 0.24), (0.85, 0.78, 0.65)]

# Top line of the upper: (s, height above the sole) from toe to heel, per style.
_TOPS = {
    "sneaker": [(0.0, 0.03), (0.02, 0.08), (0.1, 0.14), (0.3, 0.2), (0.5, 0.28), (0.58, 0.34),
                (0.66, 0.33), (0.78, 0.3), (0.9, 0.36), (0.97, 0.33), (1.0, 0.14)],
    "boot": [(0.0, 0.03), (0.02, 0.09), (0.1, 0.14), (0.3, 0.2), (0.42, 0.3), (0.47, 0.5),
             (0.5, 0.7), (0.55, 0.72), (0.85, 0.72), (0.9, 0.7), (0.9, 0.4), (0.96, 0.22),
             (1.0, 0.1)],
    "heel": [(0.0, 0.015), (0.03, 0.06), (0.15, 0.1), (0.32, 0.13), (0.38, 0.12), (0.5, 0.08),
             (0.8, 0.1), (0.95, 0.15), (1.0, 0.12)],
    "flat": [(0.0, 0.02), (0.02, 0.07), (0.12, 0.12), (0.35, 0.16), (0.45, 0.17), (0.55, 0.13),
             (0.8, 0.13), (0.95, 0.17), (1.0, 0.12)],
}  # fmt: skip


class _Shoe:
    """One random shoe: style, proportions, and the map from shoe to pixel coordinates."""

    def __init__(self, rng: np.random.Generator, W: int) -> None:
        self.rng, self.W = rng, W
        self.style = STYLES[rng.choice(4, p=[0.4, 0.2, 0.2, 0.2])]
        self.sole = {"sneaker": 0.07, "boot": 0.055, "heel": 0.015, "flat": 0.03}[self.style]
        self.sole *= rng.uniform(0.8, 1.3)
        self.heel_h = rng.uniform(0.12, 0.3) if self.style == "heel" else 0.0
        self.spring = rng.uniform(0.0, 0.04) if self.style == "sneaker" else 0.01
        jit = rng.uniform(-0.025, 0.025, (len(_TOPS[self.style]), 2)) * [0.3, 1.0]
        self.top = [
            (s + ds, max(v * rng.uniform(0.9, 1.15) + dv, 0.01))
            for (s, v), (ds, dv) in zip(_TOPS[self.style], jit)
        ]
        self.length = rng.uniform(0.8, 0.92)
        height = (max(v for _, v in self.top) + self.sole + self.heel_h) * self.length
        self.x0 = (1 - self.length) / 2 + rng.uniform(-0.03, 0.03)
        self.yg = 0.5 + height / 2 + rng.uniform(-0.04, 0.04)

    def base(self, s: np.ndarray | float) -> np.ndarray:
        """Height of the sole's bottom: toe spring at the front, raised seat for heels."""
        s = np.asarray(s, np.float64)
        spring = self.spring * np.clip((0.15 - s) / 0.15, 0, 1) ** 2
        t = np.clip((s - 0.3) / 0.45, 0, 1)
        return spring + self.heel_h * t * t * (3 - 2 * t)

    def px(self, s: np.ndarray | float, v: np.ndarray | float) -> np.ndarray:
        """Pixel coordinates ``(n, 2)`` of shoe points ``(s, v)``."""
        s, v = np.broadcast_arrays(np.asarray(s, np.float64), np.asarray(v, np.float64))
        x = (self.x0 + s * self.length) * self.W
        y = (self.yg - v * self.length) * self.W
        return np.stack([x.ravel(), y.ravel()], axis=1)

    def upper_line(self) -> np.ndarray:
        """Smoothed top line of the upper, as shoe coordinates ``(n, 2)``."""
        pts = [(0.0, 0.0)] + self.top + [(1.0, 0.0)]
        line = sp.chaikin(pts, 3, closed=False)
        line[:, 1] += self.base(line[:, 0]) + self.sole
        return line


def _draw_labels(shoe: _Shoe, draw: ImageDraw.ImageDraw, lines: ImageDraw.ImageDraw) -> None:
    rng, st = shoe.rng, shoe.style
    s = np.linspace(-0.015, 1.015, 48)
    b = shoe.base(s)
    sole = np.concatenate([shoe.px(s, b), shoe.px(s[::-1], (b + shoe.sole)[::-1])])
    draw.polygon(sp.flat(sp.chaikin(sole, 2)), fill=P["outsole"])
    mid = np.concatenate(
        [shoe.px(s, b + shoe.sole * 0.35), shoe.px(s[::-1], (b + shoe.sole)[::-1])]
    )
    if st in ("sneaker", "boot") and shoe.sole > 0.02:
        draw.polygon(sp.flat(sp.chaikin(mid, 2)), fill=P["midsole"])
    if st == "heel" or rng.random() < 0.4 * (st in ("boot", "flat")):
        top = shoe.base(0.8) + shoe.sole
        thin = rng.uniform(0.015, 0.06) if st == "heel" else 0.12
        blk = [(0.8, top), (1.0, top), (0.98, 0), (0.98 - thin, 0)]
        draw.polygon(sp.flat(shoe.px(*np.array(blk).T)), fill=P["heel"])
    line = shoe.upper_line()
    ss = np.linspace(1.0, 0.0, 40)
    upper = np.concatenate(
        [shoe.px(line[:, 0], line[:, 1]), shoe.px(ss, shoe.base(ss) + shoe.sole)]
    )
    draw.polygon(sp.flat(upper), fill=P["upper"])
    if rng.random() < 0.7:  # toe cap: the upper left of a curve near the toe
        cut = rng.uniform(0.14, 0.22)
        v_lo = float(shoe.base(cut)) + shoe.sole
        v_hi = float(np.interp(cut - 0.03, line[:, 0], line[:, 1]))
        curve = [(cut, v_lo), (cut - 0.012, (v_lo + v_hi) / 2), (cut - 0.03, v_hi)]
        region = [(-0.1, -0.1), (cut, -0.1), *curve, (cut - 0.03, 2.0), (-0.1, 2.0)]
        _clip_fill(draw, shoe.px(*np.array(region).T), P["toe"], P["upper"])
    if st != "heel" and rng.random() < 0.7:  # heel counter
        h = rng.uniform(0.12, 0.2)
        pts = np.array([(1.1, h + 0.05), (0.82, h + 0.03), (0.76, 0.0), (1.1, 0.0)])
        pts[:, 1] += shoe.base(pts[:, 0]) + shoe.sole
        _clip_fill(draw, shoe.px(*pts.T), P["counter"], P["upper"])
    if st == "sneaker" and rng.random() < 0.75:  # a side stripe
        a, c = rng.uniform(0.28, 0.4), rng.uniform(0.7, 0.82)
        t = np.linspace(0, 1, 20)
        v = shoe.base(a + (c - a) * t) + shoe.sole + 0.04 + rng.uniform(0.09, 0.16) * t**1.5
        band = np.concatenate(
            [shoe.px(a + (c - a) * t, v), shoe.px((a + (c - a) * t)[::-1], v[::-1] + 0.045)]
        )
        _clip_fill(draw, band, P["stripe"], P["upper"])
    _opening(shoe, draw, lines, line)


def _opening(
    shoe: _Shoe, draw: ImageDraw.ImageDraw, lines: ImageDraw.ImageDraw, line: np.ndarray
) -> None:
    """The collar's dark inside, the tongue, laces and stitching."""
    rng, st = shoe.rng, shoe.style
    top = dict(
        zip(
            ("a", "b"),
            {
                "sneaker": (0.6, 0.92),
                "boot": (0.5, 0.88),
                "heel": (0.38, 0.95),
                "flat": (0.46, 0.93),
            }[st],
        )
    )
    ss = np.linspace(top["a"], top["b"], 24)
    tv = np.interp(ss, line[:, 0], line[:, 1])
    depth = {"sneaker": 0.05, "boot": 0.03, "heel": 0.03, "flat": 0.035}[st]
    sag = depth * np.sin(np.linspace(0, np.pi, 24))
    inner = np.concatenate([shoe.px(ss, tv), shoe.px(ss[::-1], (tv - sag)[::-1])])
    draw.polygon(sp.flat(inner), fill=P["opening"])
    if st == "sneaker":  # tongue sticking out above the throat
        a = top["a"] - 0.08
        va = np.interp(a, line[:, 0], line[:, 1])
        tongue = [(a, va - 0.01), (a + 0.01, va + 0.07), (a + 0.08, va + 0.08), (a + 0.1, va)]
        draw.polygon(sp.flat(shoe.px(*sp.chaikin(tongue, 2, closed=False).T)), fill=P["tongue"])
    w = max(1, shoe.W // 128)
    if st in ("sneaker", "boot") and rng.random() < 0.85:  # laces across the throat
        a, b = (0.3, top["a"] - 0.02) if st == "sneaker" else (0.36, 0.5)
        for s0 in np.linspace(a, b, 5 if st == "sneaker" else 6):
            v0 = np.interp(s0, line[:, 0], line[:, 1])
            p = shoe.px([s0 - 0.03, s0 + 0.03], [v0 - 0.045, v0 + 0.005])
            lines.line(sp.flat(p), fill=2, width=w)
    if rng.random() < 0.6:  # stitching just above the sole
        s = np.linspace(0.02, 0.98, 40)
        stitch = shoe.px(s, shoe.base(s) + shoe.sole + 0.02)
        for i in range(0, len(stitch) - 1, 2):
            lines.line(sp.flat(stitch[i : i + 2]), fill=3, width=w)


MATERIALS = ("leather", "suede", "mesh", "canvas")


def _material(shoe: _Shoe, size: int) -> np.ndarray:
    """The upper's surface, a factor on its colour: leather creased across the flex zone with a
    sheen, suede's fine nap, a sneaker's knit mesh, or canvas's weave. None of it is in the
    edge map (as in edges2shoes, whose edges are the outlines, laces and seams): the input
    leaves it open."""
    rng, W = shoe.rng, shoe.W
    f = W / size  # internal pixels per output pixel
    kind = MATERIALS[rng.choice(4, p=[0.4, 0.2, 0.25, 0.15])]
    if shoe.style == "heel" and kind in ("mesh", "canvas"):
        kind = "leather"
    y, x = np.mgrid[0:W, 0:W].astype(np.float32)
    if kind == "leather":
        out = 1 + 0.06 * sp.fractal_noise(rng, W, W, (size / 4, size / 2, size))
        for _ in range(int(rng.integers(3, 8))):  # creases where the foot bends
            s0 = rng.uniform(0.22, 0.45)
            x0, y0 = shoe.px(s0, shoe.sole + 0.02)[0]
            lean = rng.uniform(-0.5, 0.1)
            d = (x - x0) - lean * (y - y0) - 0.03 * W * np.sin((y - y0) / (0.05 * W))
            crease = np.exp(-0.5 * (d / (0.7 * f)) ** 2) * ((y0 - y) < rng.uniform(0.1, 0.2) * W)
            out -= rng.uniform(0.2, 0.35) * crease * (y < y0)
            out += 0.15 * np.exp(-0.5 * ((d - 1.5 * f) / (0.7 * f)) ** 2) * (y < y0)
        return out
    if kind == "suede":
        return 1 + 0.3 * sp.fractal_noise(rng, W, W, (size / 3, size / 1.5, size))
    period = f * rng.uniform(1.8, 3.0)
    phase = rng.uniform(0, 2 * np.pi, 2)
    wx, wy = np.sin(2 * np.pi * x / period + phase[0]), np.sin(2 * np.pi * y / period + phase[1])
    if kind == "mesh":
        return 1 - 0.35 * ((wx * wy) > 0.4)
    return 1 + 0.1 * (wx + wy) + 0.08 * sp.fractal_noise(rng, W, W, (size / 2, size))


def _clip_fill(draw: ImageDraw.ImageDraw, polygon: np.ndarray, part: int, inside: int) -> None:
    """Fill ``polygon`` with ``part``, but only over pixels that currently hold ``inside``."""
    img = draw._image  # type: ignore[attr-defined]
    mask, mdraw = sp.blank_mask(img.size[1], img.size[0])
    mdraw.polygon(sp.flat(polygon), fill=255)
    a = np.asarray(img).copy()
    a[(np.asarray(mask) > 0) & (a == inside)] = part
    img.paste(Image.fromarray(a, "L"))


def render_shoe(rng: np.random.Generator, size: int) -> Image.Image:
    """One pix2pix pair ``(2 * size) x size``: the edge map (A) left, the photo (B) right."""
    f = sp.supersample(size)
    W = size * f
    shoe = _Shoe(rng, W)
    label_img, draw = sp.blank_mask(W, W)
    line_img, lines = sp.blank_mask(W, W)
    _draw_labels(shoe, draw, lines)
    labels = np.asarray(label_img)
    extra = np.asarray(line_img)
    colors = np.zeros((len(_PARTS) + 1, 3), np.float32)
    upper = sp.jitter(rng, _UPPERS[rng.integers(len(_UPPERS))], 0.04)
    accent = sp.jitter(rng, _UPPERS[rng.integers(len(_UPPERS))], 0.04)
    sole = sp.jitter(rng, _SOLES[rng.integers(len(_SOLES))], 0.03)
    same = rng.random() < 0.6
    colors[[P["upper"], P["tongue"]]] = upper
    colors[[P["toe"], P["counter"]]] = upper * rng.uniform(0.8, 1.0) if same else accent
    colors[P["stripe"]] = accent if not same else sp.jitter(rng, (0.95, 0.95, 0.95), 0.05)
    colors[[P["outsole"], P["heel"]]] = sole * 0.8
    colors[P["midsole"]] = sole
    colors[P["opening"]] = sp.jitter(rng, (0.25, 0.2, 0.17), 0.1)
    photo = colors[labels]
    inside = labels > 0
    ys = np.linspace(1.15, 0.75, W, dtype=np.float32)[:, None]  # light from above
    grain = sp.fractal_noise(rng, W, W, (16, 60, W / 3)) * rng.uniform(0.05, 0.2)
    photo *= (ys + grain)[..., None]
    surface = np.isin(labels, [P["upper"], P["toe"], P["counter"], P["tongue"]])
    photo[surface] *= _material(shoe, size)[surface, None]
    shine = sp.soft(_ellipse(W, shoe.px(0.12, shoe.sole + 0.1)[0], 0.06 * W, 0.025 * W), W / 40)
    sp.blend(photo, shine * 0.35 * inside, (1.0, 1.0, 1.0))
    lace = (0.95, 0.95, 0.93) if rng.random() < 0.6 else upper * 0.6
    photo[extra == 2] = lace
    photo[extra == 3] *= 0.75
    shadow = sp.soft(_ellipse(W, shoe.px(0.5, -0.01)[0], 0.42 * shoe.length * W, 0.02 * W), W / 30)
    photo[~inside] = 1.0 - 0.25 * shadow[~inside, None]
    edges = sp.dilate(sp.boundaries(labels) | (extra > 0), f // 4)
    edge_img = sp.reduce(np.repeat(edges[..., None].astype(np.float32), 3, axis=2), size)
    ink = np.asarray(edge_img, np.float32)[..., 0] / 255.0
    edge_px = 255 - np.clip(ink * 2.2 * 255, 0, 255)
    pair = Image.new("RGB", (2 * size, size))
    pair.paste(Image.fromarray(edge_px.astype(np.uint8), "L").convert("RGB"), (0, 0))
    pair.paste(sp.reduce(photo, size), (size, 0))
    return pair


def _ellipse(W: int, centre: np.ndarray, rx: float, ry: float) -> Image.Image:
    m, d = sp.blank_mask(W, W)
    x, y = centre
    d.ellipse([x - rx, y - ry, x + rx, y + ry], fill=255)
    return m
