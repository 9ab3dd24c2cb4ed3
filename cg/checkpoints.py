"""Saving and loading checkpoints, in one place.

A checkpoint is a plain dict of tensors and Python builtins, so it loads with
``torch.load(weights_only=True)`` (no pickled code runs on load). It is written atomically
(:func:`cg.files.atomic_writer`), so a crash at any moment leaves either the old file or the
new one, never half of one.

Layout (``FORMAT_VERSION`` 1)::

    {"format": "cg-checkpoint", "version": 1, "cg_version": "0.1.0",
     "config": TrainConfig.to_dict(), "epoch": int (completed epochs),
     "models": {"g_ab": state_dict, "g_ba": ..., "d_a": ..., "d_b": ...},   # those the run has
     "optimizers": {"g": ..., "d": ...}, "scaler": ... (fp16 only), "pools": {"a", "b"},
     "rng": {"torch", "numpy", "python", "cuda"}, "history": [row dicts],
     "pools_by_rank": [...] (data-parallel runs with an image pool)}
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cg import __version__
from cg.errors import UserError
from cg.files import atomic_writer

if TYPE_CHECKING:  # heavy: run folders (cg.train.run_dir) are read without torch
    import torch

FORMAT = "cg-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Save ``payload`` (see the module docstring) atomically to ``path``."""
    import torch  # heavy: run folders (cg.train.run_dir) are read without torch

    full = {"format": FORMAT, "version": FORMAT_VERSION, "cg_version": __version__, **payload}
    with atomic_writer(path) as f:
        torch.save(full, f)


class CheckpointDamaged(UserError):
    """A checkpoint file that exists but cannot be read whole (cut short, corrupted)."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(
            f"checkpoint {path} is damaged ({reason}): it was cut short (a full disk, an "
            "interrupted copy) or corrupted"
        )


_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since 1.6 is a zip archive


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a cg checkpoint with ``weights_only=True``; a UserError if it is not one, a
    :class:`CheckpointDamaged` if it is a torch file that cannot be read whole."""
    import torch  # heavy: run folders (cg.train.run_dir) are read without torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        with open(path, "rb") as f:
            head = f.read(4)
        if head == _ZIP_MAGIC or path.stat().st_size == 0:
            raise CheckpointDamaged(path, first.split(". ")[0][:200] or "empty file") from None
        raise UserError(
            f"cannot load checkpoint {path}: {first[:300]} (is it a cg checkpoint? "
            "reference pix2pix/CycleGAN weights are converted with `cg import-official`)"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(
            f"{path} is not a cg checkpoint (no 'format: {FORMAT}' entry); reference "
            "pix2pix/CycleGAN weights are converted with `cg import-official`"
        )
    if data.get("version", 0) > FORMAT_VERSION:
        raise UserError(
            f"{path} has checkpoint format version {data['version']}, newer than this cg "
            f"reads ({FORMAT_VERSION}); upgrade cg"
        )
    return data
