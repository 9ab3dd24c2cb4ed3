"""The networks: the report's U-Net and PatchGAN (R1), the reference implementation's
generators, and the import of its weights.

- :mod:`cg.models.parts` (DoubleConv, Down, Up, OutConv) -> :mod:`cg.models.unet` (UNet)
- :mod:`cg.models.patchgan` (PatchDiscriminator; ``forward`` returns logits)
- :mod:`cg.models.reference` (the reference's ResnetGenerator and UnetGenerator)
- :mod:`cg.models.official` (``cg import-official``: reference ``.pth`` -> cg checkpoint)

Here: :func:`build_generator` and :func:`build_discriminator` make any of them from a config,
with the reference's weight initialisation.
"""

from __future__ import annotations

from torch import nn

from cg.config import TrainConfig
from cg.errors import UserError
from cg.models.parts import DoubleConv, Down, OutConv, Up
from cg.models.patchgan import PatchDiscriminator
from cg.models.reference import (
    ResnetBlock,
    ResnetGenerator,
    UnetGenerator,
    UnetSkipConnectionBlock,
)
from cg.models.unet import UNet

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
    normal = cfg.init == "normal" or (cfg.init == "auto" and cfg.generator != "unet")
    return init_weights(net) if normal else net


def build_discriminator(cfg: TrainConfig, in_channels: int = 3) -> PatchDiscriminator:
    """A PatchGAN of ``cfg.disc_channels`` / ``cfg.disc_layers`` / ``cfg.norm``, initialised.

    ``in_channels`` is 3 for CycleGAN's D and 6 for pix2pix's conditional D (input and output).
    """
    net = PatchDiscriminator(in_channels, cfg.disc_channels, cfg.disc_layers, cfg.norm)
    return init_weights(net) if cfg.init in ("auto", "normal") else net


def count_parameters(module: nn.Module) -> int:
    """The number of parameters (trainable or not; buffers excluded)."""
    return sum(p.numel() for p in module.parameters())
