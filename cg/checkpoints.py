"""Saving and loading checkpoints, in one place.

A checkpoint is a plain dict of tensors and Python builtins, so it loads with
``torch.load(weights_only=True)`` (no pickled code runs on load). It is written atomically:
to a temporary file in the same folder, flushed and fsync'ed, then renamed over the target, so
a crash at any moment leaves either the old file or the new one, never half of one.

Layout (``FORMAT_VERSION`` 1)::

    {"format": "cg-checkpoint", "version": 1, "cg_version": "0.1.0",
     "config": TrainConfig.to_dict(), "epoch": int (completed epochs),
     "models": {"g_ab": state_dict, "g_ba": ..., "d_a": ..., "d_b": ...},   # those the run has
     "optimizers": {...}, "schedulers": {...}, "scaler": ..., "pools": {...},
     "rng": {...}, "history": [row dicts], "extra": {...}}
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

from cg.errors import UserError

FORMAT = "cg-checkpoint"
FORMAT_VERSION = 1


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename, fsync folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Save ``payload`` (see the module docstring) atomically to ``path``."""
    import torch

    from cg import __version__

    full = {"format": FORMAT, "version": FORMAT_VERSION, "cg_version": __version__, **payload}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(full, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a cg checkpoint with ``weights_only=True``; a UserError if it is not one."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
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
