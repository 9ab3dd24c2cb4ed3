"""The report's figures (R7): their numbers, file names and captions, written once, and the
functions that draw each kind from a finished run.

:data:`FIGURES` is the one table of captions; notebooks call :func:`publish` with a figure's
number, which saves it under its fixed file name (``fig03_cityscapes_pixel_error_noadv.png``)
and shows it with its caption, so the HTML report carries the captions in the report's order.

Directions follow the data's domains: ``ab`` is A -> B with ``g_ab``. Cityscapes: A = photo,
B = label map (``ab`` = segmentation); edges2shoes: A = edges, B = shoe (``ba`` = edge
extraction); face2simpson: A = human, B = Simpson. As in the report, panels list the ``ba``
task first ("city reconstruction and segmentation respectively").
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from cg.plots import curves, figure_png, sample_grid, save_image, stack_grids, to_uint8

if TYPE_CHECKING:
    from cg.experiments import Run


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the report: its number (``"A1"`` for additions), file name, caption."""

    key: str
    file: str
    caption: str
    notebook: str

    @property
    def label(self) -> str:
        return f"Figure {self.key}" if self.key.isdigit() else f"Figure {self.key} (added)"


_SAMPLES = "In each row the model's output is on the left and the source image on the right"
_SPLITS = f"{_SAMPLES}; top: training images, bottom: validation images."
_PE = "pixel error (mean squared error per pixel, images in [0, 1]) on the validation split"
_FB = 'the discriminator\'s mean probability "real" for generated images'

FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "1",
        "fig01_unet_architecture.png",
        "U-Net based generator architecture (R1), "
        "traced from the model: DoubleConv blocks, 2×2 max-pool down, upsampling with "
        "skip connections, 1×1 output convolution and tanh.",
        "architecture",
    ),
    FigureSpec(
        "2",
        "fig02_patchgan_architecture.png",
        "Patch-based discriminator architecture "
        "(R1), traced from the model; a sigmoid per patch, averaged into the "
        "discriminator's feedback.",
        "architecture",
    ),
    FigureSpec(
        "3",
        "fig03_cityscapes_pixel_error_noadv.png",
        f"Cityscapes, model without "
        f"adversarial loss: {_PE} against the epoch, for city reconstruction and "
        "segmentation respectively.",
        "cityscapes",
    ),
    FigureSpec(
        "4",
        "fig04_cityscapes_pixel_error_adv.png",
        f"Cityscapes, model with "
        f"adversarial loss: {_PE} against the epoch, for city reconstruction and "
        "segmentation respectively.",
        "cityscapes",
    ),
    FigureSpec(
        "5",
        "fig05_cityscapes_feedback_adv.png",
        f"Cityscapes, model with adversarial "
        f"loss: {_FB} on the validation split against the epoch, for city "
        "reconstruction and segmentation.",
        "cityscapes",
    ),
    FigureSpec(
        "6",
        "fig06_cityscapes_segmentation_noadv.png",
        f"Cityscapes segmentation (photo → label map), model without adversarial loss. {_SPLITS}",
        "cityscapes",
    ),
    FigureSpec(
        "7",
        "fig07_cityscapes_segmentation_adv.png",
        f"Cityscapes segmentation (photo → label map), model with adversarial loss. {_SPLITS}",
        "cityscapes",
    ),
    FigureSpec(
        "8",
        "fig08_cityscapes_city_noadv.png",
        "Cityscapes city generation from "
        f"segmentation (label map → photo), model without adversarial loss. {_SPLITS}",
        "cityscapes",
    ),
    FigureSpec(
        "9",
        "fig09_cityscapes_city_adv.png",
        "Cityscapes city generation from "
        f"segmentation (label map → photo), model with adversarial loss. {_SPLITS}",
        "cityscapes",
    ),
    FigureSpec(
        "10",
        "fig10_edges2shoes_pixel_error_noadv.png",
        f"edges2shoes, model without "
        f"adversarial loss: {_PE} against the epoch, for the shoe's edges and the shoe "
        "itself respectively.",
        "edges2shoes",
    ),
    FigureSpec(
        "11",
        "fig11_edges2shoes_pixel_error_adv.png",
        f"edges2shoes, model with "
        f"adversarial loss: {_PE} against the epoch, for the shoe's edges and the shoe "
        "itself respectively.",
        "edges2shoes",
    ),
    FigureSpec(
        "12",
        "fig12_edges2shoes_feedback_adv.png",
        f"edges2shoes, model with "
        f"adversarial loss: {_FB} on the validation split against the epoch, for the "
        "shoe's edges and the shoe.",
        "edges2shoes",
    ),
    FigureSpec(
        "13",
        "fig13_edges2shoes_shoe2edges_noadv.png",
        f"Edges from a shoe photo, model without adversarial loss. {_SPLITS}",
        "edges2shoes",
    ),
    FigureSpec(
        "14",
        "fig14_edges2shoes_shoe2edges_adv.png",
        f"Edges from a shoe photo, model with adversarial loss. {_SPLITS}",
        "edges2shoes",
    ),
    FigureSpec(
        "15",
        "fig15_edges2shoes_edges2shoe_noadv.png",
        f"A shoe from its edges, model without adversarial loss. {_SPLITS}",
        "edges2shoes",
    ),
    FigureSpec(
        "16",
        "fig16_edges2shoes_edges2shoe_adv.png",
        f"A shoe from its edges, model with adversarial loss. {_SPLITS}",
        "edges2shoes",
    ),
    FigureSpec(
        "17",
        "fig17_face2simpson_feedback_train.png",
        f"face2simpson (unpaired): {_FB}"
        " on the training split against the epoch, for human from Simpson and Simpson "
        "from human.",
        "face2simpson",
    ),
    FigureSpec(
        "18",
        "fig18_face2simpson_feedback_val.png",
        f"face2simpson (unpaired): {_FB} "
        "on the validation split against the epoch, for human from Simpson and Simpson "
        "from human.",
        "face2simpson",
    ),
    FigureSpec(
        "19",
        "fig19_face2simpson_human2simpson.png",
        "Simpsons generated from humans; "
        "left generated, right the source; validation images chosen at random. The "
        "report's survey gave these a mean mark of 6.55 (R8).",
        "face2simpson",
    ),
    FigureSpec(
        "20",
        "fig20_face2simpson_simpson2human.png",
        "Humans generated from Simpsons; "
        "left generated, right the source; validation images chosen at random. The "
        "report's survey gave these a mean mark of 3.3 (R8).",
        "face2simpson",
    ),
    FigureSpec(
        "A1",
        "figA1_cityscapes_cycle_only_collapse.png",
        "Not a figure of the report "
        "(R2, R9.5): mean |G(x) − x| on the validation split against the epoch for the "
        "model trained with the cycle loss alone (no identity, no adversarial loss) and "
        "the model without adversarial loss; near 0 means the generator copies its "
        "input.",
        "cityscapes",
    ),
)

