"""The report's networks (R1): the U-Net generator, the PatchGAN discriminator, weight init.

Parts, then assembly, in the layout of the widely used PyTorch U-Net (milesial/Pytorch-UNet)::

    inc   DoubleConv(in, 64)                                   H x W
    down1 Down(64, 128)  down2 Down(128, 256)  down3 Down(256, 512)
    down4 Down(512, 1024 / f)                                  H/16 x W/16   (f = 2 if bilinear)
    up1 Up(1024, 512 / f)  up2 Up(512, 256 / f)  up3 Up(256, 128 / f)  up4 Up(128, 64)
    outc  OutConv(64, out) => tanh                             H x W

With bilinear upsampling the bottleneck is halved so both variants share their shapes; at 3->3
channels and 64 base channels they have 17,263,107 (bilinear) and 31,037,763 (transposed)
parameters. The reference CycleGAN/pix2pix generators live in :mod:`cg.reference_models`;
:func:`build_generator` and :func:`build_discriminator` make any of them from a config.
"""

from __future__ import annotations

import torch
from torch import nn

from cg.config import TrainConfig
from cg.errors import UserError
from cg.reference_models import (
    ResnetBlock,
    ResnetGenerator,
    UnetGenerator,
    UnetSkipConnectionBlock,
    check_size,
    conv_bias,
    make_norm,
)

__all__ = [
    "DoubleConv",
    "Down",
    "Up",
    "OutConv",
    "UNet",
    "PatchDiscriminator",
    "ResnetBlock",
    "ResnetGenerator",
    "UnetGenerator",
    "UnetSkipConnectionBlock",
    "init_weights",
    "build_generator",
    "build_discriminator",
    "count_parameters",
]


