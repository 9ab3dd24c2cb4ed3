"""Per-image values of a finished run, for the findings (:mod:`cg.report.findings.paired`).

The run's final generators (or those of an earlier epoch checkpoint) applied, in eval mode, to
up to :data:`MAX_IMAGES` images of a split, as the run saw them (its image size, its halves of
the pix2pix pairs); every value is in [0, 1] pixel units.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cg.catalog import DATASETS
from cg.checkpoints import load_checkpoint
from cg.data import DomainDataset
from cg.eval.metrics import identity_distance, pixel_error
from cg.report.findings.soundness import Soundness, reads_blur
from cg.report.runs.finished import Run
from cg.train.state import build_session
from cg.translate import generator_from, translate_batch

#: Images per split scored (and resampled) by the checks.
MAX_IMAGES = 256

_CACHE: dict[tuple[str, str, str, float], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}


_IMAGES: dict[tuple[str, ...], torch.Tensor] = {}


def images(run: Run, domain: str, split: str) -> torch.Tensor:
    """Up to MAX_IMAGES ``split`` images of ``domain`` (``a``/``b``) as the run saw them
    (decoded once per file list and size: the runs of a notebook share their data)."""

    files = run.data
    paths = getattr(files, f"{split}_{domain}")
    cap = run.config.max_val_images if split == "val" else run.config.max_train_images
    paths = paths[: min(len(paths), cap or len(paths), MAX_IMAGES)]
    key = (domain, str(run.config.image_size), *map(str, paths))
    if key not in _IMAGES:
        ds = DomainDataset(paths, run.config.image_size, half=domain if files.paired else None)
        _IMAGES[key] = torch.stack([ds[i] for i in range(len(ds))])
    return _IMAGES[key]


def outputs(
    run: Run, direction: str, split: str = "val", checkpoint: Path | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(fake, source, target)`` of ``direction`` on ``split``'s images (paired data: the
    targets are the sources' partners; unpaired: the target domain's images)."""

    ckpt = Path(checkpoint or run.checkpoint)
    key = (str(ckpt), direction, split, ckpt.stat().st_mtime)
    if key not in _CACHE:
        src, dst = ("a", "b") if direction == "ab" else ("b", "a")
        generator, _ = generator_from(_networks(ckpt), ckpt, direction, "cpu")
        x = images(run, src, split)
        _CACHE[key] = (_translate(generator, x), x, images(run, dst, split))
    return _CACHE[key]


_NETWORKS: dict[tuple[str, float], dict[str, Any]] = {}


def _networks(checkpoint: Path) -> dict[str, Any]:
    """The config and networks of ``checkpoint``, read once for its two directions (they are
    asked for one after the other): the last checkpoint read is kept, without its optimizer
    and random states. Reading one of the default profile's edges2shoes runs takes about
    51 ms (on a 2-core Intel Xeon), mostly in ``weights_only`` unpickling; R9.3-overfit reads
    every epoch's of every seed."""

    key = (str(checkpoint), checkpoint.stat().st_mtime)
    if key not in _NETWORKS:
        data = load_checkpoint(checkpoint)
        _NETWORKS.clear()
        _NETWORKS[key] = {"config": data["config"], "models": data["models"]}
    return _NETWORKS[key]


