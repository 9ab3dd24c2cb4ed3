"""Segmentation scores (the CycleGAN paper's photo -> labels protocol) on hand-made label maps."""

from __future__ import annotations

import pytest
import torch

from cg.eval.segmentation import confusion, decode, per_image_scores, scores

PALETTE = torch.tensor([(0, 0, 0), (128, 64, 128), (70, 130, 180)])  # void, road, sky


def _image(classes: list[list[int]], noise: float = 0.0) -> torch.Tensor:
    rgb = PALETTE[torch.tensor(classes)].permute(2, 0, 1).float()  # (3, H, W) in 0..255
    rgb = (rgb + noise).clamp(0, 255)
    return rgb[None] / 127.5 - 1


def test_decode_takes_the_nearest_colour():
    img = _image([[0, 1], [2, 1]], noise=20.0)  # JPEG-like noise well below the colour gaps
    assert decode(img, PALETTE).tolist() == [[[0, 1], [2, 1]]]


def test_scores_by_hand():
    true = torch.tensor([[0, 0, 1, 1], [1, 1, 2, 2]])
    pred = torch.tensor([[0, 1, 1, 1], [1, 1, 2, 0]])
    c = confusion(true, pred, 3)
    assert c.tolist() == [[1, 1, 0], [0, 4, 0], [1, 0, 1]]
    s = scores(c)
    assert s["pixel_acc"] == pytest.approx(6 / 8)
    assert s["class_acc"] == pytest.approx((1 / 2 + 4 / 4 + 1 / 2) / 3)
    # IoU: class 0: 1 / (2 + 2 - 1); class 1: 4 / (4 + 5 - 4); class 2: 1 / (2 + 1 - 1)
    assert s["class_iou"] == pytest.approx((1 / 3 + 4 / 5 + 1 / 2) / 3)


def test_per_image_scores_of_a_perfect_and_a_wrong_map():
    target = torch.cat([_image([[1, 2], [1, 2]]), _image([[1, 1], [2, 2]])])
    fake = torch.cat([_image([[1, 2], [1, 2]], noise=10.0), _image([[2, 2], [1, 1]])])
    first, second = per_image_scores(fake, target, PALETTE)
    assert first == {"pixel_acc": 1.0, "class_acc": 1.0, "class_iou": 1.0}
    assert second["pixel_acc"] == 0.0 and second["class_iou"] == 0.0


def test_decode_equals_the_brute_force_nearest_colour_in_any_chunking(monkeypatch):
    import cg.eval.segmentation as seg
    from cg.catalog import DATASETS

    palette = torch.tensor(DATASETS["cityscapes"].palette)
    g = torch.Generator().manual_seed(0)
    images = torch.rand(5, 3, 8, 6, generator=g) * 2 - 1
    images[0] = palette[3].float().view(3, 1, 1) / 127.5 - 1  # exactly a palette colour
    rgb = (images.clamp(-1, 1) + 1) * 127.5
    brute = ((rgb[:, None] - palette.float()[None, :, :, None, None]) ** 2).sum(2).argmin(1)
    assert torch.equal(decode(images, palette), brute)
    assert (brute[0] == 3).all()
    monkeypatch.setattr(seg, "_CHUNK_PIXELS", 100)  # two images a chunk, the last alone
    assert torch.equal(decode(images, palette), brute)
