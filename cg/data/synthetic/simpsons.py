"""Procedural stand-in for Simpsons character crops (face2simpson's domain B).

Flat colours with dark outlines, as the cartoon is drawn: a yellow head framed tightly (it
fills most of the picture), big round white eyes with dot pupils, a sausage nose, the
overbite muzzle (stubbled for some), a C-shaped ear, and one of the show's hair styles: bald
with two hairs, a spiky flat top, a star of spikes, a tall blue tower, or a plain cap. The head
is turned a little left or right (``facing``), which shifts the features that way.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from cg.data.synthetic import paint as sp

_YELLOW = (255, 217, 15)
_STUBBLE = (209, 178, 112)
_WALLS = [
    (242, 160, 190),
    (170, 130, 200),
    (140, 200, 230),
    (150, 205, 110),
    (250, 180, 90),
    (230, 225, 160),
    (120, 170, 220),
    (255, 255, 255),
]
_SHIRTS = [(255, 255, 255), (240, 110, 20), (220, 30, 40), (60, 170, 80), (40, 90, 200)]
_HAIRS = [(30, 30, 30), (110, 70, 30), (40, 80, 210), (230, 200, 60)]


def _jit(rng: np.random.Generator, color: tuple[int, int, int], amount: int = 12) -> tuple:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in color)


def _head_outline(
    rng: np.random.Generator, style: str, cx: float, top: float, bottom: float, half: float
) -> list[tuple[float, float]]:
    """The head silhouette: a tall capsule; Bart's zigzag top or Lisa's star points on it."""
    pts: list[tuple[float, float]] = []
    dome = half * (0.35 if style != "spiky" else 0.0)
    for t in np.linspace(np.pi, 2 * np.pi, 13):  # rounded crown, left to right
        pts.append((cx + half * np.cos(t), top + dome + dome * np.sin(t)))
    if style == "spiky":
        n = int(rng.integers(7, 10))
        xs = np.linspace(cx - half, cx + half, 2 * n + 1)
        pts = [(x, top + (0 if i % 2 else half * 0.22)) for i, x in enumerate(xs)]
    if style == "star":
        pts = []
        for i, t in enumerate(np.linspace(np.pi * 0.95, np.pi * 2.05, 17)):
            r = half * (1.35 if i % 2 else 0.95)
            pts.append((cx + r * np.cos(t), top + half * 0.9 + r * np.sin(t) * 0.95))
    pts += [
        (cx + half, bottom - half * 0.3),
        (cx + half * 0.75, bottom),
        (cx - half * 0.75, bottom),
        (cx - half, bottom - half * 0.3),
    ]
    return pts


def render_simpson(rng: np.random.Generator, size: int) -> Image.Image:
    """One "Simpsons character" crop, ``size x size``."""
    W = size * sp.supersample(size)
    ink = max(2, W // 64)  # outline width: about one output pixel at 64 px
    img = Image.new("RGB", (W, W), _jit(rng, _WALLS[rng.integers(len(_WALLS))], 15))
    draw = ImageDraw.Draw(img)
    if rng.random() < 0.5:  # a door, window or picture frame behind
        x0, y0 = rng.uniform(-0.2, 0.7, 2) * W
        draw.rectangle(
            [x0, y0, x0 + W * 0.4, y0 + W * 0.6],
            fill=_jit(rng, _WALLS[rng.integers(8)]),
            outline=(40, 30, 30),
            width=ink,
        )
    style = str(
        rng.choice(["bald", "spiky", "star", "tower", "cap"], p=[0.25, 0.2, 0.15, 0.15, 0.25])
    )
    facing = 1 if rng.random() < 0.5 else -1
    half = W * rng.uniform(0.31, 0.4)
    cx = W * (0.5 + rng.uniform(-0.06, 0.06))
    top = W * (rng.uniform(0.02, 0.12) if style != "tower" else rng.uniform(0.3, 0.4))
    bottom = W * rng.uniform(0.84, 0.98)
    skin = _jit(rng, _YELLOW, 10)
    shirt = _jit(rng, _SHIRTS[rng.integers(len(_SHIRTS))])
    outline = (25, 20, 20)
    draw.rectangle(
        [cx - half * 0.55, bottom - half * 0.3, cx + half * 0.55, W],
        fill=skin,
        outline=outline,
        width=ink,
    )
    draw.pieslice(
        [cx - half * 2.2, bottom - half * 0.1, cx + half * 2.2, bottom + half * 2.5],
        180,
        360,
        fill=shirt,
        outline=outline,
        width=ink,
    )
    if style == "tower":  # Marge's hair, behind the head
        blue = _jit(rng, (40, 80, 210), 15)
        tw = half * rng.uniform(0.95, 1.15)
        tower = [
            (cx - tw, top + half * 0.6),
            (cx - tw * 1.05, W * 0.05),
            (cx - tw * 0.6, -W * 0.1),
            (cx + tw * 0.6, -W * 0.1),
            (cx + tw * 1.05, W * 0.05),
            (cx + tw, top + half * 0.6),
        ]
        draw.polygon(sp.flat(sp.chaikin(tower, 2)), fill=blue, outline=outline, width=ink)
        for yy in np.arange(top - half * 0.1, -half, -half * 0.45):  # bumps of the tower
            draw.arc(
                [cx - tw * 0.9, yy - half * 0.15, cx + tw * 0.9, yy + half * 0.15],
                200,
                340,
                fill=outline,
                width=ink,
            )
    head = _head_outline(rng, style, cx, top, bottom, half)
    draw.polygon(head, fill=skin, outline=outline, width=ink)
    ear_x = cx - facing * half * 0.92
    ear_y = top + (bottom - top) * 0.5
    draw.ellipse(
        [ear_x - half * 0.16, ear_y - half * 0.2, ear_x + half * 0.16, ear_y + half * 0.2],
        fill=skin,
        outline=outline,
        width=ink,
    )
    draw.arc(
        [ear_x - half * 0.08, ear_y - half * 0.1, ear_x + half * 0.08, ear_y + half * 0.1],
        90,
        270,
        fill=outline,
        width=ink,
    )
    if style == "cap":  # plain hair cap
        hair = _jit(rng, _HAIRS[rng.choice([0, 1, 3])])
        draw.chord(
            [cx - half * 1.05, top - half * 0.15, cx + half * 1.05, top + half * 1.3],
            180,
            360,
            fill=hair,
            outline=outline,
            width=ink,
        )
    elif style == "bald":  # two hairs on top and the M over the ear
        for dx in (-0.12, 0.12):
            x = cx + half * dx
            draw.arc(
                [x - half * 0.25, top - half * 0.25, x + half * 0.25, top + half * 0.25],
                200,
                340,
                fill=outline,
                width=ink,
            )
        zz = [
            (ear_x + facing * half * k * 0.08, ear_y - half * (0.5 + 0.12 * (k % 2)))
            for k in range(5)
        ]
        draw.line(zz, fill=outline, width=ink)
    mid_y = top + (bottom - top) * rng.uniform(0.7, 0.76)
    muzzle_x = cx + facing * half * rng.uniform(0.35, 0.5)
    stubble = style == "bald" or rng.random() < 0.15
    box = [muzzle_x - half * 0.62, mid_y - half * 0.3, muzzle_x + half * 0.62, mid_y + half * 0.36]
    draw.ellipse(box, fill=_jit(rng, _STUBBLE, 8) if stubble else skin, outline=outline, width=ink)
    mouth_y = mid_y + half * rng.uniform(0.02, 0.15)
    draw.arc(
        [
            muzzle_x - half * 0.45,
            mouth_y - half * 0.2,
            muzzle_x + half * 0.5,
            mouth_y + half * 0.12,
        ],
        10,
        170,
        fill=outline,
        width=ink,
    )
    ey = top + (bottom - top) * rng.uniform(0.36, 0.44)
    r = half * rng.uniform(0.3, 0.38)
    ex = cx + facing * half * 0.12
    look = rng.uniform(-0.35, 0.35, 2) * r
    for k in (1, -1):  # the far eye first, the near one overlaps it
        x = ex + k * facing * r * 0.9
        draw.ellipse(
            [x - r, ey - r, x + r, ey + r], fill=(255, 255, 255), outline=outline, width=ink
        )
        p = r * 0.17
        draw.ellipse(
            [x + look[0] - p, ey + look[1] - p, x + look[0] + p, ey + look[1] + p], fill=outline
        )
        if rng.random() < 0.25:  # a lazy eyelid
            draw.chord(
                [x - r, ey - r, x + r, ey + r], 200, 340, fill=skin, outline=outline, width=ink
            )
    nose = [
        (ex - facing * r * 0.1, ey + r * 0.4),
        (ex + facing * half * 0.68, ey + r * 0.5),
        (ex + facing * half * 0.72, ey + r * 1.05),
        (ex, ey + r * 1.1),
    ]
    draw.polygon(sp.flat(sp.chaikin(nose, 2)), fill=skin, outline=outline, width=ink)
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    img = img.rotate(
        rng.uniform(-6, 6), Image.Resampling.BICUBIC, fillcolor=img.getpixel((0, W - 1))
    )
    return img.resize((size, size), Image.Resampling.BOX)
