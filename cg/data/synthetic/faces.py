"""Procedural stand-in for IMDB-WIKI face crops (face2simpson's domain A).

A head and shoulders in front of a cluttered, out-of-focus background or a press wall in focus,
framed loosely (the face takes a varying share of the picture, off centre, slightly tilted and
turned), as face crops from press photos are. Skin tones, ages (wrinkles), hair styles and
colours, eye colours, beards, glasses and clothes vary. The skin has pores at one to two output
pixels, the head is shaded from a side light, and the picture is downscaled as a camera's is
(Lanczos), so that the faces carry texture in every frequency band (measured against crops of a
real photograph in docs/findings.md, "What the data holds"). Every size is in units of the face's
half-width ``a``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from cg.data.synthetic import paint as sp

_SKIN = np.float32(
    [
        (0.97, 0.82, 0.72),
        (0.91, 0.72, 0.60),
        (0.80, 0.60, 0.45),
        (0.64, 0.44, 0.30),
        (0.45, 0.30, 0.20),
        (0.30, 0.20, 0.14),
    ]
)
_HAIR = [
    (0.05, 0.04, 0.04),
    (0.17, 0.10, 0.06),
    (0.33, 0.20, 0.11),
    (0.78, 0.62, 0.38),
    (0.52, 0.22, 0.10),
    (0.58, 0.57, 0.55),
    (0.85, 0.84, 0.80),
]
_HAIR_P = [0.3, 0.25, 0.18, 0.12, 0.05, 0.06, 0.04]
_IRIS = [(0.25, 0.15, 0.08), (0.12, 0.08, 0.05), (0.25, 0.45, 0.65), (0.35, 0.45, 0.25)]
_CLOTHES = [
    (0.08, 0.08, 0.1),
    (0.15, 0.18, 0.3),
    (0.9, 0.9, 0.88),
    (0.5, 0.1, 0.12),
    (0.35, 0.35, 0.37),
    (0.2, 0.35, 0.25),
    (0.12, 0.12, 0.13),
    (0.55, 0.62, 0.75),
]


def _backdrop(rng: np.random.Generator, W: int, size: int) -> np.ndarray:
    """A press wall in focus: sponsors' logos repeated in a staggered grid on a plain board."""
    board = sp.jitter(rng, rng.choice([0.92, 0.25, 0.6]) * np.ones(3), 0.08)
    img = sp.to_image(np.broadcast_to(board, (W, W, 3)).copy())
    draw = ImageDraw.Draw(img)
    step = W * rng.uniform(0.12, 0.22)
    ink = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(2)]
    stroke = max(1, round(W / size * rng.uniform(0.8, 1.6)))  # about an output pixel
    for i, y in enumerate(np.arange(-step, W + step, step * 0.6)):
        for x in np.arange(-step + (i % 2) * step / 2, W + step, step):
            c = ink[(i // 2) % 2]
            draw.rectangle([x, y, x + step * 0.7, y + step * 0.18], outline=c, width=stroke)
            for k in range(4):  # a word of the logo
                x0 = x + step * (0.08 + 0.15 * k)
                draw.line([x0, y + step * 0.05, x0, y + step * 0.13], fill=c, width=stroke)
    img = img.filter(ImageFilter.GaussianBlur(W / size * rng.uniform(0.2, 0.8)))  # near focus
    return np.asarray(img, np.float32) / 255.0


def _background(rng: np.random.Generator, W: int) -> np.ndarray:
    """A blurred clutter of walls, lights, people and signs, as behind a press photo (drawn
    at a quarter of the resolution: it is out of focus anyway)."""
    full, W = W, max(16, W // 4)
    base = sp.jitter(rng, rng.uniform(0.15, 0.75, 3), 0.1)
    bg = sp.vertical_gradient(W, W, base * 1.1, base * 0.7)
    img = sp.to_image(bg)
    draw = ImageDraw.Draw(img)
    for _ in range(rng.integers(6, 18)):
        x, y = rng.uniform(-0.1, 1.0, 2) * W
        w, h = rng.uniform(0.05, 0.5, 2) * W
        vivid = rng.integers(0, 256, 3)
        color = tuple(int(v) for v in 0.6 * vivid + 0.4 * vivid.mean() * rng.uniform(0.4, 1.3))
        (draw.ellipse if rng.random() < 0.4 else draw.rectangle)([x, y, x + w, y + h], fill=color)
    for _ in range(rng.integers(0, 8)):  # bokeh lights
        x, y = rng.uniform(0, 1, 2) * W
        r = rng.uniform(0.01, 0.04) * W
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 240, 210))
    img = img.filter(ImageFilter.GaussianBlur(W * rng.uniform(0.01, 0.03)))
    img = img.resize((full, full), Image.Resampling.BILINEAR)
    texture = 1 + 0.2 * sp.fractal_noise(rng, full, full, (full / 8, full / 3))  # walls, crowd
    return np.asarray(img, np.float32) / 255.0 * texture[..., None]


def _hair(rng: np.random.Generator, W: int, cx: float, cy: float, a: float, b: float) -> dict:
    style = rng.choice(["short", "long", "bald", "curly", "bun"], p=[0.4, 0.3, 0.08, 0.12, 0.1])
    color = sp.jitter(rng, _HAIR[rng.choice(len(_HAIR), p=_HAIR_P)], 0.03)
    streaks = sp.smooth_noise(rng, W, W, W / 3, 6)  # vertical strands, about a pixel wide
    tex = color * (0.45 + 1.1 * streaks)[..., None]
    back = front = np.zeros((W, W), bool)
    line = cy - b * rng.uniform(0.4, 0.62)  # hairline: an arc, lower at the temples
    dx = (sp_x(W) - cx) / a
    hairline = line + b * (0.25 * dx**2 + rng.uniform(-0.12, 0.12) * dx)
    if style in ("short", "long", "bun"):
        cap = sp.ellipse(W, cx, cy - b * 0.2, a * rng.uniform(1.06, 1.18), b * 0.92)
        front = cap & (sp_y(W) < hairline)
        front |= cap & (sp_y(W) < cy - b * 0.05) & (np.abs(dx) > 0.86)
    if style == "long":
        length = b * rng.uniform(0.7, 1.6)
        back = sp.polygon(
            W,
            sp.chaikin(
                [
                    (cx - a * 1.2, cy - b * 0.5),
                    (cx + a * 1.2, cy - b * 0.5),
                    (cx + a * 1.35, cy + length),
                    (cx - a * 1.35, cy + length),
                ],
                2,
            ),
        )
        back |= sp.ellipse(W, cx, cy - b * 0.3, a * 1.18, b * 0.85)
    elif style == "bun":
        back = sp.ellipse(W, cx + a * rng.uniform(-0.3, 0.3), cy - b * 1.05, a * 0.45, a * 0.4)
    elif style == "curly":
        curls, draw = sp.blank_mask(W, W)
        for _ in range(40):
            t = rng.uniform(-np.pi * 1.05, np.pi * 0.05)
            r = a * rng.uniform(0.3, 0.45)
            x, y = cx + np.cos(t) * a * 1.05, cy - b * 0.25 + np.sin(t) * b * 0.95
            draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
        back = sp.as_mask(curls)
        front = back & (sp_y(W) < line)
    elif style == "bald":
        tex = np.zeros((W, W, 3), np.float32)
    return {"back": back, "front": front, "tex": tex, "color": color}


def sp_x(W: int) -> np.ndarray:
    return np.arange(W, dtype=np.float32)[None, :] + 0.5


def sp_y(W: int) -> np.ndarray:
    return np.arange(W, dtype=np.float32)[:, None] + 0.5


def _features(
    rng: np.random.Generator,
    L: sp.Layer,
    cx: float,
    cy: float,
    a: float,
    b: float,
    skin: np.ndarray,
    hair: np.ndarray,
) -> None:
    """Eyes, brows, nose and mouth; ``cx`` already shifted by the head's turn."""
    W = L.W
    ey = cy - b * rng.uniform(0.02, 0.12)
    gap, ew, eh = (
        a * rng.uniform(0.36, 0.46),
        a * rng.uniform(0.17, 0.22),
        a * rng.uniform(0.07, 0.1),
    )
    iris = sp.jitter(rng, _IRIS[rng.integers(len(_IRIS))], 0.03)
    look = rng.uniform(-0.3, 0.3) * ew
    for s in (-1, 1):
        x = cx + s * gap
        L.put(sp.ellipse(W, x, ey - eh * 0.9, ew * 1.1, eh * 1.2), skin * 0.82)  # socket shade
        L.put(sp.ellipse(W, x, ey, ew, eh), (0.92, 0.9, 0.88))
        L.put(
            sp.ellipse(W, x + look, ey, eh * 0.95, eh * 0.95) & sp.ellipse(W, x, ey, ew, eh), iris
        )
        L.put(sp.ellipse(W, x + look, ey, eh * 0.42, eh * 0.42), (0.02, 0.02, 0.02))
        L.put(
            sp.ellipse(W, x, ey - eh * 0.55, ew * 1.05, eh * 0.45)
            & ~sp.ellipse(W, x, ey + eh * 0.2, ew, eh),
            skin * 0.3,  # the upper lid and its lashes
        )
        brow = [
            (x - s * ew * 1.1, ey - eh * 2.2),
            (x, ey - eh * 3.0),
            (x + s * ew * 1.25, ey - eh * 2.4),
            (x + s * ew * 1.2, ey - eh * 1.9),
            (x, ey - eh * 2.4),
            (x - s * ew * 1.1, ey - eh * 1.8),
        ]
        L.put(sp.polygon(W, brow), hair * 0.9 + skin * 0.1)
    ny = cy + b * rng.uniform(0.3, 0.4)
    nw = a * rng.uniform(0.15, 0.22)
    L.put(
        sp.polygon(W, [(cx - nw * 0.25, ey), (cx - nw, ny), (cx + nw * 0.2, ny + nw * 0.3)]),
        skin * 0.85,
    )
    for s in (-1, 1):
        L.put(sp.ellipse(W, cx + s * nw * 0.55, ny, nw * 0.28, nw * 0.16), skin * 0.45)
    my, mw = cy + b * rng.uniform(0.55, 0.65), a * rng.uniform(0.38, 0.52)
    lips = skin * np.float32((0.82, 0.55, 0.55))
    smile = rng.random() < 0.5
    if smile:
        L.put(sp.ellipse(W, cx, my, mw, mw * 0.35) & (sp_y(W) > my - mw * 0.05), lips)
        L.put(sp.ellipse(W, cx, my, mw * 0.85, mw * 0.22) & (sp_y(W) > my), (0.92, 0.9, 0.85))
    else:
        L.put(sp.ellipse(W, cx, my - mw * 0.07, mw, mw * 0.14), lips * 0.9)
        L.put(sp.ellipse(W, cx, my + mw * 0.1, mw * 0.8, mw * 0.18), lips)
        L.put(sp.ellipse(W, cx, my, mw, mw * 0.03), lips * 0.5)


def _skin_texture(
    rng: np.random.Generator, W: int, size: int, cx: float, cy: float, a: float, b: float
) -> np.ndarray:
    """Multiplicative skin texture: pores and blemishes at one to two output pixels (a
    supersampled grid as fine as the output's, so the reduction keeps them), and with age the
    lines of the forehead, the eyes' corners and the nasolabial folds."""
    pores = 1 + 0.22 * sp.fractal_noise(rng, W, W, (size / 8, size / 2, size))
    age = rng.uniform(0, 1)
    x, y = sp_x(W), sp_y(W)
    lines = np.zeros((W, W), np.float32)
    width = W / size * 0.6  # a line's half-width: about an output pixel across
    if age > 0.35:
        for k in range(int(rng.integers(2, 5))):  # forehead
            y0 = cy - b * (0.5 + 0.09 * k) + a * 0.04 * np.sin(x / a * rng.uniform(2, 4))
            lines += (np.abs(y - y0) < width) & (np.abs(x - cx) < a * rng.uniform(0.3, 0.6))
    if age > 0.55:
        for s in (-1, 1):
            for t in np.linspace(-0.5, 0.5, 3):  # crow's feet
                ex, ey = cx + s * a * 0.72, cy - b * 0.05
                d = (y - ey) - t * s * (x - ex)
                lines += (np.abs(d) < width) & (s * (x - ex) > 0) & (s * (x - ex) < a * 0.25)
            fx = cx + s * (a * 0.35 + (y - cy - b * 0.3) * 0.35)  # nasolabial fold
            lines += (np.abs(x - fx) < width * 1.3) & (y > cy + b * 0.3) & (y < cy + b * 0.62)
    depth = 0.12 + 0.2 * age
    return (pores * (1 - depth * np.clip(lines, 0, 1)))[..., None]


def render_face(rng: np.random.Generator, size: int) -> Image.Image:
    """One "human face" photo, ``size x size``."""
    W = size * sp.supersample(size)
    bg = _backdrop(rng, W, size) if rng.random() < 0.35 else _background(rng, W)
    a = W * rng.uniform(0.16, 0.28)
    b = a * rng.uniform(1.25, 1.45)
    cx, cy = W * (0.5 + rng.uniform(-0.1, 0.1)), W * (0.45 + rng.uniform(-0.08, 0.1))
    turn = rng.uniform(-0.25, 0.25) * a
    skin = np.float32(_SKIN[rng.integers(len(_SKIN) - 1)])
    skin = sp.jitter(rng, skin + rng.random() * (_SKIN[1] - _SKIN[0]), 0.03)
    hair = _hair(rng, W, cx + turn * 0.3, cy, a, b)
    L = sp.Layer(W)
    shirt = sp.jitter(rng, _CLOTHES[rng.integers(len(_CLOTHES))], 0.05)
    shoulders = cy + b * rng.uniform(1.25, 1.45)
    body = sp.ellipse(W, cx, shoulders + a * 1.9, a * rng.uniform(2.6, 3.4), a * 2.2)
    fold = 1 - 0.15 * np.clip(np.abs(sp_x(W) - cx) / (3 * a), 0, 1)[..., None]
    weave = 1 + 0.25 * sp.fractal_noise(rng, W, W, (W / 8, W / 3))[..., None]  # fabric
    L.put(body, shirt * fold * weave)
    L.put(hair["back"], hair["tex"])
    neck = [
        (cx - a * 0.55, cy),
        (cx + a * 0.55, cy),
        (cx + a * 0.6, shoulders + a * 0.2),
        (cx, shoulders + a * rng.uniform(0.25, 0.7)),
        (cx - a * 0.6, shoulders + a * 0.2),
    ]
    L.put(sp.polygon(W, neck), skin * 0.62)  # in the jaw's shadow
    for s in (-1, 1):
        L.put(
            sp.ellipse(W, cx + s * a * 0.98 - turn * 0.3, cy - b * 0.05, a * 0.16, b * 0.2),
            skin * 0.9,
        )
    face = sp.ellipse(W, cx, cy, a, b) | (sp.ellipse(W, cx, cy + b * 0.3, a * 0.85, b * 0.72))
    xx, yy = (sp_x(W) - cx - turn - a * 0.3) / a, (sp_y(W) - cy + b * 0.3) / b
    side = rng.uniform(-0.4, 0.4)  # key light from one side: the head's form in shading
    light = np.clip(1.15 - 0.4 * (xx**2 + 0.6 * yy**2) + side * xx, 0.4, 1.2)[..., None]
    L.put(face, skin * light * _skin_texture(rng, W, size, cx + turn, cy, a, b))
    _features(rng, L, cx + turn, cy, a, b, skin, hair["color"])
    if rng.random() < 0.15:  # beard
        beard = (
            face
            & (sp_y(W) > cy + b * 0.25)
            & ~sp.ellipse(W, cx + turn, cy + b * 0.6, a * 0.3, a * 0.12)
        )
        L.put(beard, hair["tex"] * 0.9)
    L.put(hair["front"], hair["tex"])
    if rng.random() < 0.12:  # glasses
        frame = np.zeros((W, W), bool)
        for s in (-1, 1):
            ring = sp.ellipse(W, cx + turn + s * a * 0.42, cy - b * 0.06, a * 0.3, a * 0.22)
            frame |= ring & ~sp.ellipse(
                W, cx + turn + s * a * 0.42, cy - b * 0.06, a * 0.26, a * 0.18
            )
        L.put(frame, (0.05, 0.05, 0.05))
    L = L.rotated(rng.uniform(-12, 12), (cx, cy))
    photo = L.over(bg) * sp.jitter(rng, (1.0, 0.97, 0.93), 0.04)
    # a camera's downscale (Lanczos, as photo pipelines sharpen) and a lens
    img = sp.to_image(photo).resize((size, size), Image.Resampling.LANCZOS)
    img = img.filter(ImageFilter.GaussianBlur(size / 320))
    grain = rng.normal(0, 5.0, (size, size, 3))  # sensor noise
    return Image.fromarray(np.clip(np.asarray(img) + grain, 0, 255).astype(np.uint8), "RGB")
