"""Figures 1 and 2 (R1): block diagrams drawn from the real networks, not from pictures.

:func:`trace` runs one forward pass of a real model with forward hooks on its blocks and
records, per block, its output shape, parameter count and which earlier blocks fed it (found by
tensor identity, so skip connections appear by themselves). :func:`unet_figure` lays the U-Net's
blocks out as a "U" — x = order of execution, y = resolution level ``log2(H_in / H)`` — with the
skip connections as dashed arrows; :func:`patchgan_figure` draws the PatchGAN as a chain of its
conv layers and computes its receptive field from their kernels and strides:
``r_{l-1} = s_l * r_l + (k_l - s_l)``, starting from ``r = 1`` at the output.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import pandas as pd
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from torch import nn

from cg.config import TrainConfig
from cg.models import PatchDiscriminator, build_discriminator, build_generator, count_parameters
from cg.runtime import eval_mode

_COLOURS = {
    "DoubleConv": "#9ecae1",
    "Down": "#fdae6b",
    "Up": "#a1d99b",
    "OutConv": "#bcbddc",
    "input": "#eeeeee",
    "output": "#eeeeee",
}


@dataclass
class Block:
    """One traced block: its name in the model, class, output shape (C, H, W), parameters and
    the indices (into the trace) of the blocks whose outputs it consumed (-1 = the input)."""

    name: str
    kind: str
    shape: tuple[int, ...]
    params: int
    inputs: list[int] = field(default_factory=list)
    summary: str = ""


def trace(model: nn.Module, x: torch.Tensor, blocks: list[tuple[str, nn.Module]]) -> list[Block]:
    """Run ``model(x)`` once and record ``blocks`` (``(name, module)`` pairs) as they execute."""
    records: list[Block] = []
    outputs: list[torch.Tensor] = []

    def hook(name: str, module: nn.Module):
        def fn(_m: nn.Module, args: tuple, out: torch.Tensor) -> None:
            fed = []
            for a in args:
                if a is x:
                    fed.append(-1)
                fed += [i for i, o in enumerate(outputs) if a is o]
            doc = (type(module).__doc__ or "").strip().splitlines()
            records.append(
                Block(
                    name,
                    type(module).__name__,
                    tuple(out.shape[1:]),
                    count_parameters(module),
                    fed,
                    doc[0] if doc else "",
                )
            )
            outputs.append(out)

        return fn

    handles = [m.register_forward_hook(hook(n, m)) for n, m in blocks]
    try:
        with eval_mode(model), torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return records


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(s) for s in shape)


def _box(ax, x: float, y: float, w: float, h: float, text: str, colour: str) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02",
            facecolor=colour,
            edgecolor="#333333",
            linewidth=0.8,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=7.5)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], dashed: bool = False) -> None:
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={
            "arrowstyle": "-|>",
            "color": "#555555" if dashed else "#222222",
            "lw": 1.0,
            "linestyle": "--" if dashed else "-",
            "shrinkA": 0,
            "shrinkB": 0,
        },
    )


def unet_figure(cfg: TrainConfig, image_size: int | None = None) -> Figure:
    """Figure 1: the U-Net generator of ``cfg`` (``generator='unet'``) traced at ``image_size``."""
    if cfg.generator != "unet":
        raise ValueError(f"unet_figure draws generator='unet', not {cfg.generator!r}")
    size = image_size or cfg.image_size
    model = build_generator(cfg)
    x = torch.zeros(1, 3, size, size)
    blocks = trace(model, x, list(model.named_children()))
    level = [round(math.log2(size / b.shape[-1])) for b in blocks]
    w, h = 0.86, 0.62
    fig = Figure(
        figsize=(1.25 * (len(blocks) + 2), 1.15 * (max(level) + 2) + 1.2), layout="constrained"
    )
    ax = fig.subplots()
    _box(ax, 0, 0, w, h, f"input\n{_shape(tuple(x.shape[1:]))}", _COLOURS["input"])
    pos = {-1: (0.0, 0.0)}
    for i, b in enumerate(blocks):
        pos[i] = (float(i + 1), -1.1 * level[i])
        label = f"{b.name}\n{b.kind}\n{_shape(b.shape)}\n{b.params:,} p"
        _box(ax, *pos[i], w, h, label, _COLOURS.get(b.kind, "#dddddd"))
    for i, b in enumerate(blocks):
        for j in b.inputs:
            (x0, y0), (x1, y1) = pos[j], pos[i]
            if j == i - 1 or (j == -1 and i == 0):  # the main path, box edge to box edge
                if y0 == y1:
                    _arrow(ax, (x0 + w / 2, y0), (x1 - w / 2, y1))
                else:
                    sgn = 1 if y1 > y0 else -1
                    _arrow(ax, (x0 + w / 4, y0 + sgn * h / 2), (x1 - w / 4, y1 - sgn * h / 2))
            else:  # a skip connection: same level, dashed, above the boxes
                top = y0 + h / 2
                ax.plot([x0, x0, x1], [top, top + 0.2, top + 0.2], color="#555555", lw=1.0, ls="--")
                _arrow(ax, (x1, top + 0.2), (x1, top), dashed=True)
    last = len(blocks)
    out_pos = (float(last + 1), pos[last - 1][1])
    _box(ax, *out_pos, w, h, f"tanh\noutput\n{_shape(blocks[-1].shape)}", _COLOURS["output"])
    _arrow(ax, (pos[last - 1][0] + w / 2, out_pos[1]), (out_pos[0] - w / 2, out_pos[1]))
    kinds = dict.fromkeys(b.kind for b in blocks)
    legend = "\n".join(f"{k}: {next(b.summary for b in blocks if b.kind == k)}" for k in kinds)
    legend += "\ndashed: skip connection (concatenated in Up)"
    ax.text(
        0.0, -1.1 * max(level) - 0.2, legend, fontsize=7.5, va="top", ha="left", family="monospace"
    )
    ax.set_xlim(-0.6, last + 1.6)
    ax.set_ylim(-1.1 * max(level) - 1.5, 0.9)
    ax.set_axis_off()
    total = count_parameters(model)
    ax.set_title(
        f"U-Net generator: {cfg.upsample} upsampling, base channels {cfg.base_channels}, "
        f"{total:,} parameters (traced at {size}×{size}; each box: block, class, "
        "output C×H×W, parameters)",
        fontsize=9,
    )
    return fig


def parameter_counts(cfg: TrainConfig) -> pd.DataFrame:
    """Parameters of the U-Net with either upsampling and of the PatchGAN at ``cfg``'s widths."""
    rows = []
    for upsample in ("bilinear", "transposed"):
        net = build_generator(dataclasses.replace(cfg, generator="unet", upsample=upsample))
        rows.append(
            (
                f"U-Net generator, {upsample} upsampling",
                cfg.base_channels,
                f"{count_parameters(net):,}",
            )
        )
    rows.append(
        (
            "PatchGAN discriminator",
            cfg.disc_channels,
            f"{count_parameters(build_discriminator(cfg)):,}",
        )
    )
    return pd.DataFrame(rows, columns=["network", "base channels", "parameters"]).set_index(
        "network"
    )


