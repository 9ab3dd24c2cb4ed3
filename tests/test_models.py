"""The networks of R1 and the reference generators: sizes, counts, init, precision."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cg.config import make_config
from cg.errors import UserError
from cg.models import (
    PatchDiscriminator,
    ResnetGenerator,
    UNet,
    UnetGenerator,
    UnetSkipConnectionBlock,
    build_discriminator,
    build_generator,
    count_parameters,
    init_weights,
)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: UNet(3, 3, 64, upsample="bilinear"), 17_263_107),
        (lambda: UNet(3, 3, 64, upsample="transposed"), 31_037_763),
        (lambda: ResnetGenerator(3, 3, 64, norm="instance", n_blocks=9), 11_378_179),
        (lambda: ResnetGenerator(3, 3, 64, norm="instance", n_blocks=6), 7_837_699),
        (lambda: UnetGenerator(3, 3, 7, 64, norm="batch"), 41_828_995),
        (lambda: UnetGenerator(3, 3, 8, 64, norm="batch"), 54_413_955),
        # The reference's basic D: CycleGAN's (instance norm) and pix2pix's conditional one.
        (lambda: PatchDiscriminator(3, 64, 3, norm="instance"), 2_764_737),
        (lambda: PatchDiscriminator(3, 64, 3, norm="batch"), 2_765_633),
        (lambda: PatchDiscriminator(6, 64, 3, norm="batch"), 2_768_705),
    ],
)
def test_parameter_counts(make, expected):
    assert count_parameters(make()) == expected


def _cfg(**kw):
    return make_config(**{"base_channels": 8, "disc_channels": 8, "image_size": 64, **kw})


GENERATOR_CASES = [
    ("unet", {"upsample": "bilinear"}, (32, 64)),
    ("unet", {"upsample": "transposed", "norm": "instance"}, (32, 64)),
    ("resnet_9", {"norm": "instance"}, (32, 64)),
    ("resnet_6", {"dropout": True}, (32, 64)),
    # The reference U-Nets reach 1x1 at the bottleneck: sides divisible by 128 / 256.
    ("unet_128", {"dropout": True}, (128,)),
    ("unet_256", {"norm": "instance"}, (256,)),
]


@pytest.mark.parametrize(("generator", "extra", "sizes"), GENERATOR_CASES)
def test_generator_keeps_size_and_range(generator, extra, sizes):
    torch.manual_seed(0)
    g = build_generator(_cfg(generator=generator, **extra))
    for side in sizes:
        x = torch.rand(2, 3, side, side) * 2 - 1
        y = g(x)
        assert y.shape == x.shape
        assert y.abs().max() <= 1.0 and torch.isfinite(y).all()
    rect = torch.randn(1, 3, sizes[0], sizes[0] * 2)  # non-square inputs keep their size too
    assert g.eval()(rect).shape == rect.shape


@pytest.mark.parametrize(
    ("generator", "shape", "multiple"),
    [("unet", (3, 50, 64), 16), ("resnet_9", (3, 34, 32), 4), ("unet_256", (3, 128, 128), 256)],
)
def test_indivisible_sizes_are_user_errors(generator, shape, multiple):
    g = build_generator(_cfg(generator=generator))
    c, h, w = shape
    with pytest.raises(UserError, match=f"input {c}x{h}x{w}: .*divisible by {multiple}"):
        g(torch.zeros(1, *shape))


def test_wrong_channels_and_tiny_inputs_are_user_errors():
    with pytest.raises(UserError, match="expects 3 channels"):
        UNet(base_channels=4)(torch.zeros(1, 1, 32, 32))
    with pytest.raises(UserError, match="at least 24"):
        PatchDiscriminator(base_channels=4)(torch.zeros(1, 3, 16, 16))


def test_unknown_names_are_user_errors():
    with pytest.raises(UserError, match="upsample"):
        UNet(upsample="nearest")
    with pytest.raises(UserError, match="norm"):
        UNet(norm="layer")


def test_discriminator_probabilities_and_feedback():
    torch.manual_seed(1)
    d = build_discriminator(_cfg())
    x = torch.randn(3, 3, 64, 64)
    logits = d(x)  # forward returns the logits; the sigmoid is applied where feedback is computed
    probs = torch.sigmoid(logits)
    assert logits.shape == (3, 1, 6, 6)  # 64 -> 32 -> 16 -> 8 -> 7 -> 6 patches
    assert (logits < 0).any()  # not probabilities
    assert ((probs >= 0) & (probs <= 1)).all()
    fb = d.feedback(x)
    assert fb.shape == (3,)
    torch.testing.assert_close(fb, probs.mean(dim=(1, 2, 3)))
    # A conditional (pix2pix) discriminator sees input and output: 6 channels.
    d6 = build_discriminator(_cfg(), in_channels=6)
    assert d6.feedback(torch.randn(2, 6, 32, 32)).shape == (2,)


def test_discriminator_runs_the_network_once():
    d = PatchDiscriminator(base_channels=4)
    calls = []
    d.model.register_forward_hook(lambda *_: calls.append(1))
    d.feedback(torch.randn(1, 3, 32, 32))
    assert calls == [1]


def test_discriminator_mirrors_the_reference_layout():
    keys = list(PatchDiscriminator(3, 8, 3, "batch").state_dict())
    assert keys[:3] == ["model.0.weight", "model.0.bias", "model.2.weight"]
    assert "model.3.running_mean" in keys and keys[-2:] == ["model.11.weight", "model.11.bias"]


def test_init_weights_statistics():
    torch.manual_seed(0)
    net = init_weights(UNet(base_channels=16, upsample="transposed"))
    convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    w = torch.cat([m.weight.flatten() for m in convs])
    assert abs(w.mean().item()) < 1e-3 and w.std().item() == pytest.approx(0.02, rel=0.02)
    assert all(m.bias is None or not m.bias.any() for m in convs)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    g = torch.cat([m.weight for m in bns]).detach()
    assert g.mean().item() == pytest.approx(1.0, abs=5e-3)
    assert g.std().item() == pytest.approx(0.02, rel=0.1)
    assert not torch.cat([m.bias for m in bns]).any()
    lin = init_weights(nn.Linear(100, 100), gain=0.5)
    assert lin.weight.std().item() == pytest.approx(0.5, rel=0.05) and not lin.bias.any()


def test_build_functions_use_the_config():
    cfg = _cfg(generator="resnet_6", norm="instance", disc_channels=16, disc_layers=2)
    g = build_generator(cfg)
    assert isinstance(g, ResnetGenerator) and g.model[1].weight.shape[0] == 8
    assert isinstance(g.model[2], nn.InstanceNorm2d) and g.model[1].bias is not None
    d = build_discriminator(cfg)
    assert d.model[0].weight.shape[0] == 16 and d.n_layers == 2
    unet = build_generator(_cfg(upsample="transposed"))
    assert isinstance(unet, UNet) and isinstance(unet.up1.up, nn.ConvTranspose2d)


def test_reference_unet_skip_carries_leaky_relu_of_its_input():
    """In the reference the in-place LeakyReLU rewrites x before the skip concatenation."""
    torch.manual_seed(0)
    block = UnetSkipConnectionBlock(4, 8, innermost=True, norm="batch").eval()
    x = torch.randn(2, 4, 8, 8)
    y = block(x.clone())
    assert y.shape == (2, 8, 8, 8)
    torch.testing.assert_close(y[:, :4], nn.functional.leaky_relu(x, 0.2))


@pytest.mark.parametrize("generator", ["unet", "resnet_9", "unet_128"])
def test_channels_last_and_bf16_autocast(generator):
    torch.manual_seed(0)
    side = 128 if generator == "unet_128" else 32
    g = build_generator(_cfg(generator=generator)).eval().to(memory_format=torch.channels_last)
    d = build_discriminator(_cfg()).eval().to(memory_format=torch.channels_last)
    x = torch.rand(2, 3, side, side).to(memory_format=torch.channels_last) * 2 - 1
    with torch.no_grad():
        ref = g(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = g(x)
            fb = d.feedback(y)
    assert y.shape == x.shape and torch.isfinite(y.float()).all()
    assert (y.float() - ref).abs().max() < 0.25  # bf16 keeps about 3 significant digits
    assert fb.shape == (2,) and ((fb >= 0) & (fb <= 1)).all()


def test_unet_trains_under_bf16_autocast():
    torch.manual_seed(0)
    g = build_generator(_cfg()).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(g.parameters(), lr=1e-3)
    x = torch.rand(2, 3, 32, 32).to(memory_format=torch.channels_last) * 2 - 1
    losses = []
    for _ in range(5):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = (g(x).float() - x).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
