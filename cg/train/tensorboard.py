"""``cg train --tensorboard``: a run's curves, sample grids and config as TensorBoard events.

Written with :class:`torch.utils.tensorboard.SummaryWriter` into ``OUT/tensorboard/``
(:attr:`cg.train.run_dir.RunDir.tensorboard`); watch them with ``tensorboard --logdir runs``.

- every column of the epoch's history row, under the same name (``loss_g``,
  ``pixel_error_ab_val``, ...), is a scalar at step = epoch; ``epoch`` itself is the step, and
  an empty cell writes nothing;
- the epoch's sample grids (``samples/epoch_NNNN_ab.png``, ``_ba.png``, written by the loop) are
  the images ``samples/ab`` and ``samples/ba`` at step = epoch;
- the resolved config is the text ``config``, once per start of a trainer, at the step of the
  first epoch it trains.

Resume continues the same curves with one value per step: the writer opens with
``purge_step`` = the first epoch this start trains, so TensorBoard drops whatever an earlier
start logged at that step or later (an epoch logged by a trainer killed before its checkpoint
was written, which the resumed run trains again). Each epoch is logged and flushed before its
checkpoint is written, so every checkpointed epoch is in the log. When the folder holds no
events yet (the run was started without ``--tensorboard``), the epochs already trained are
written first, from the checkpoint's history and the grids on disk; epochs trained without
``--tensorboard`` between two starts with it are not.

Logging reads the history and the grids only: it changes nothing in the training.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from PIL import Image

from cg.errors import UserError
from cg.train.run_dir import RunDir, history_columns

__all__ = ["TensorBoardLog"]

DIRECTIONS = ("ab", "ba")


def _summary_writer() -> Any:
    try:  # optional: a missing tensorboard becomes a UserError that says how to install it
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        raise UserError(
            f"--tensorboard needs the tensorboard package ({e}); install it with "
            "`pip install 'tensorboard>=2.16,<3'` (`make install` does)"
        ) from None
    return SummaryWriter


def _as_code(text: str) -> str:
    """``text`` as a Markdown code block (TensorBoard renders text summaries as Markdown)."""
    return "\n".join("    " + line for line in text.splitlines())


class TensorBoardLog:
    """The TensorBoard events of run ``run`` from epoch ``start`` on.

    ``history`` holds the rows of the epochs before ``start`` (the checkpoint's); they are
    written only when the folder has no events yet. Use as a context manager, or :meth:`close`.
    """

    def __init__(self, run: RunDir, cfg: Any, start: int, history: Iterable[dict[str, Any]]):
        self.run = run
        folder = run.tensorboard
        fresh = not any(folder.glob("events.out.tfevents.*")) if folder.is_dir() else True
        self.writer = _summary_writer()(log_dir=str(folder), purge_step=start)
        if fresh:
            for row in history:
                self.log_epoch(row, flush=False)
        self.writer.add_text("config", _as_code(cfg.to_json()), global_step=start)
        self.writer.flush()

    def log_epoch(self, row: dict[str, Any], *, flush: bool = True) -> None:
        """Epoch ``row["epoch"]``: its history row as scalars, its sample grids as images."""
        epoch = int(row["epoch"])
        for key in history_columns([row]):
            value = row.get(key)
            if key == "epoch" or value is None:
                continue
            value = float(value)
            if not math.isnan(value):
                self.writer.add_scalar(key, value, global_step=epoch)
        for direction in DIRECTIONS:
            path = self.run.sample_path(epoch, direction)
            if path.is_file():
                self.writer.add_image(
                    f"samples/{direction}", _read_rgb(path), global_step=epoch, dataformats="HWC"
                )
        if flush:
            self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> TensorBoardLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_rgb(path: Any) -> Any:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))
