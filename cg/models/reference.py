"""The reference CycleGAN/pix2pix generators, with their exact module layout.

junyanz/pytorch-CycleGAN-and-pix2pix (``models/networks.py``) defines a ResNet generator
(``resnet_9blocks``, ``resnet_6blocks``) and a recursive U-Net (``unet_128``, ``unet_256``). The
classes here rebuild them so that their ``state_dict`` keys and shapes are the reference's
(``model.10.conv_block.1.weight``, ``model.model.1.model.3.model.1.weight`` ...), their
parameter counts match (resnet_9: 11,378,179 and unet_128: 41,828,995 at 64 base channels), and
a reference checkpoint loads with ``load_state_dict`` and computes the same function
(see :mod:`cg.models.official`).

Norm semantics are the reference's: ``batch`` is ``BatchNorm2d`` (affine, running statistics)
and convolutions before it have no bias; ``instance`` is ``InstanceNorm2d(affine=False,
track_running_stats=False)`` and those convolutions have a bias. The helpers :func:`make_norm`
and :func:`check_size` are shared with the report's U-Net in :mod:`cg.models`.
"""

from __future__ import annotations

import torch
from torch import nn

from cg.errors import UserError

NORMS = ("batch", "instance")


def make_norm(norm: str, channels: int) -> nn.Module:
    """A normalisation layer over ``channels`` feature maps, as the reference's get_norm_layer."""
    if norm == "batch":
        return nn.BatchNorm2d(channels, affine=True, track_running_stats=True)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    raise UserError(f"norm={norm!r} is not one of {', '.join(NORMS)}")


def conv_bias(norm: str) -> bool:
    """Convolutions followed by a norm layer carry a bias only with instance norm (reference)."""
    make_norm(norm, 1)  # validates the name
    return norm == "instance"


def check_size(x: torch.Tensor, multiple: int, what: str, in_channels: int) -> None:
    """A UserError unless ``x`` is (N, in_channels, H, W), H and W divisible by ``multiple``."""
    if x.dim() != 4:
        raise UserError(f"{what} takes a batch of images (N, C, H, W); got shape {tuple(x.shape)}")
    c, h, w = x.shape[1:]
    if c != in_channels:
        raise UserError(f"input {c}x{h}x{w}: {what} expects {in_channels} channels")
    if h % multiple or w % multiple or h == 0 or w == 0:
        fit_h, fit_w = max(multiple, h - h % multiple), max(multiple, w - w % multiple)
        raise UserError(
            f"input {c}x{h}x{w}: height and width must be divisible by {multiple} for {what}; "
            f"resize or crop the images (e.g. to {fit_h}x{fit_w})"
        )


