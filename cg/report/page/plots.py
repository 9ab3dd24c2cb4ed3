"""Curves and figures: matplotlib Figures of ``history.csv`` columns, and one way to save them.

Curves are seaborn line plots of ``history.csv`` columns against the epoch. Figures are built
on :class:`matplotlib.figure.Figure` directly (not ``pyplot``), so nothing is shown or kept
open behind the caller's back; :func:`save_figure` writes one as a PNG, atomically.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from cg.files import atomic_write_bytes
from cg.report.findings.rules import RULES

#: Dots per inch of every saved figure.
DPI = 120


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
    seaborn line plot with markers (short runs have few epochs). A history holding several
    runs (one per seed, rows one after the other) draws each curve as their mean with a band
    of one standard deviation. ``ylim`` fixes the y range (e.g. (0, 1) for discriminator
    probabilities).
    """

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
                errorbar="sd",
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


def by_seed(rows: Sequence[Mapping[str, Any]], *, title: str = "") -> Figure:
    """Each finding's statistic per seed against its line, one panel per check: the seeds'
    values as dots, their mean with its interval as a bar, the line dashed (an equivalence
    check, ``within``, its band: ``±line``, or ``1/line`` to ``line`` for a ratio, drawn on a
    log scale); the panel's title is the check and its verdict."""
    n = max(1, len(rows))
    fig = Figure(figsize=(2.3 * n, 3.0), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, row in zip(axes, rows):
        values = [float(v) for v in str(row.get("per_seed") or row["value"]).split(";")]
        ax.scatter(range(len(values)), values, s=18, color="tab:blue", zorder=3)
        mid = (len(values) - 1) / 2
        value, low, high = (float(row[k]) for k in ("value", "low", "high"))
        if math.isfinite(low) and math.isfinite(high):
            ax.errorbar([mid], [value], yerr=[[value - low], [high - value]], fmt="s",
                        color="black", capsize=4, zorder=4)  # fmt: skip
        line = float(row["line"])
        rule = RULES.get(str(row["id"]))
        part = rule.parts[0] if rule is not None else None
        band = part is not None and part.side == "within"
        for y in (line, 1 / line if part.ratio else -line) if band else (line,):
            ax.axhline(y, color="tab:red", linestyle="--", linewidth=1)
        if part is not None and part.ratio and min(values) > 0:
            ax.set_yscale("log")  # a ratio is tested as its log
        ax.set_title(f"{row['id']}: {row['verdict']}", fontsize="small")
        ax.set_xticks(range(len(values)))
        ax.set_xlabel("seed (in the block)", fontsize="small")
        # wrapped: a long statistic's name would run past the panel into the title
        ax.set_ylabel(textwrap.fill(str(row["statistic"]), 32), fontsize="x-small")
        ax.grid(True, alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig
