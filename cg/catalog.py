"""The catalog of the report's three datasets and their facts, in one table (R4, R6).

Everything else that depends on which dataset a run is (the ``--preset`` settings, the
built-in synthetic generators' names, the figures' task names, which direction makes photos
for the findings) reads it from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: The official Cityscapes label colours (cityscapesScripts ``labels.py``): the 19 classes the
#: benchmark evaluates, and the ego vehicle / void colour. Generated label maps are decoded to
#: the nearest of these to score segmentation (:mod:`cg.eval.segmentation`).
CITYSCAPES_PALETTE: dict[str, tuple[int, int, int]] = {
    "ego_vehicle": (0, 0, 0),
    "road": (128, 64, 128),
    "sidewalk": (244, 35, 232),
    "building": (70, 70, 70),
    "wall": (102, 102, 156),
    "fence": (190, 153, 153),
    "pole": (153, 153, 153),
    "traffic_light": (250, 170, 30),
    "traffic_sign": (220, 220, 0),
    "vegetation": (107, 142, 35),
    "terrain": (152, 251, 152),
    "sky": (70, 130, 180),
    "person": (220, 20, 60),
    "rider": (255, 0, 0),
    "car": (0, 0, 142),
    "truck": (0, 0, 70),
    "bus": (0, 60, 100),
    "train": (0, 80, 100),
    "motorcycle": (0, 0, 230),
    "bicycle": (119, 11, 32),
}


@dataclass(frozen=True)
class Dataset:
    """One of the report's datasets. A = the left half of a pix2pix pair, or ``trainA/``."""

    name: str
    paired: bool
    #: the report's settings for it, applied by ``--preset NAME`` (before the user's flags)
    preset: MappingProxyType = field(repr=False)
    #: what each direction does, as the figures name it
    tasks: MappingProxyType = field(repr=False)
    #: the direction whose outputs are photographs (the other one makes structure)
    photo: str
    #: short names of the two kinds of task, for the findings
    photo_task: str
    structure_task: str
    #: what the images of domain A and of domain B are, in words
    domains: tuple[str, str]
    #: label colours of the structure domain, for segmentation scores (None: not labels)
    palette: tuple[tuple[int, int, int], ...] | None = None
    #: the domain whose images are black strokes on white (edge maps), which a person can
    #: draw by hand (``cg demo``'s sketchpad); None: neither
    drawn: str | None = None

    @property
    def structure(self) -> str:
        """The direction whose outputs are structure (labels, edges, cartoons)."""
        return "ab" if self.photo == "ba" else "ba"


def _dataset(
    name: str,
    paired: bool,
    preset: dict[str, Any],
    tasks: dict[str, str],
    photo: str,
    photo_task: str,
    structure_task: str,
    domains: tuple[str, str],
    palette: dict[str, tuple[int, int, int]] | None = None,
    drawn: str | None = None,
) -> Dataset:
    colours = tuple(palette.values()) if palette is not None else None
    return Dataset(
        name,
        paired,
        MappingProxyType(preset),
        MappingProxyType(tasks),
        photo,
        photo_task,
        structure_task,
        domains,
        colours,
        drawn,
    )


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        # R4, R6: paired street scenes, A = photo, B = colour labels; "60 epochs, it converged".
        _dataset(
            "cityscapes", True,
            {"paired": True, "identity": "paired", "image_size": 256, "epochs": 60},
            {"ab": "segmentation (photo → labels)", "ba": "city reconstruction"},
            photo="ba", photo_task="city from segmentation", structure_task="segmentation",
            domains=("photo", "label map"), palette=CITYSCAPES_PALETTE,
        ),
        # R4, R6: paired shoes, A = edges, B = photo; the report stopped after 12 hours.
        _dataset(
            "edges2shoes", True,
            {"paired": True, "identity": "paired", "image_size": 256, "epochs": 15},
            {"ab": "shoe (edges → shoe)", "ba": "edges (shoe → edges)"},
            photo="ab", photo_task="shoe from edges", structure_task="edge extraction",
            domains=("edge map", "shoe photo"), drawn="a",
        ),
        # R4, R6: unpaired, A = human faces (IMDB-WIKI), B = Simpsons; per-domain crops.
        _dataset(
            "face2simpson", False,
            {"paired": False, "identity": "classic", "adversarial": True, "image_size": 256,
             "crop_scale_a": 0.55, "crop_scale_b": 0.95, "epochs": 20},
            {"ab": "Simpson from human", "ba": "human from Simpson"},
            photo="ba", photo_task="human from Simpson", structure_task="Simpson from human",
            domains=("human face", "Simpson"),
        ),
    )
}  # fmt: skip

#: The dataset names, in the report's order.
NAMES: tuple[str, ...] = tuple(DATASETS)
