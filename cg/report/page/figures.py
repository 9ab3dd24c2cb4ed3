"""The report's figures (R7), drawn from finished runs, and :func:`publish`, which saves one.

The numbers, file names and captions live in one table, :data:`cg.report.page.captions.FIGURES`;
notebooks call :func:`publish` with a figure's number, which saves it under its fixed file name
(``fig03_cityscapes_pixel_error_noadv.png``) and shows it with its caption, so the HTML report
carries the captions in the report's order.

Directions follow the data's domains: ``ab`` is A -> B with ``g_ab``. Cityscapes: A = photo,
B = label map (``ab`` = segmentation); edges2shoes: A = edges, B = shoe (``ba`` = edge
extraction); face2simpson: A = human, B = Simpson. As in the report, panels list the ``ba``
task first ("city reconstruction and segmentation respectively").
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from cg.catalog import DATASETS
from cg.data import DomainDataset
from cg.files import atomic_write_bytes
from cg.images import sample_grid, save_image, stack_grids, to_uint8
from cg.report.page.captions import FIGURES, FigureSpec, spec
from cg.report.page.plots import by_seed, curves, figure_png
from cg.report.runs.finished import Run
from cg.translate import load_generator, translate_batch

__all__ = [
    "FIGURES",
    "FigureSpec",
    "Published",
    "feedback_figure",
    "findings_figure",
    "identity_figure",
    "pixel_error_figure",
    "publish",
    "samples_figure",
    "spec",
]


def _tasks(run: Run) -> dict[str, str]:
    known = DATASETS.get(run.dataset)
    return dict(known.tasks) if known else {"ab": "A → B", "ba": "B → A"}


def _mode(run: Run) -> str:
    return "with" if run.config.adversarial else "without"


def _block(runs: Run | Sequence[Run]) -> tuple[Run, pd.DataFrame, str]:
    """A run or one run per seed: the first run, the histories one after the other (seaborn
    then draws each curve as the mean over the seeds with a band of one standard deviation),
    and what the title adds."""
    block = list(runs) if isinstance(runs, Sequence) else [runs]
    history = pd.concat([r.history for r in block], ignore_index=True)
    seeds = f", mean ± sd over {len(block)} seeds" if len(block) > 1 else ""
    return block[0], history, seeds


def pixel_error_figure(runs: Run | Sequence[Run]) -> Figure:
    """Validation pixel error against the epoch, one panel per task (figures 3, 4, 10, 11);
    with one run per seed, the mean over the seeds with a band."""
    run, history, seeds = _block(runs)
    tasks = _tasks(run)
    panels = {tasks[d]: {"validation": f"pixel_error_{d}_val"} for d in ("ba", "ab")}
    return curves(
        history,
        panels,
        ylabel="pixel error",
        title=f"{run.dataset}, {_mode(run)} adversarial loss{seeds}",
    )


def feedback_figure(runs: Run | Sequence[Run], splits: tuple[str, ...] = ("val",)) -> Figure:
    """Mean D(fake) against the epoch for both tasks (figures 5, 12, 17, 18); with one run
    per seed, the mean over the seeds with a band."""
    run, history, seeds = _block(runs)
    tasks = _tasks(run)
    names = {"val": "validation", "train": "training"}
    columns = {
        tasks[d] + ("" if len(splits) == 1 else f", {names[s]}"): f"feedback_{d}_{s}"
        for d in ("ba", "ab")
        for s in splits
    }
    where = " and ".join(names[s] for s in splits)
    return curves(
        history,
        {f"{where} split": columns},
        ylabel="mean D(fake) = P(real)",
        title=f"{run.dataset}, {_mode(run)} adversarial loss{seeds}",
        ylim=(0.0, 1.0),
    )


def identity_figure(runs: Mapping[str, Run | Sequence[Run]]) -> Figure:
    """Mean |G(x) - x| on validation for several experiments (each a run or one run per
    seed), one panel per direction (figure A1)."""
    frames, first, seeds = [], None, ""
    for label, block in runs.items():
        run, history, seeds = _block(block)
        first = first or run
        part = history[["epoch", "identity_ab_val", "identity_ba_val"]]
        frames.append(part.rename(columns={c: f"{label}|{c}" for c in part.columns[1:]}))
    assert first is not None, "identity_figure needs at least one run"
    tasks = _tasks(first)
    panels = {
        tasks[d]: {label: f"{label}|identity_{d}_val" for label in runs} for d in ("ba", "ab")
    }
    merged = pd.concat(frames, ignore_index=True)  # each label's rows; the others' cells empty
    return curves(merged, panels, ylabel="mean |G(x) − x|", title=f"{first.dataset}{seeds}")


def findings_figure(rows: Sequence[Mapping[str, Any]], dataset: str) -> Figure:
    """A dataset's findings per seed against their lines (figures A2-A4)."""

    return by_seed(rows, title=f"{dataset}: the findings per training seed")


def _pick(n_items: int, n: int, seed: int) -> list[int]:
    g = torch.Generator().manual_seed(seed)
    return sorted(torch.randperm(n_items, generator=g)[:n].tolist())


def samples_figure(
    run: Run,
    direction: str,
    *,
    n_train: int = 4,
    n_val: int = 4,
    seed: int = 0,
    min_side: int = 128,
) -> torch.Tensor:
    """A sample grid (uint8, 3 x H x W): rows ``[output | source]``, training rows on top.

    Sources are ``n_train`` training and ``n_val`` validation images of the run's data, picked
    at random with ``seed``, resized to the run's ``image_size``; the generator for
    ``direction`` comes from the run's last checkpoint. Images smaller than ``min_side`` are
    enlarged by an integer factor (nearest neighbour), so small runs stay legible.
    """

    files, size = run.data, run.config.image_size
    generator, _ = load_generator(run.checkpoint, direction, "cpu")
    source = "a" if direction == "ab" else "b"
    half = source if files.paired else None
    grids = []
    for split, n in (("train", n_train), ("val", n_val)):
        paths = getattr(files, f"{split}_{source}")
        if n <= 0 or not paths:
            continue
        images = DomainDataset(paths, size, half=half)
        x = torch.stack([images[i] for i in _pick(len(images), n, seed)])
        y = translate_batch(generator, x)
        factor = max(1, min_side // size)
        if factor > 1:
            x, y = (F.interpolate(t, scale_factor=factor, mode="nearest") for t in (x, y))
        grids.append(sample_grid(to_uint8(y), to_uint8(x)))
    return stack_grids(*grids)


class Published:
    """A saved figure shown with its caption (``_repr_html_`` embeds the PNG)."""

    def __init__(self, figure: FigureSpec, png: bytes) -> None:
        self.figure, self.png = figure, png

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        return (
            '<figure style="margin: 1em 0">'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.figure.label)}" '
            'style="max-width: 100%">'
            f"<figcaption><b>{html.escape(self.figure.label)}.</b> "
            f"{html.escape(self.figure.caption)}</figcaption></figure>"
        )

    def __repr__(self) -> str:
        return f"{self.figure.label}: {self.figure.file}"


def publish(key: int | str, image: Figure | torch.Tensor, figures_dir: str | Path) -> Published:
    """Save figure ``key`` (a matplotlib Figure or a uint8 image) as ``figures_dir/<file>``
    and return it for display with its caption."""
    fig = spec(key)
    path = Path(figures_dir) / fig.file
    if isinstance(image, Figure):
        png = figure_png(image)
        atomic_write_bytes(path, png)
    else:
        save_image(image, path)
        png = path.read_bytes()
    return Published(fig, png)