_BY_KEY = {f.key: f for f in FIGURES}

#: Task names per dataset and direction (R6).
TASKS: dict[str, dict[str, str]] = {
    "cityscapes": {"ab": "segmentation (photo → labels)", "ba": "city reconstruction"},
    "edges2shoes": {"ab": "shoe (edges → shoe)", "ba": "edges (shoe → edges)"},
    "face2simpson": {"ab": "Simpson from human", "ba": "human from Simpson"},
}


def spec(key: int | str) -> FigureSpec:
    """The :class:`FigureSpec` of figure ``key`` (3, "3" or "A1")."""
    try:
        return _BY_KEY[str(key)]
    except KeyError:
        raise KeyError(f"no figure {key!r}; the report has {', '.join(_BY_KEY)}") from None


def _tasks(run: Run) -> dict[str, str]:
    return TASKS.get(run.dataset, {"ab": "A → B", "ba": "B → A"})


def _mode(run: Run) -> str:
    return "with" if run.config.adversarial else "without"


def pixel_error_figure(run: Run) -> Figure:
    """Validation pixel error against the epoch, one panel per task (figures 3, 4, 10, 11)."""
    tasks = _tasks(run)
    panels = {tasks[d]: {"validation": f"pixel_error_{d}_val"} for d in ("ba", "ab")}
    return curves(
        run.history,
        panels,
        ylabel="pixel error",
        title=f"{run.dataset}, {_mode(run)} adversarial loss",
    )


def feedback_figure(run: Run, splits: tuple[str, ...] = ("val",)) -> Figure:
    """Mean D(fake) against the epoch for both tasks (figures 5, 12, 17, 18)."""
    tasks = _tasks(run)
    names = {"val": "validation", "train": "training"}
    columns = {
        tasks[d] + ("" if len(splits) == 1 else f", {names[s]}"): f"feedback_{d}_{s}"
        for d in ("ba", "ab")
        for s in splits
    }
    where = " and ".join(names[s] for s in splits)
    return curves(
        run.history,
        {f"{where} split": columns},
        ylabel="mean D(fake) = P(real)",
        title=f"{run.dataset}, {_mode(run)} adversarial loss",
        ylim=(0.0, 1.0),
    )


def identity_figure(runs: Mapping[str, Run]) -> Figure:
    """Mean |G(x) - x| on validation for several runs, one panel per direction (figure A1)."""
    import pandas as pd

    first = next(iter(runs.values()))
    tasks = _tasks(first)
    frames = []
    for label, run in runs.items():
        part = run.history[["epoch", "identity_ab_val", "identity_ba_val"]].copy()
        frames.append(part.rename(columns={c: f"{label}|{c}" for c in part.columns[1:]}))
    merged = frames[0]
    for f in frames[1:]:
        merged = pd.merge(merged, f, on="epoch", how="outer")
    panels = {
        tasks[d]: {label: f"{label}|identity_{d}_val" for label in runs} for d in ("ba", "ab")
    }
    return curves(merged, panels, ylabel="mean |G(x) − x|", title=f"{first.dataset}")


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
    from cg.data import DomainDataset
    from cg.translate import load_generator, translate_batch

    files, size = run.data, run.config.image_size
    generator, _ = load_generator(run.out / "checkpoints" / "last.pt", direction, "cpu")
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
        from cg.checkpoints import atomic_write_bytes

        png = figure_png(image)
        atomic_write_bytes(path, png)
    else:
        save_image(image, path)
        png = path.read_bytes()
    return Published(fig, png)
