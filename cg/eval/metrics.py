"""The report's per-epoch metrics (R5): pixel error, discriminator feedback, identity distance.

All distances are measured on images mapped from the models' [-1, 1] to [0, 1]:

- pixel error (R5): ``mean over images of mean_pixels (fake - target)^2`` (per-pixel squared
  error, i.e. the L2 distance squared divided by the number of values), paired data only;
- discriminator feedback (R1, R5): ``mean over images of mean_patches D(fake)``, the mean
  probability "real" that the discriminator gives generated images;
- identity distance: ``mean over images of mean_pixels |G(x) - x|``, how close a generator is to
  copying its input — near 0 is the cycle-only collapse of R2.

FID (R5) lives in :mod:`cg.eval.fid.score`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from cg.eval.segmentation import confusion, decode, scores
from cg.runtime import autocast, eval_mode, to_device


def pixel_error(fake: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error in [0, 1] units, shape (N,)."""
    diff = (fake.float() - target.float()) / 2.0
    return diff.pow(2).flatten(1).mean(1)


def identity_distance(output: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Per-image mean absolute difference in [0, 1] units between output and input, (N,)."""
    return ((output.float() - source.float()) / 2.0).abs().flatten(1).mean(1)


def feedback(discriminator: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Per-image mean probability "real" of a PatchGAN (R1), shape (N,)."""
    return torch.sigmoid(discriminator(images).float()).flatten(1).mean(1)


class MeanMeter:
    """Sums per-image values on their device and averages once, at the end (no host syncs)."""

    def __init__(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}

    def add(self, name: str, per_image: torch.Tensor) -> None:
        s = per_image.detach().double().sum()
        self._sums[name] = self._sums[name] + s if name in self._sums else s
        self._counts[name] = self._counts.get(name, 0) + per_image.numel()

    def means(self) -> dict[str, float]:
        return {k: float(v.item()) / self._counts[k] for k, v in self._sums.items()}


@torch.inference_mode()
def evaluate(
    batches: Iterable[dict[str, torch.Tensor]],
    *,
    g_ab: nn.Module,
    g_ba: nn.Module | None,
    d_a: nn.Module | None,
    d_b: nn.Module | None,
    device: torch.device,
    precision: str = "fp32",
    channels_last: bool = False,
    paired: bool,
    split: str,
    conditional: bool = False,
    labels: tuple[str, Sequence[tuple[int, int, int]]] | None = None,
) -> dict[str, float]:
    """Metrics over ``batches`` of ``{"a": ..., "b": ...}`` (either key may be missing), with
    the models in eval mode (restored after).

    Returns ``pixel_error_{ab,ba}_{split}`` (paired only), ``feedback_{ab,ba}_{split}`` (when
    there are discriminators) and ``identity_{ab,ba}_{split}``. Batches are moved to ``device``
    (in channels_last order when asked) and the generators run under ``precision``'s autocast,
    as in training; the discriminators score the fp32 outputs. ``conditional``: the pix2pix
    discriminator, which scores ``cat(A, fake_B)``. ``labels = (direction, palette)``: that
    direction makes label maps of these colours (paired data), also scored as segmentation
    from the same outputs (:mod:`cg.eval.segmentation`): ``seg_{pixel_acc,class_acc,
    class_iou}_{split}`` over all pixels.
    """
    models = [m for m in (g_ab, g_ba, d_a, d_b) if m is not None]
    directions = (("ab", g_ab, d_b, "a", "b"), ("ba", g_ba, d_a, "b", "a"))
    meter = MeanMeter()
    palette = torch.tensor(labels[1], dtype=torch.float32) if labels else None
    counts = None
    with eval_mode(*models):
        for batch in batches:
            real = {k: to_device(v, device, channels_last) for k, v in batch.items()}
            for name, g, d, src, dst in directions:
                if g is None or src not in real:
                    continue
                with autocast(device, precision):
                    fake = g(real[src]).float()
                meter.add(f"identity_{name}_{split}", identity_distance(fake, real[src]))
                if paired and dst in real:
                    meter.add(f"pixel_error_{name}_{split}", pixel_error(fake, real[dst]))
                    if palette is not None and labels[0] == name:
                        pal = palette.to(fake.device)
                        c = confusion(decode(real[dst], pal), decode(fake, pal), len(pal))
                        counts = c if counts is None else counts + c
                if d is not None:
                    scored = torch.cat([real[src], fake], 1) if conditional else fake
                    meter.add(f"feedback_{name}_{split}", feedback(d, scored))
    row = meter.means()
    if counts is not None:
        row.update({f"seg_{k}_{split}": v for k, v in scores(counts.cpu()).items()})
    return row
