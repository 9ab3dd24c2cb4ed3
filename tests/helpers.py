"""Helpers shared by the training tests (fixtures are in ``conftest.py``)."""

from __future__ import annotations

from typing import Any

# A configuration small enough for a CPU test that still runs every part of a training step.
TINY: dict[str, Any] = {
    "image_size": 32,
    "base_channels": 4,
    "disc_channels": 4,
    "batch_size": 4,
    "feedback_subset": 4,
    "sample_count": 2,
}


def flags(options: dict[str, Any]) -> list[str]:
    """``cg train`` flags for config ``options``: ``{"batch_size": 4, "paired": True}`` ->
    ``["--batch-size", "4", "--paired"]`` (False -> ``--no-NAME``)."""
    out: list[str] = []
    for key, value in options.items():
        name = "--" + key.replace("_", "-")
        if value is True:
            out.append(name)
        elif value is False:
            out.append("--no-" + name[2:])
        else:
            out += [name, str(value)]
    return out