def _translate(generator: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``generator`` (in eval mode) applied to images ``x`` in batches of 32, in the
    channels-last memory layout (measured on a 2-core AMD EPYC: 2.1x the default layout's
    rate for the default profile's U-Net, outputs equal to 5e-7). The generator is given back
    in the default layout (``Module.to`` converts it in place)."""

    x = x.contiguous(memory_format=torch.channels_last)
    generator.to(memory_format=torch.channels_last)
    try:
        with torch.inference_mode():
            return torch.cat([translate_batch(generator, c).contiguous() for c in x.split(32)])
    finally:
        generator.to(memory_format=torch.contiguous_format)


def pixel_errors(fake: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    """Per-image pixel error (R5, :func:`cg.eval.metrics.pixel_error`)."""
    return pixel_error(fake, target).numpy()


def _gradients(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``|x[i, j+1] - x[i, j]|`` and ``|x[i+1, j] - x[i, j]|`` of images in [-1, 1], in [0, 1]
    units: ``(N, C, H, W-1)`` and ``(N, C, H-1, W)``."""
    x = images.float() / 2.0
    return (x[..., :, 1:] - x[..., :, :-1]).abs(), (x[..., 1:, :] - x[..., :-1, :]).abs()


def details(images: torch.Tensor) -> np.ndarray:
    """Per-image detail ``D`` (module docstring) of images in [-1, 1]."""
    dx, dy = _gradients(images)
    return (dx.flatten(1).mean(1) + dy.flatten(1).mean(1)).numpy()


def detail(images: torch.Tensor) -> float:
    """Mean detail of a set of images in [-1, 1]."""
    return float(details(images).mean())


def detail_ratios(run: Run, direction: str) -> np.ndarray:
    fake, _, target = outputs(run, direction)
    return details(fake) / detail(target)


#: Edge sharpness looks at windows of this many pixels along each axis ...
SHARPNESS_WINDOW = 5
#: ... whose range (max - min of the grey level, [0, 1] units) is at least this: a strong edge.
EDGE_CONTRAST = 0.1


def edge_sharpness(images: torch.Tensor) -> np.ndarray:
    """Per-image edge sharpness of images in [-1, 1], in (0, 1]: over every window of
    :data:`SHARPNESS_WINDOW` pixels along a row or a column whose grey level spans at least
    :data:`EDGE_CONTRAST`, the share of that span crossed in its steepest single step,
    averaged (NaN for an image without such a window). A step edge crosses its whole contrast
    in one step (1); blurred over w pixels, about 1/w. Unlike the mean gradient (``D``),
    it does not grow when blotches or noise add gradients: it measures how steep the image's
    edges are against their own contrast (after Marziliano et al. 2002, edge width)."""
    grey = ((images.float() + 1) / 2).mean(1, keepdim=True)
    w = SHARPNESS_WINDOW
    total = torch.zeros(len(grey), dtype=torch.float64)
    count = torch.zeros(len(grey), dtype=torch.float64)
    for steps, span in (((1, w - 1), (1, w)), ((w - 1, 1), (w, 1))):
        dim = 3 if steps[0] == 1 else 2
        steepest = F.max_pool2d(grey.diff(dim=dim).abs(), steps, stride=1)
        high = F.max_pool2d(grey, span, stride=1)
        contrast = high + F.max_pool2d(-grey, span, stride=1)
        edges = contrast >= EDGE_CONTRAST
        total += (steepest / contrast.clamp(min=EDGE_CONTRAST) * edges).flatten(1).sum(1).double()
        count += edges.flatten(1).sum(1).double()
    out = (total / count.clamp(min=1)).numpy()
    out[(count == 0).numpy()] = np.nan
    return out


def mean_edge_sharpness(images: torch.Tensor) -> float:
    """The mean :func:`edge_sharpness` of a set of images (over those with a strong edge)."""
    return float(np.nanmean(edge_sharpness(images)))


def sharpness_ratios(run: Run, direction: str) -> np.ndarray:
    """Per image: the edge sharpness of the output over the mean of the real target
    domain's images (1 = as sharp as real images, below 1 blurrier)."""
    fake, _, target = outputs(run, direction)
    return edge_sharpness(fake) / mean_edge_sharpness(target)


#: A pixel of the input is *flat* when every channel stays within this range (in [0, 1] units,
#: about 5/255: exact for the built-in maps, tolerant of JPEG noise) over its 3x3 neighbourhood.
FLAT_RANGE = 0.02


def flat_mask(source: torch.Tensor) -> torch.Tensor:
    """``(N, 1, H, W)`` True where the input images (in [-1, 1]) are flat (:data:`FLAT_RANGE`):
    inside a segment of a label map, away from every line of an edge map."""
    x = (source.float() + 1) / 2
    high = F.max_pool2d(x, 3, stride=1, padding=1)
    low = -F.max_pool2d(-x, 3, stride=1, padding=1)
    return (high - low).amax(1, keepdim=True) <= FLAT_RANGE


def invented_details(images: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """Per-image detail ``D`` (module docstring) of ``images`` over the neighbouring pixel
    pairs that both lie in ``mask``: the detail an output has where its input has none, so the
    model had to invent it. NaN for an image whose mask has no such pair."""
    dx, dy = (d.mean(1, keepdim=True) for d in _gradients(images))
    mx = mask[..., :, 1:] & mask[..., :, :-1]
    my = mask[..., 1:, :] & mask[..., :-1, :]
    pairs_x, pairs_y = mx.flatten(1).sum(1), my.flatten(1).sum(1)
    mean_x = (dx * mx).flatten(1).sum(1) / pairs_x.clamp(min=1)
    mean_y = (dy * my).flatten(1).sum(1) / pairs_y.clamp(min=1)
    out = (mean_x + mean_y).numpy()
    out[((pairs_x == 0) | (pairs_y == 0)).numpy()] = np.nan
    return out


def mean_invented_detail(images: torch.Tensor, mask: torch.Tensor) -> float:
    """The mean :func:`invented_details` of a set of images (over those whose mask has pairs)."""
    return float(np.nanmean(invented_details(images, mask)))


def invented_detail_ratios(run: Run, direction: str) -> np.ndarray:
    """Per image: the invented detail of the output over the mean invented detail of the real
    targets, both where the input is flat (paired data: the target's pixels are the input's);
    1 = as much invented structure as the real images have there, 0 = flat."""
    fake, source, target = outputs(run, direction)
    mask = flat_mask(source)
    return invented_details(fake, mask) / mean_invented_detail(target, mask)


def invented_detail_soundness(run: Run, direction: str) -> tuple[Soundness, float]:
    """Whether invented detail reads blur as blur on the run's real targets (where the
    inputs are flat, :mod:`cg.report.findings.soundness`), and the targets' own invented detail."""

    _, source, target = outputs(run, direction)
    mask = flat_mask(source)
    sound = reads_blur(lambda x: mean_invented_detail(x, mask), target)
    return sound, mean_invented_detail(target, mask)


def identity_distances(run: Run, direction: str) -> np.ndarray:
    fake, source, _ = outputs(run, direction)
    return identity_distance(fake, source).numpy()


def untrained_identity_distances(run: Run, direction: str) -> np.ndarray:
    """Per image, ``|G(x) - x|`` of the run's generator as training started: its initial
    weights, built from the config's seed as training built them (:func:`build_session`), in
    eval mode like every scored model."""

    cfg = dataclasses.replace(run.config, device="cpu")
    models = build_session(cfg, torch.device("cpu")).models
    generator = (models.g_ab if direction == "ab" else models.g_ba).eval()
    x = images(run, "a" if direction == "ab" else "b", "val")
    return identity_distance(_translate(generator, x), x).numpy()


def data_distance(run: Run) -> float:
    """Mean |A - B| over the validation pairs, in [0, 1] units (paired data only)."""
    a, b = images(run, "a", "val"), images(run, "b", "val")
    return float(((a - b) / 2).abs().mean())


def pixel_errors_of(
    run: Run, direction: str, split: str = "val", checkpoint: Path | None = None
) -> np.ndarray:
    fake, _, target = outputs(run, direction, split, checkpoint)
    return pixel_errors(fake, target)


def task_facts(run: Run) -> tuple[str, str, str, str]:
    """(structure direction, photo direction, structure task, photo task) of a run's data."""
    facts = DATASETS.get(run.dataset)
    if facts is None:
        return "ab", "ba", "A -> B", "B -> A"
    return facts.structure, facts.photo, facts.structure_task, facts.photo_task
