"""Losses on hand-computed tensors (R2)."""

import math

import pytest
import torch

from cg.errors import UserError
from cg.losses import (
    adversarial_loss,
    classic_identity_loss,
    cycle_loss,
    discriminator_loss,
    generator_loss,
    paired_identity_loss,
    pix2pix_l1_loss,
)


def t(*values):
    return torch.tensor(values, dtype=torch.float32)


def test_cycle_loss_is_sum_of_mean_abs_errors():
    # |[1,3]-[0,0]| mean = 2, |[0.5,-0.5]-[0,0]| mean = 0.5
    assert cycle_loss(t(0, 0), t(1, 3), t(0, 0), t(0.5, -0.5)).item() == pytest.approx(2.5)


def test_paired_identity_compares_translation_with_target():
    real_a, real_b = t(0, 0), t(1, 1)
    fake_b, fake_a = t(1, 0), t(0, 0.5)  # |fake_b-B| = 0.5, |fake_a-A| = 0.25
    assert paired_identity_loss(fake_b, real_b, fake_a, real_a).item() == pytest.approx(0.75)


def test_classic_identity_compares_generator_output_with_its_input():
    real_a, real_b = t(0, 1), t(2, 2)
    idt_b, idt_a = t(2, 4), t(0, 0)  # |idt_b-B| = 1, |idt_a-A| = 0.5
    assert classic_identity_loss(idt_b, real_b, idt_a, real_a).item() == pytest.approx(1.5)


def test_generator_loss_weighs_each_term_once():
    cycle, identity, adv = t(2.0), t(3.0), t(7.0)
    weights = {"lambda_cycle": 10.0, "lambda_identity": 5.0, "lambda_adv": 1.0}
    assert generator_loss(cycle, identity, adv, **weights).item() == 10 * 2 + 5 * 3 + 7
    assert generator_loss(cycle, None, adv, **weights).item() == 10 * 2 + 7
    assert generator_loss(cycle, None, None, **weights).item() == 20


def test_bce_adversarial_is_bce_on_sigmoid():
    logits = t(0.0, 2.0)
    expect_real = -(math.log(0.5) + math.log(1 / (1 + math.exp(-2)))) / 2
    expect_fake = -(math.log(0.5) + math.log(1 - 1 / (1 + math.exp(-2)))) / 2
    assert adversarial_loss(logits, True).item() == pytest.approx(expect_real, rel=1e-6)
    assert adversarial_loss(logits, False).item() == pytest.approx(expect_fake, rel=1e-6)


def test_lsgan_is_squared_error_on_scores():
    logits = t(0.0, 2.0)
    assert adversarial_loss(logits, True, "lsgan").item() == pytest.approx((1 + 1) / 2)
    assert adversarial_loss(logits, False, "lsgan").item() == pytest.approx((0 + 4) / 2)
    with pytest.raises(UserError, match="gan_mode"):
        adversarial_loss(logits, True, "wgan")


def test_discriminator_loss_is_half_the_sum():
    real, fake = t(3.0), t(-1.0)
    expect = 0.5 * (adversarial_loss(real, True) + adversarial_loss(fake, False))
    assert discriminator_loss(real, fake).item() == pytest.approx(expect.item())


def test_pix2pix_l1():
    assert pix2pix_l1_loss(t(1, 2, 3), t(1, 1, 1)).item() == pytest.approx(1.0)
