"""The report's three datasets and their facts, in one table (R4, R6).

Everything else that depends on which dataset a run is (the ``--preset`` settings, the
built-in synthetic generators' names, the figures' task names, which direction makes photos
for the findings) reads it from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


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
) -> Dataset:
    return Dataset(
        name,
        paired,
        MappingProxyType(preset),
        MappingProxyType(tasks),
        photo,
        photo_task,
        structure_task,
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
        ),
        # R4, R6: paired shoes, A = edges, B = photo; the report stopped after 12 hours.
        _dataset(
            "edges2shoes", True,
            {"paired": True, "identity": "paired", "image_size": 256, "epochs": 15},
            {"ab": "shoe (edges → shoe)", "ba": "edges (shoe → edges)"},
            photo="ab", photo_task="shoe from edges", structure_task="edge extraction",
        ),
        # R4, R6: unpaired, A = human faces (IMDB-WIKI), B = Simpsons; per-domain crops.
        _dataset(
            "face2simpson", False,
            {"paired": False, "identity": "classic", "adversarial": True, "image_size": 256,
             "crop_scale_a": 0.55, "crop_scale_b": 0.95, "epochs": 20},
            {"ab": "Simpson from human", "ba": "human from Simpson"},
            photo="ba", photo_task="human from Simpson", structure_task="Simpson from human",
        ),
    )
}  # fmt: skip

#: The dataset names, in the report's order.
NAMES: tuple[str, ...] = tuple(DATASETS)
