"""The per-epoch sample grids of a run (R7's layout): ``[output | source]`` rows, training
images first, then validation images."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from cg.images import sample_grid, save_image
from cg.runtime import autocast, eval_mode, to_device


@torch.inference_mode()
def sample_grids(
    generators: Mapping[str, nn.Module | None],
    images: Mapping[str, Mapping[str, torch.Tensor]],
    *,
    device: torch.device,
    precision: str = "fp32",
    channels_last: bool = False,
) -> dict[str, torch.Tensor]:
    """One uint8 grid per direction.

    ``generators``: ``{"ab": g_ab, "ba": g_ba}`` (None where a run has none); ``images``:
    ``{split: {"a": (n, 3, S, S), "b": ...}}`` in the order the rows should appear.
    """
    sources = {"ab": "a", "ba": "b"}
    parts: dict[str, tuple[list[torch.Tensor], list[torch.Tensor]]] = {}
    present = [g for g in generators.values() if g is not None]
    with eval_mode(*present):
        for split_images in images.values():
            for direction, g in generators.items():
                src = split_images.get(sources[direction])
                if g is None or src is None:
                    continue
                with autocast(device, precision):
                    out = g(to_device(src, device, channels_last)).float().cpu()
                outs, srcs = parts.setdefault(direction, ([], []))
                outs.append(out)
                srcs.append(src)
    return {d: sample_grid(torch.cat(o), torch.cat(s)) for d, (o, s) in parts.items()}


def write_sample_grids(grids: Mapping[str, torch.Tensor], path_of: Mapping[str, Path]) -> None:
    """Save each direction's grid as a PNG at ``path_of[direction]``."""
    for direction, grid in grids.items():
        save_image(grid, path_of[direction])