class ResnetBlock(nn.Module):
    """x + (pad => conv3x3 => norm => ReLU [=> dropout] => pad => conv3x3 => norm)(x)."""

    def __init__(self, dim: int, norm: str = "batch", use_dropout: bool = False) -> None:
        super().__init__()
        bias = conv_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, bias=bias),
            make_norm(norm, dim),
            nn.ReLU(inplace=True),
        ]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, bias=bias)]
        layers.append(make_norm(norm, dim))
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Johnson et al.'s generator as the reference builds it (``resnet_{6,9}blocks``).

    pad3 => conv7x7(ngf) => norm => ReLU, two stride-2 conv3x3 downsamplings (2ngf, 4ngf),
    ``n_blocks`` :class:`ResnetBlock` at 4ngf, two stride-2 transposed conv3x3 upsamplings,
    pad3 => conv7x7(out) => tanh. Sides must be divisible by 4 to keep the size.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        base_channels: int = 64,
        norm: str = "batch",
        use_dropout: bool = False,
        n_blocks: int = 9,
    ) -> None:
        super().__init__()
        if n_blocks < 0:
            raise UserError(f"n_blocks={n_blocks} must not be negative")
        self.in_channels = in_channels
        ngf, bias = base_channels, conv_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, kernel_size=7, bias=bias),
            make_norm(norm, ngf),
            nn.ReLU(inplace=True),
        ]
        for mult in (1, 2):  # downsampling: ngf -> 2ngf -> 4ngf
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias),
                make_norm(norm, ngf * mult * 2),
                nn.ReLU(inplace=True),
            ]
        layers += [ResnetBlock(ngf * 4, norm, use_dropout) for _ in range(n_blocks)]
        for mult in (4, 2):  # upsampling: 4ngf -> 2ngf -> ngf
            layers += [
                nn.ConvTranspose2d(
                    ngf * mult,
                    ngf * mult // 2,
                    3,
                    stride=2,
                    padding=1,
                    output_padding=1,
                    bias=bias,
                ),
                make_norm(norm, ngf * mult // 2),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, kernel_size=7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_size(x, 4, "the ResNet generator", self.in_channels)
        return self.model(x)


class UnetSkipConnectionBlock(nn.Module):
    """One level of the reference's recursive U-Net.

    ``x ------------------------- skip -------------------------- cat``
    ``  |-- LReLU => conv4x4/2 => norm -- |submodule| -- ReLU => convT4x4/2 => norm --|``

    The outermost level has no LeakyReLU/norm on the way down, ends in tanh and returns no
    skip; the innermost has no submodule and no down norm. In the reference the LeakyReLU runs
    in place on ``x`` before ``torch.cat([x, model(x)])`` reads it, so its skip carries
    ``LeakyReLU(x)``, not ``x``; :meth:`forward` computes exactly that, without in-place tricks.
    """

    def __init__(
        self,
        outer_channels: int,
        inner_channels: int,
        in_channels: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm: str = "batch",
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        bias = conv_bias(norm)
        in_channels = outer_channels if in_channels is None else in_channels
        down_conv = nn.Conv2d(in_channels, inner_channels, 4, stride=2, padding=1, bias=bias)
        up_in = inner_channels if innermost else inner_channels * 2
        if outermost:
            assert submodule is not None
            up_conv = nn.ConvTranspose2d(up_in, outer_channels, 4, stride=2, padding=1)
            layers = [down_conv, submodule, nn.ReLU(inplace=True), up_conv, nn.Tanh()]
        else:
            up_conv = nn.ConvTranspose2d(up_in, outer_channels, 4, stride=2, padding=1, bias=bias)
            up = [nn.ReLU(inplace=True), up_conv, make_norm(norm, outer_channels)]
            if innermost:
                layers = [nn.LeakyReLU(0.2), down_conv, *up]
            else:
                assert submodule is not None
                down = [nn.LeakyReLU(0.2), down_conv, make_norm(norm, inner_channels)]
                layers = [*down, submodule, *up] + ([nn.Dropout(0.5)] if use_dropout else [])
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        skip = self.model[0](x)  # LeakyReLU(x): the reference's in-place skip
        return torch.cat([skip, self.model[1:](skip)], dim=1)


class UnetGenerator(nn.Module):
    """The reference's U-Net: ``num_downs`` stride-2 levels (7 = unet_128, 8 = unet_256).

    Widths from the outside in: ngf, 2ngf, 4ngf, then 8ngf for every deeper level (dropout in
    the ``num_downs - 5`` middle 8ngf levels when ``use_dropout``). A 2^num_downs input reaches
    1x1 at the bottleneck, so sides must be divisible by 2^num_downs.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        num_downs: int = 8,
        base_channels: int = 64,
        norm: str = "batch",
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        if num_downs < 5:
            raise UserError(f"num_downs={num_downs}: the reference U-Net needs at least 5 levels")
        self.in_channels, self.num_downs = in_channels, num_downs
        ngf = base_channels
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(
                ngf * 8, ngf * 8, submodule=block, norm=norm, use_dropout=use_dropout
            )
        for outer, inner in ((4, 8), (2, 4), (1, 2)):
            block = UnetSkipConnectionBlock(ngf * outer, ngf * inner, submodule=block, norm=norm)
        self.model = UnetSkipConnectionBlock(
            out_channels, ngf, in_channels=in_channels, submodule=block, outermost=True, norm=norm
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_size(x, 2**self.num_downs, f"unet_{2**self.num_downs}", self.in_channels)
        return self.model(x)
