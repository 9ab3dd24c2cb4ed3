"""Datasets on disk (pix2pix A|B pairs, unpaired folders), tensors for training, and the
built-in synthetic datasets.

``formats`` finds and checks files, ``datasets`` decodes and augments them (torch),
``synthetic`` writes procedural stand-ins for the report's datasets (numpy and PIL only).

The names below are imported on first use, so ``cg synth`` and ``cg data check`` (and the
worker processes of :func:`synthesize`) start without loading torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cg.catalog import NAMES

if TYPE_CHECKING:  # heavy (torch, PIL): loaded on first use by __getattr__ below
    from cg.data.datasets import (
        CropFlip,
        DomainDataset,
        PairedDataset,
        apply_augment,
        augment,
        load_rgb,
        sample_augment,
        split_pair,
        to_float,
    )
    from cg.data.formats import (
        IMAGE_EXTENSIONS,
        DatasetFiles,
        check_images,
        inspect_images,
        list_images,
        scan_dataset,
    )
    from cg.data.synthetic import synthesize

# The built-in synthetic datasets (cg.data.synthetic), named here so that listing them (the
# `cg synth` choices) loads nothing.
SYNTHETIC_NAMES = NAMES

_WHERE = {
    "cg.data.datasets": (
        "CropFlip", "DomainDataset", "PairedDataset", "apply_augment", "augment", "load_rgb",
        "sample_augment", "split_pair", "to_float",
    ),
    "cg.data.formats": (
        "IMAGE_EXTENSIONS", "DatasetFiles", "check_images", "inspect_images", "list_images",
        "scan_dataset",
    ),
    "cg.data.synthetic": ("synthesize",),
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}
__all__ = [
    "IMAGE_EXTENSIONS",
    "SYNTHETIC_NAMES",
    "CropFlip",
    "DatasetFiles",
    "DomainDataset",
    "PairedDataset",
    "apply_augment",
    "augment",
    "check_images",
    "inspect_images",
    "list_images",
    "load_rgb",
    "sample_augment",
    "scan_dataset",
    "split_pair",
    "synthesize",
    "to_float",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'cg.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
