"""The report's metrics (R5) on tensors whose values are computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cg.eval.metrics import evaluate, feedback, identity_distance, pixel_error


class Constant(nn.Module):
    """A "generator" whose output is the constant ``value`` (shape of its input)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value
        self.scale = nn.Parameter(torch.ones(()))  # so eval_mode has something to switch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full_like(x, self.value) * self.scale


class Logits(nn.Module):
    """A "discriminator" giving every patch of image i the logit ``logits[i]``."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)
        self.seen: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.shape[1])
        return self.logits[: len(x)].view(-1, 1, 1, 1).expand(len(x), 1, 2, 2)


def test_pixel_error_is_mean_squared_error_in_unit_range():
    fake = torch.tensor([[[[1.0, -1.0]]], [[[0.0, 0.0]]]])  # two 1x1x2 images in [-1, 1]
    target = torch.tensor([[[[-1.0, -1.0]]], [[[1.0, 0.0]]]])
    # image 0: differences in [0, 1] units are 1 and 0 -> (1 + 0) / 2; image 1: 0.5 and 0
    assert pixel_error(fake, target).tolist() == [0.5, 0.125]


def test_identity_distance_is_mean_absolute_difference_in_unit_range():
    out = torch.tensor([[[[1.0, 0.0, -1.0, 0.5]]]])
    src = torch.tensor([[[[-1.0, 0.0, -1.0, 0.0]]]])
    assert identity_distance(out, src).tolist() == [pytest.approx((1 + 0 + 0 + 0.25) / 4)]


def test_feedback_is_mean_sigmoid_over_patches():
    d = Logits([0.0, math.log(3.0)])  # sigmoid: 0.5 and 0.75
    assert feedback(d, torch.zeros(2, 3, 4, 4)).tolist() == pytest.approx([0.5, 0.75])


def test_evaluate_averages_over_images_not_batches():
    # A images are 0 (0.5 in [0, 1]); B images are 1 (1.0); g_ab outputs -1 (0.0), g_ba 1.
    batches = [
        {"a": torch.zeros(3, 3, 2, 2), "b": torch.ones(3, 3, 2, 2)},
        {"a": torch.zeros(1, 3, 2, 2), "b": torch.ones(1, 3, 2, 2)},
    ]
    d_b = Logits([0.0, 0.0, 0.0, 0.0])
    d_a = Logits([math.log(3.0)] * 4)
    row = evaluate(
        batches,
        g_ab=Constant(-1.0),
        g_ba=Constant(1.0),
        d_a=d_a,
        d_b=d_b,
        device=torch.device("cpu"),
        paired=True,
        split="val",
    )
    assert row["pixel_error_ab_val"] == pytest.approx(1.0)  # (0 - 1)^2
    assert row["pixel_error_ba_val"] == pytest.approx(0.25)  # (1 - 0.5)^2
    assert row["identity_ab_val"] == pytest.approx(0.5)  # |0 - 0.5|
    assert row["identity_ba_val"] == pytest.approx(0.0)  # g_ba copies B
    assert row["feedback_ab_val"] == pytest.approx(0.5)
    assert row["feedback_ba_val"] == pytest.approx(0.75)
    # a batch of 3 and one of 1 with different values: the mean is over the 4 images
    uneven = [{"a": torch.zeros(3, 3, 2, 2)}, {"a": torch.ones(1, 3, 2, 2)}]
    row = evaluate(
        uneven,
        g_ab=Constant(0.0),
        g_ba=None,
        d_a=None,
        d_b=None,
        device=torch.device("cpu"),
        paired=False,
        split="train",
    )
    assert row == {"identity_ab_train": pytest.approx((3 * 0.0 + 1 * 0.5) / 4)}


def test_evaluate_scores_pix2pix_pairs_with_the_conditional_discriminator():
    d_b = Logits([0.0, 0.0])
    batches = [{"a": torch.zeros(2, 3, 2, 2), "b": torch.ones(2, 3, 2, 2)}]
    evaluate(
        batches,
        g_ab=Constant(0.0),
        g_ba=None,
        d_a=None,
        d_b=d_b,
        device=torch.device("cpu"),
        paired=True,
        split="val",
        conditional=True,
    )
    assert d_b.seen == [6]  # cat(A, fake_B)


def test_evaluate_restores_training_mode():
    g = Constant(0.0).train()
    evaluate(
        [{"a": torch.zeros(1, 3, 2, 2)}],
        g_ab=g,
        g_ba=None,
        d_a=None,
        d_b=None,
        device=torch.device("cpu"),
        paired=False,
        split="val",
    )
    assert g.training


def test_evaluate_scores_label_maps_from_the_same_outputs():
    # palette: black and white; the targets are half white, the generator paints all white
    palette = [(0, 0, 0), (255, 255, 255)]
    target = torch.full((2, 3, 2, 2), -1.0)
    target[:, :, 0] = 1.0  # top row white
    batches = [{"a": torch.zeros(2, 3, 2, 2), "b": target}]
    row = evaluate(
        batches,
        g_ab=Constant(1.0),
        g_ba=None,
        d_a=None,
        d_b=None,
        device=torch.device("cpu"),
        paired=True,
        split="val",
        labels=("ab", palette),
    )
    assert row["seg_pixel_acc_val"] == pytest.approx(0.5)
    assert row["seg_class_acc_val"] == pytest.approx((0 + 1) / 2)  # black missed, white found
    assert row["seg_class_iou_val"] == pytest.approx((0 + 0.5) / 2)
    plain = evaluate(
        batches,
        g_ab=Constant(1.0),
        g_ba=None,
        d_a=None,
        d_b=None,
        device=torch.device("cpu"),
        paired=True,
        split="val",
    )
    assert not any(k.startswith("seg_") for k in plain)