def receptive_field(model: PatchDiscriminator) -> int:
    """Side of the input patch that one output score sees (70 for the 70x70 PatchGAN)."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    r = 1
    for c in reversed(convs):
        k, s = c.kernel_size[0], c.stride[0]
        r = s * r + (k - s)
    return r


def _layer_text(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        return f"conv {m.kernel_size[0]}×{m.kernel_size[1]}/{m.stride[0]} → {m.out_channels}"
    if isinstance(m, nn.LeakyReLU):
        return f"LeakyReLU {m.negative_slope:g}"
    return type(m).__name__


def patchgan_figure(cfg: TrainConfig, image_size: int | None = None) -> Figure:
    """Figure 2: the PatchGAN discriminator of ``cfg`` traced at ``image_size``.

    Each box is a conv layer with the norm and activation that follow it; the last box is the
    sigmoid and the mean over patches, the discriminator's feedback (R1).
    """
    size = image_size or cfg.image_size
    model = build_discriminator(cfg)
    x = torch.zeros(1, 3, size, size)
    layers = list(model.model.named_children())
    traced = trace(model, x, layers)
    groups: list[list[int]] = []
    for i, (_, m) in enumerate(layers):
        if isinstance(m, nn.Conv2d) or not groups:
            groups.append([])
        groups[-1].append(i)
    n = len(groups) + 2
    fig = Figure(figsize=(1.9 * n, 2.1), layout="constrained")
    ax = fig.subplots()
    w, h = 1.55, 1.3
    _box(ax, 0, 0, w, h, f"input\n{_shape(tuple(x.shape[1:]))}", _COLOURS["input"])
    for g, idx in enumerate(groups, start=1):
        lines = [_layer_text(layers[i][1]) for i in idx]
        params = sum(traced[i].params for i in idx)
        text = "\n".join(lines + [_shape(traced[idx[-1]].shape), f"{params:,} p"])
        _box(ax, g * 2.0, 0, w, h, text, "#fdd0a2" if g < len(groups) else "#fc9272")
        _arrow(ax, ((g - 1) * 2.0 + w / 2, 0), (g * 2.0 - w / 2, 0))
    end = (n - 1) * 2.0
    patches = traced[-1].shape
    _box(
        ax,
        end,
        0,
        w,
        h,
        f"sigmoid\n{_shape(patches)} patch\nprobabilities\n→ mean =\nfeedback",
        _COLOURS["output"],
    )
    _arrow(ax, (end - 2.0 + w / 2, 0), (end - w / 2, 0))
    ax.set_xlim(-w / 2 - 0.1, end + w / 2 + 0.1)
    ax.set_ylim(-h / 2 - 0.2, h / 2 + 0.2)
    ax.set_axis_off()
    ax.set_title(
        f"PatchGAN discriminator: n_layers {cfg.disc_layers}, base channels {cfg.disc_channels}, "
        f"{count_parameters(model):,} parameters; each output score sees a "
        f"{receptive_field(model)}×{receptive_field(model)} patch (traced at {size}×{size})",
        fontsize=9,
    )
    return fig
