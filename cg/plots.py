"""Figures: functions that return images or matplotlib Figures, and one way to save each.

Sample grids follow the report's convention (R7): in every row the model's output on the left
and the source image on the right; where a figure shows both splits, the training rows come
first (top) and the validation rows below them, after a white gap.

Curves are seaborn line plots of ``history.csv`` columns against the epoch. Figures are built
on :class:`matplotlib.figure.Figure` directly (not ``pyplot``), so nothing is shown or kept
open behind the caller's back; :func:`save_figure` writes one as a PNG, atomically.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch
from matplotlib.figure import Figure
from torchvision.utils import make_grid

from cg.checkpoints import atomic_write_bytes

#: Dots per inch of every saved figure.
DPI = 120


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Map float images in [-1, 1] to uint8 in [0, 255] (on the CPU)."""
    x = images.detach().float().cpu()
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def sample_grid(outputs: torch.Tensor, sources: torch.Tensor, padding: int = 2) -> torch.Tensor:
    """A grid with one row per image: ``[output | source]``.

    ``outputs`` and ``sources`` are float tensors in [-1, 1] of shape (N, 3, H, W), or uint8.
    Returns a uint8 tensor (3, H', W').
    """
    if outputs.shape != sources.shape:
        raise ValueError(f"outputs {tuple(outputs.shape)} and sources {tuple(sources.shape)}")
    out = outputs if outputs.dtype == torch.uint8 else to_uint8(outputs)
    src = sources if sources.dtype == torch.uint8 else to_uint8(sources)
    rows = torch.stack([out.cpu(), src.cpu()], dim=1).flatten(0, 1)
    return make_grid(rows, nrow=2, padding=padding, pad_value=255)


def stack_grids(*grids: torch.Tensor, gap: int = 8) -> torch.Tensor:
    """Stack uint8 grids (3, H_i, W) vertically with ``gap`` white rows between them.

    Used for "top train, bottom validation" sample figures; empty (zero-height) grids are
    skipped, narrower ones are padded white on the right.
    """
    parts = [g for g in grids if g.numel()]
    if not parts:
        raise ValueError("stack_grids needs at least one non-empty grid")
    width = max(g.shape[-1] for g in parts)
    white = torch.full((3, gap, width), 255, dtype=torch.uint8)
    rows: list[torch.Tensor] = []
    for i, g in enumerate(parts):
        if g.shape[-1] < width:
            pad = torch.full((3, g.shape[1], width - g.shape[-1]), 255, dtype=torch.uint8)
            g = torch.cat([g, pad], dim=-1)
        if i:
            rows.append(white)
        rows.append(g)
    return torch.cat(rows, dim=1)


def save_image(image: torch.Tensor, path: str | Path) -> Path:
    """Save a uint8 (3, H, W) tensor as a PNG, atomically."""
    from PIL import Image

    path = Path(path)
    arr = image.permute(1, 2, 0).contiguous().numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return path


def figure_png(fig: Figure) -> bytes:
    """The figure rendered as PNG bytes (tight bounding box, :data:`DPI`)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save a matplotlib figure as a PNG, atomically."""
    path = Path(path)
    atomic_write_bytes(path, figure_png(fig))
    return path


def long_format(history: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """Rows ``(epoch, series, value)`` for ``columns`` = ``{label: history column}``.

    Missing columns and empty cells (a mode without that metric) are dropped.
    """
    frames = []
    for label, column in columns.items():
        if column not in history.columns:
            continue
        values = pd.to_numeric(history[column], errors="coerce")
        part = pd.DataFrame({"epoch": history["epoch"], "series": label, "value": values})
        frames.append(part.dropna(subset=["value"]))
    if not frames:
        return pd.DataFrame({"epoch": [], "series": [], "value": []})
    return pd.concat(frames, ignore_index=True)


def curves(
    history: pd.DataFrame,
    panels: Mapping[str, Mapping[str, str]],
    *,
    ylabel: str,
    title: str = "",
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """Metric curves against the epoch, one subplot per panel.

    ``panels`` maps a panel title to ``{legend label: history column}``; each panel is a
    seaborn line plot with markers (short runs have few epochs). ``ylim`` fixes the y range
    (e.g. (0, 1) for discriminator probabilities).
    """
    import seaborn as sns

    n = len(panels)
    fig = Figure(figsize=(4.2 * n, 3.2), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (panel, columns) in zip(axes, panels.items()):
        data = long_format(history, columns)
        if len(data):
            sns.lineplot(
                data=data,
                x="epoch",
                y="value",
                hue="series",
                style="series",
                markers=True,
                dashes=False,
                ax=ax,
            )
            ax.legend(title=None, fontsize="small")
        else:
            ax.text(
                0.5, 0.5, "no values recorded", ha="center", va="center", transform=ax.transAxes
            )
        ax.set_title(panel, fontsize="medium")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if ylim is not None:
            ax.set_ylim(*ylim)
        epochs = history["epoch"] if "epoch" in history.columns else []
        if len(epochs) and len(epochs) <= 12:
            ax.set_xticks(sorted(set(int(e) for e in epochs)))
    if title:
        fig.suptitle(title)
    return fig