class DoubleConv(nn.Module):
    """(conv3x3 => norm => ReLU) * 2; padding 1 keeps the size."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mid_channels: int | None = None,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        mid = mid_channels or out_channels
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid, kernel_size=3, padding=1, bias=False),
            make_norm(norm, mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, kernel_size=3, padding=1, bias=False),
            make_norm(norm, out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.double_conv(x)


class Down(nn.Module):
    """maxpool2x2 => DoubleConv: halves the size."""

    def __init__(self, in_channels: int, out_channels: int, norm: str = "batch") -> None:
        super().__init__()
        self.maxpool_conv = nn.Sequential(
            nn.MaxPool2d(2), DoubleConv(in_channels, out_channels, norm=norm)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool_conv(x)


class Up(nn.Module):
    """upsample x2 (bilinear, or transposed conv2x2 halving the channels) => cat skip => DoubleConv.

    Bilinear: DoubleConv(in, out, mid=in / 2) on cat(skip, up(x)), where x has in / 2 channels.
    Transposed: ConvTranspose2d(in, in / 2) then DoubleConv(in, out).
    """

    def __init__(
        self, in_channels: int, out_channels: int, upsample: str = "bilinear", norm: str = "batch"
    ) -> None:
        super().__init__()
        if upsample == "bilinear":
            self.up: nn.Module = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2, norm=norm)
        elif upsample == "transposed":
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels, norm=norm)
        else:
            raise UserError(f"upsample={upsample!r} is not one of bilinear, transposed")

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


class OutConv(nn.Module):
    """conv1x1 to the output channels."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class UNet(nn.Module):
    """The report's generator (R1): U-Net of Ronneberger et al., tanh output in [-1, 1].

    Sides must be divisible by 16 (four 2x2 poolings); the output has the input's size.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        base_channels: int = 64,
        upsample: str = "bilinear",
        norm: str = "batch",
    ) -> None:
        super().__init__()
        if upsample not in ("bilinear", "transposed"):
            raise UserError(f"upsample={upsample!r} is not one of bilinear, transposed")
        self.in_channels, self.upsample = in_channels, upsample
        c, f = base_channels, 2 if upsample == "bilinear" else 1
        self.inc = DoubleConv(in_channels, c, norm=norm)
        self.down1 = Down(c, c * 2, norm)
        self.down2 = Down(c * 2, c * 4, norm)
        self.down3 = Down(c * 4, c * 8, norm)
        self.down4 = Down(c * 8, c * 16 // f, norm)
        self.up1 = Up(c * 16, c * 8 // f, upsample, norm)
        self.up2 = Up(c * 8, c * 4 // f, upsample, norm)
        self.up3 = Up(c * 4, c * 2 // f, upsample, norm)
        self.up4 = Up(c * 2, c, upsample, norm)
        self.outc = OutConv(c, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_size(x, 16, "the U-Net (it halves them 4 times)", self.in_channels)
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return torch.tanh(self.outc(x))


class PatchDiscriminator(nn.Module):
    """The 70x70 PatchGAN (R1), in the layout of the reference's NLayerDiscriminator.

    conv4x4/2(64) => LReLU, then (conv4x4 => norm => LReLU) at 128, 256 (stride 2) and 512
    (stride 1), then conv4x4/1 to 1 channel: one score per overlapping patch. ``logits(x)`` are
    those scores s; ``forward(x) = sigmoid(s)`` is the probability that each patch is real;
    ``feedback(x)`` is its mean over patches, per image (R1, R5).
    """

    def __init__(
        self, in_channels: int = 3, base_channels: int = 64, n_layers: int = 3, norm: str = "batch"
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise UserError(f"n_layers={n_layers} must be at least 1")
        self.in_channels, self.n_layers = in_channels, n_layers
        ndf, bias = base_channels, conv_bias(norm)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        mult = 1
        for n in range(1, n_layers + 1):  # the last of these has stride 1
            prev, mult = mult, min(2**n, 8)
            layers += [
                nn.Conv2d(
                    ndf * prev, ndf * mult, 4, stride=2 if n < n_layers else 1, padding=1, bias=bias
                ),
                make_norm(norm, ndf * mult),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid patch scores, shape (N, 1, h, w)."""
        smallest = 3 * 2**self.n_layers
        if x.dim() == 4 and min(x.shape[-2:]) < smallest:
            raise UserError(
                f"input {'x'.join(map(str, x.shape[1:]))}: too small for a PatchGAN with "
                f"n_layers={self.n_layers}; height and width must be at least {smallest}"
            )
        return self.model(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-patch probabilities "real" in [0, 1], shape (N, 1, h, w)."""
        return torch.sigmoid(self.logits(x))

    def feedback(self, x: torch.Tensor) -> torch.Tensor:
        """Mean probability "real" over all patches, per image: shape (N,)."""
        return self.forward(x).flatten(1).mean(dim=1)


def init_weights(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """The reference's ``init_weights('normal')``, in place; returns ``module``.

    conv / transposed conv / linear weights ~ N(0, gain), their biases = 0;
    BatchNorm weights ~ N(1, gain), biases = 0. (Instance norm here has no parameters.)
    """
    for m in module.modules():
        if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return module


def build_generator(cfg: TrainConfig) -> nn.Module:
    """The generator ``cfg.generator`` names, 3 -> 3 channels, initialised with init_weights.

    ``unet`` uses ``upsample``; the reference generators use ``dropout``; all use
    ``base_channels`` and ``norm``.
    """
    c, norm, drop = cfg.base_channels, cfg.norm, cfg.dropout
    if cfg.generator == "unet":
        net: nn.Module = UNet(3, 3, c, upsample=cfg.upsample, norm=norm)
    elif cfg.generator == "resnet_9":
        net = ResnetGenerator(3, 3, c, norm=norm, use_dropout=drop, n_blocks=9)
    elif cfg.generator == "resnet_6":
        net = ResnetGenerator(3, 3, c, norm=norm, use_dropout=drop, n_blocks=6)
    elif cfg.generator == "unet_128":
        net = UnetGenerator(3, 3, 7, c, norm=norm, use_dropout=drop)
    elif cfg.generator == "unet_256":
        net = UnetGenerator(3, 3, 8, c, norm=norm, use_dropout=drop)
    else:
        raise UserError(
            f"generator={cfg.generator!r} is not one of unet, resnet_9, resnet_6, unet_128, "
            "unet_256"
        )
    return init_weights(net)


def build_discriminator(cfg: TrainConfig, in_channels: int = 3) -> PatchDiscriminator:
    """A PatchGAN of ``cfg.disc_channels`` / ``cfg.disc_layers`` / ``cfg.norm``, initialised.

    ``in_channels`` is 3 for CycleGAN's D and 6 for pix2pix's conditional D (input and output).
    """
    net = PatchDiscriminator(in_channels, cfg.disc_channels, cfg.disc_layers, cfg.norm)
    return init_weights(net)


def count_parameters(module: nn.Module) -> int:
    """The number of parameters (trainable or not; buffers excluded)."""
    return sum(p.numel() for p in module.parameters())
