"""The U-Net's parts (R1), in the layout of milesial/Pytorch-UNet: each a small block."""

from __future__ import annotations

import torch
from torch import nn

from cg.errors import UserError
from cg.models.reference import make_norm

__all__ = ["DoubleConv", "Down", "Up", "OutConv"]


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
