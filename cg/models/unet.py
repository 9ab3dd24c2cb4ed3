"""The report's generator (R1): the U-Net, assembled from :mod:`cg.models.parts`.

Parts, then assembly, in the layout of the widely used PyTorch U-Net (milesial/Pytorch-UNet)::

    inc   DoubleConv(in, 64)                                   H x W
    down1 Down(64, 128)  down2 Down(128, 256)  down3 Down(256, 512)
    down4 Down(512, 1024 / f)                                  H/16 x W/16   (f = 2 if bilinear)
    up1 Up(1024, 512 / f)  up2 Up(512, 256 / f)  up3 Up(256, 128 / f)  up4 Up(128, 64)
    outc  OutConv(64, out) => tanh                             H x W

With bilinear upsampling the bottleneck is halved so both variants share their shapes; at 3->3
channels and 64 base channels they have 17,263,107 (bilinear) and 31,037,763 (transposed)
parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from cg.errors import UserError
from cg.models.parts import DoubleConv, Down, OutConv, Up
from cg.models.reference import check_size

__all__ = ["UNet"]


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
