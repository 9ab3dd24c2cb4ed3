"""Procedural Cityscapes stand-in: a street seen from a car, as a photo and a label map.

The scene is built in a simple pinhole model: camera height 1, focal length ``W`` pixels,
horizon at row ``hy``, vanishing point at column ``vx``. A ground point at lateral offset ``u``
and depth ``z`` (both in camera heights) appears at ``d = W / z`` pixels below the horizon and
``u * d`` pixels beside ``vx``; a point at height ``h`` on it rises to ``hy + d * (1 - h)``.
Every pixel of the ground and of the two facade planes (``u = f_left``, ``u = f_right``) is
classified in closed form (numpy); objects (trees, poles, signs, cars, people) are drawn back to
front with PIL. Labels use the official Cityscapes palette (:data:`PALETTE`).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from cg.catalog import CITYSCAPES_PALETTE
from cg.data.synthetic import paint as sp
from cg.data.synthetic.city_objects import Canvas, draw_objects

# The official Cityscapes colours of the classes drawn here (the dataset table has them all).
_DRAWN = (
    "ego_vehicle",
    "road",
    "sidewalk",
    "building",
    "wall",
    "fence",
    "pole",
    "traffic_light",
    "traffic_sign",
    "vegetation",
    "terrain",
    "sky",
    "person",
    "car",
)
PALETTE: dict[str, tuple[int, int, int]] = {k: CITYSCAPES_PALETTE[k] for k in _DRAWN}
ID = {name: i for i, name in enumerate(PALETTE)}
_COLORS = np.array(list(PALETTE.values()), np.uint8)

_FACADES = [  # plaster, stone, brick, pastel
    (0.78, 0.74, 0.66), (0.62, 0.62, 0.60), (0.56, 0.36, 0.30), (0.85, 0.80, 0.62),
    (0.70, 0.66, 0.58), (0.46, 0.45, 0.44), (0.80, 0.70, 0.62), (0.66, 0.72, 0.74),
]  # fmt: skip


_KINDS = ("gap", "building", "vegetation", "wall", "fence")


def _segments(rng: np.random.Generator, greenery: float) -> dict[str, np.ndarray]:
    """Stretches along one side of the street, as arrays over stretches: depth ``start`` and
    ``end``, ``kind`` (index into :data:`_KINDS`), ``height``, and the facade's look (colour,
    floor height, window column spacing, window width and height, ground floor height)."""
    rows, z = [], 1.0
    z_far = rng.uniform(45, 90)
    while z < z_far:
        r = rng.random()
        if r < greenery:
            kind, length, height = 2, rng.uniform(4, 14), rng.uniform(3, 7)
        elif r < greenery + 0.08:
            kind, length, height = int(rng.integers(3, 5)), rng.uniform(2, 6), 0.9
        elif r < greenery + 0.14:
            kind, length, height = 0, rng.uniform(2, 5), 0.0
        else:
            kind, length, height = 1, rng.uniform(4, 12), rng.uniform(4, 15)
        color = _FACADES[rng.integers(len(_FACADES))] if kind == 1 else (0.55, 0.53, 0.50)
        if kind == 2:
            color = (0.22, 0.30, 0.12)
        look = (rng.uniform(1.7, 2.3), rng.uniform(1.4, 2.4), rng.uniform(0.3, 0.6))
        look += (rng.uniform(0.4, 0.6), rng.uniform(1.5, 2.2))
        rows.append((z, z + length, kind, height, *sp.jitter(rng, color, 0.05), *look))
        z += length
    a = np.array(rows, np.float32)
    names = ("start", "end", "kind", "height", "r", "g", "b")
    out = {n: a[:, i] for i, n in enumerate(names)}
    out.update({n: a[:, 7 + i] for i, n in enumerate(("floor", "col", "ww", "wh", "ground"))})
    out["color"] = a[:, 4:7]
    return out


def _facade(c: Canvas, rng: np.random.Generator, f: float, cols: slice, light: float) -> None:
    """Paint the facade plane at lateral offset ``f`` over the columns ``cols`` (one side of
    ``vx``): a pixel ``(x, y)`` on it lies at depth ``z = W / d``, ``d = (x - vx) / f``, and
    height ``1 - (y - hy) / d`` (camera heights)."""
    W = c.W
    seg = _segments(rng, c.greenery)
    x = c.X[0, cols]
    if x.size == 0:
        return
    d = np.maximum((x - c.vx) / f, 1e-3)[None, :]
    z = W / d
    hw = 1.0 - (c.Y[:, cols] - c.hy) / d
    k = np.clip(np.searchsorted(seg["start"], z[0], side="right") - 1, 0, None)[None, :]
    kind = seg["kind"][k].astype(np.int64)
    ragged = 1.2 * (sp.smooth_noise(rng, 1, x.size, 12) - 0.5)  # uneven tops of hedges
    top = seg["height"][k] + np.where(kind == 2, ragged, 0.0)
    on = (z < seg["end"][k]) & (hw >= 0) & (hw <= top) & (kind > 0)
    if not on.any():
        return
    labels = np.array([0] + [ID[n] for n in _KINDS[1:]], np.uint8)[kind]
    np.copyto(c.labels[:, cols], np.broadcast_to(labels, on.shape), where=on)
    np.copyto(c.depth[:, cols], np.broadcast_to(z, on.shape), where=on)
    n = c.noise[:, cols]
    dz_px = z * z / (W * abs(f))  # depth covered by one pixel column (for anti-aliasing)
    # buildings: a grid of windows (floors x columns), shop windows on the ground floor
    floor, col, ww, wh, ground = (seg[n_][k] for n_ in ("floor", "col", "ww", "wh", "ground"))
    fz = np.abs(np.mod((z - seg["start"][k]) / col, 1.0) - 0.5)
    fv = np.mod((hw - ground) / floor, 1.0)
    window = (fz < ww / 2) & (hw > ground) & (hw < top - 0.6) & (fv > 0.3) & (fv < 0.3 + wh)
    window |= (hw < ground * 0.8) & (hw > 0.15) & (fz < 0.4)
    window &= kind == 1
    # far away the window grid is finer than a pixel: fade to its average colour
    fade = np.clip(1.3 - 2.5 * dz_px / col, 0, 1) * np.clip(1.3 - 2.5 / (d * floor), 0, 1)
    shade = 1 + 0.25 * n
    shade = np.where(kind == 2, 1 + 0.9 * c.leaf[:, cols], shade)  # hedges, tree rows
    shade = np.where((kind == 4) & (np.mod(z * 6, 1.0) < 0.35) & (dz_px * 6 < 0.5), 0.6, shade)
    # pixel = colour * A + glass * B, with A and B scalar fields (cheaper than RGB arithmetic)
    avg = 1 - 0.7 * (ww * wh / floor)  # what a window grid averages to, relative to the wall
    wall = np.where(kind == 1, (1 - fade) * avg + fade * ~window * shade, shade)
    dim = np.where((kind == 1) & (hw > top - 0.25), 0.75 * light, light)  # cornice
    A, B = wall * dim, (window * fade) * dim
    glass = np.float32((0.16, 0.19, 0.23))
    color = seg["color"][k[0]][None, :, :]  # (1, w, 3)
    px = color * A[..., None] + glass * B[..., None] + (0.1 * n * B)[..., None]
    np.copyto(c.photo[:, cols], px, where=on[..., None])


def _ground(c: Canvas, rng: np.random.Generator) -> None:
    """Road, sidewalks and (beyond the facade line, where no facade hides it) terrain: each
    ground pixel ``d`` rows below the horizon lies at ``u = (x - vx) / d``, ``z = W / d``."""
    W = c.W
    y0 = int(np.ceil(c.hy - 0.5))
    d = np.maximum(np.arange(y0, W, dtype=np.float32) + 0.5 - c.hy, 1e-3)[:, None]
    u = (c.X[0][None, :] - c.vx) / d
    z = W / d
    cls = np.where((u >= c.u_left) & (u <= c.u_right), 0, 2)
    cls[(cls == 2) & (u >= c.f_left) & (u <= c.f_right)] = 1
    c.labels[y0:] = np.array([ID["road"], ID["sidewalk"], ID["terrain"]], np.uint8)[cls]
    c.depth[y0:] = z
    noise = c.noise[y0:]
    base = np.stack(
        [
            sp.jitter(rng, (0.30, 0.30, 0.32), 0.05),  # asphalt
            sp.jitter(rng, (0.60, 0.57, 0.56), 0.06),  # paving
            np.float32((0.35, 0.45, 0.22)),  # grass
        ]
    )
    shade = 1 + np.float32([0.35, 0.25, 0.6])[cls] * noise
    dz_px = W / (d * d)  # depth covered by one pixel row, for anti-aliasing the patterns
    shade[(cls == 1) & (np.mod(z, 1.0) < 0.06) & (dz_px < 0.3)] *= 0.85  # paving joints
    kerb = (np.abs(u - c.u_left) < 0.08) | (np.abs(u - c.u_right) < 0.08)
    shade[(cls == 1) & kerb] = 1.12
    px = base[cls] * shade[..., None]
    centre = (c.u_left + c.u_right) / 2
    marks = (np.abs(u - centre) < 0.06) & (np.mod(z / 4.0, 1.0) < 0.45) & (dz_px < 1.5)
    if c.edge_lines:
        marks |= (np.abs(u - c.u_left - 0.25) < 0.04) | (np.abs(u - c.u_right + 0.25) < 0.04)
    px[marks & (cls == 0)] = 0.85
    c.photo[y0:] = px


def _sky_and_backdrop(c: Canvas, rng: np.random.Generator) -> None:
    W = c.W
    rows = min(W, int(c.hy) + 2)  # below the horizon the ground covers everything
    overcast = rng.random() < 0.5
    top = (0.72, 0.76, 0.80) if overcast else sp.jitter(rng, (0.45, 0.60, 0.82), 0.05)
    sky = sp.vertical_gradient(rows, W, top, (0.86, 0.88, 0.90))
    clouds = np.clip(sp.fractal_noise(rng, rows, W, (3, 8, 24)) * 2.5, 0, 1)
    sp.blend(sky, clouds * (0.25 if overcast else 0.6), (0.92, 0.92, 0.93))
    c.photo[:rows] = sky
    # a skyline of far buildings and trees at the end of the street
    x = np.arange(W)
    steps = np.repeat(rng.uniform(0.0, 0.07, W // 8 + 1) * W, 8)[:W]
    trees = np.repeat(rng.random(W // 8 + 1) < 0.3, 8)[:W]
    m = (c.Y < c.hy + 1) & (c.Y > c.hy - steps[None, :])
    kinds = np.where(trees, ID["vegetation"], ID["building"]).astype(np.uint8)
    c.labels[m] = np.broadcast_to(kinds[None, :], (W, W))[m]
    c.depth[m] = 120.0
    grey = np.where(trees[:, None], (0.30, 0.36, 0.25), (0.55, 0.55, 0.56)).astype(np.float32)
    c.photo[m] = np.broadcast_to(grey[None, x], (W, W, 3))[m]


def _ego_hood(c: Canvas, rng: np.random.Generator) -> None:
    W = c.W
    y0 = int(W * (1 - rng.uniform(0.07, 0.14)))
    top = y0 + 0.06 * W * ((c.X[0] - W / 2) / (W / 2)) ** 2
    m = c.Y[y0:] > top[None, :]
    c.labels[y0:][m] = ID["ego_vehicle"]
    c.depth[y0:][m] = 0.0
    sheen = np.clip(1 - (c.Y[y0:] - top) / (0.05 * W), 0, 1)[m]
    c.photo[y0:][m] = 0.06 + 0.25 * sheen[:, None] * np.float32((0.8, 0.85, 0.9))


def render_cityscapes(rng: np.random.Generator, size: int) -> Image.Image:
    """One pix2pix pair ``(2 * size) x size``: the photo (A) left, its label map (B) right."""
    W = size * sp.supersample(size)
    c = Canvas(rng, W, sky=ID["sky"])
    _sky_and_backdrop(c, rng)
    _ground(c, rng)
    sun = rng.uniform(0.8, 1.1)
    split = int(np.ceil(c.vx - 0.5))  # the first column right of the vanishing point
    _facade(c, rng, c.f_left, slice(0, split), sun)
    _facade(c, rng, c.f_right, slice(split, W), 1.9 - sun)
    draw_objects(c, rng, ID)
    if rng.random() < 0.85:
        _ego_hood(c, rng)
    haze = 1 - np.exp(-np.minimum(c.depth, 400) / 160.0)
    sp.blend(c.photo, haze * (c.labels != ID["sky"]), (0.78, 0.80, 0.82))
    photo = np.asarray(sp.reduce(c.photo, size), np.float32)
    photo = 0.8 * photo + 0.2 * photo.mean(axis=2, keepdims=True)  # Cityscapes' muted colours
    photo += rng.normal(0, 3.0, photo.shape)  # sensor noise
    photo = Image.fromarray(np.clip(photo + 0.5, 0, 255).astype(np.uint8), "RGB")
    f = W // size  # the label map: nearest neighbour, the centre sample of each block
    labels = Image.fromarray(_COLORS[c.labels[f // 2 :: f, f // 2 :: f]], "RGB")
    pair = Image.new("RGB", (2 * size, size))
    pair.paste(photo, (0, 0))
    pair.paste(labels, (size, 0))
    return pair
