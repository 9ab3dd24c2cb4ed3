"""Segmentation scores of generated label maps, as the CycleGAN paper scores photo -> labels.

A generated label map (an RGB image) is decoded pixel by pixel to the class of the nearest
palette colour (Euclidean distance in RGB); so is the true label map (which may carry JPEG
noise). From the confusion matrix ``C`` of true class i against predicted class j over all
pixels:

- per-pixel accuracy ``sum_i C[i, i] / sum C``;
- per-class accuracy: the mean over the classes present in the truth of ``C[i, i] / sum_j C[i, j]``;
- class IoU: the mean over the classes present in the truth or the prediction of
  ``C[i, i] / (sum_j C[i, j] + sum_j C[j, i] - C[i, i])``.
"""

from __future__ import annotations

import torch

#: Pixels decoded at once (the distances of a chunk to a palette of K colours: K x 4 bytes each).
_CHUNK_PIXELS = 1 << 20


def decode(images: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1], (N, 3, H, W) -> class indices (N, H, W) of the nearest colour of
    ``palette`` ((K, 3), 0..255)."""
    colours = palette.float().to(images.device)[None]  # (1, K, 3)
    h, w = images.shape[-2:]
    out = []
    for chunk in images.split(max(1, _CHUNK_PIXELS // (h * w))):
        rgb = (chunk.float().clamp(-1, 1) + 1) * 127.5
        pixels = rgb.permute(0, 2, 3, 1).reshape(1, -1, 3)
        # exact distances (not the matrix-product form, whose rounding can reorder near ties)
        d = torch.cdist(pixels, colours, compute_mode="donot_use_mm_for_euclid_dist")[0]
        out.append(d.argmin(1).reshape(len(chunk), h, w))
    return torch.cat(out) if out else torch.zeros(0, h, w, dtype=torch.int64)


def confusion(true: torch.Tensor, pred: torch.Tensor, k: int) -> torch.Tensor:
    """(K, K) counts of true class i predicted as j."""
    idx = (true.flatten() * k + pred.flatten()).to(torch.int64)
    return torch.bincount(idx, minlength=k * k).reshape(k, k)


def scores(c: torch.Tensor) -> dict[str, float]:
    """``pixel_acc``, ``class_acc``, ``class_iou`` of a confusion matrix (module docstring)."""
    c = c.double()
    diag, truth, pred = c.diagonal(), c.sum(1), c.sum(0)
    present = truth > 0
    union = truth + pred - diag
    seen = union > 0
    return {
        "pixel_acc": float(diag.sum() / c.sum()),
        "class_acc": float((diag[present] / truth[present]).mean()),
        "class_iou": float((diag[seen] / union[seen]).mean()),
    }


def per_image_scores(
    fake: torch.Tensor, target: torch.Tensor, palette: torch.Tensor
) -> list[dict[str, float]]:
    """:func:`scores` of each image on its own (for intervals over images)."""
    k = len(palette)
    true, pred = decode(target, palette), decode(fake, palette)
    return [scores(confusion(t, p, k)) for t, p in zip(true, pred)]
