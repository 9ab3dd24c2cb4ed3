"""The report's discriminator (R1): the 70x70 PatchGAN, whose ``forward`` returns logits."""

from __future__ import annotations

import torch
from torch import nn

from cg.errors import UserError
from cg.models.reference import conv_bias, make_norm

__all__ = ["PatchDiscriminator"]


class PatchDiscriminator(nn.Module):
    """The 70x70 PatchGAN (R1), in the layout of the reference's NLayerDiscriminator.

    conv4x4/2(64) => LReLU, then (conv4x4 => norm => LReLU) at 128, 256 (stride 2) and 512
    (stride 1), then conv4x4/1 to 1 channel: one score per overlapping patch. ``logits(x)`` are
    those scores s, the logits: ``forward(x) = s`` (so DDP and ``torch.compile``, which wrap
    ``forward``, cover what the losses use); ``sigmoid(s)`` is the probability that each patch
    is real, and ``feedback(x)`` its mean over patches, per image (R1, R5).
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid patch scores (logits), shape (N, 1, h, w)."""
        smallest = 3 * 2**self.n_layers
        if x.dim() == 4 and min(x.shape[-2:]) < smallest:
            raise UserError(
                f"input {'x'.join(map(str, x.shape[1:]))}: too small for a PatchGAN with "
                f"n_layers={self.n_layers}; height and width must be at least {smallest}"
            )
        return self.model(x)

    def feedback(self, x: torch.Tensor) -> torch.Tensor:
        """Mean probability "real" over all patches, per image: shape (N,)."""
        return torch.sigmoid(self(x).float()).flatten(1).mean(dim=1)
