"""The run folder: where a run's files live, who may write them, and how they are read back.

Layout (the one place it is written down)::

    OUT/
      config.json                 the resolved configuration (also inside every checkpoint)
      history.csv                 one row per epoch (HISTORY_COLUMNS first, then others, sorted)
      checkpoints/last.pt         models, optimisers, pools, RNG states, history
      checkpoints/epoch_NNNN.pt   every ``checkpoint_every`` epochs
      samples/epoch_NNNN_ab.png   [output | source] grids per direction
      tensorboard/                TensorBoard events, with ``--tensorboard`` (cg.train.tensorboard)
      train.log                   the lines per epoch of each start by ``cg report``'s workers
      .lock                       held (``flock``) while a trainer writes the folder

The checkpoint is the source of truth: it carries the history too, and ``history.csv`` is
rewritten from it. Floats in ``history.csv`` are written with ``repr`` so they read back exactly.

The lock is an advisory ``flock`` on ``.lock``: the kernel drops it when its process ends, so a
trainer killed by SIGKILL leaves no lock that blocks the next one. ``.lock`` holds the id of
the process that holds it; one who wants the folder meanwhile may wait for it
(:meth:`RunDir.acquire`, as ``cg report``'s workers do for a run that another report trains).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cg.checkpoints import CheckpointDamaged, load_checkpoint, save_checkpoint
from cg.config import SPEED_FIELDS, config_diff, load_config
from cg.errors import UserError
from cg.files import atomic_write_text, copy_atomic, file_mode

HISTORY_COLUMNS: tuple[str, ...] = (
    "epoch",
    "seconds",
    "lr",
    "loss_g",
    "loss_d",
    "loss_cycle",
    "loss_identity",
    "loss_adv",
    "pixel_error_ab_val",
    "pixel_error_ba_val",
    "feedback_ab_train",
    "feedback_ab_val",
    "feedback_ba_train",
    "feedback_ba_val",
    "identity_ab_val",
    "identity_ba_val",
)

_EPOCH_FILE = re.compile(r"epoch_(\d{4,})\.pt")


class RunBusy(UserError):
    """Another process holds the run folder's lock (it is writing the run)."""

    def __init__(self, root: Path, holder: str) -> None:
        self.holder = holder
        super().__init__(
            f"{root} is being written by another trainer"
            f"{f' (process {holder})' if holder else ''}; wait for it to finish, or train "
            "into another --out"
        )


class RunDir:
    """A run folder ``root`` (which need not exist yet)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._lock_fd: int | None = None
        self._checkpoint: dict[str, Any] | None = None

    # --- paths -------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def history_path(self) -> Path:
        return self.root / "history.csv"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    def epoch_checkpoint(self, epoch: int) -> Path:
        return self.checkpoints / f"epoch_{epoch:04d}.pt"

    def sample_path(self, epoch: int, direction: str) -> Path:
        return self.samples / f"epoch_{epoch:04d}_{direction}.png"

    @property
    def log_path(self) -> Path:
        return self.root / "train.log"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    def __repr__(self) -> str:
        return f"RunDir({str(self.root)!r})"

    # --- state -------------------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether the folder holds (part of) a run: a checkpoint, or a history with an epoch.
        A start stopped before its first checkpoint leaves only ``config.json`` and an empty
        history: no run yet, so the next start begins it again."""
        if self.last.exists():
            return True
        if not self.history_path.exists():
            return False
        try:
            return bool(self.read_history())
        except UserError:
            return True

    def is_complete(self, cfg: Any, data_fingerprint: str | None = None) -> bool:
        """True if the folder holds a finished run (all ``cfg.epochs``) of ``cfg``, up to the
        fields that change speed only (:data:`cg.config.SPEED_FIELDS`); its ``data`` may name
        another folder when the checkpoint's data fingerprint is ``data_fingerprint``."""
        if not (self.config_path.is_file() and self.last.is_file()):
            return False
        try:
            saved = load_config(self.config_path)
            rows = self.read_history()
        except UserError:
            return False
        diff = set(config_diff(saved, cfg)) - SPEED_FIELDS
        if diff == {"data"} and data_fingerprint is not None:
            try:
                moved = load_checkpoint(self.last).get("data_fingerprint") == data_fingerprint
            except UserError:
                return False
            diff = set() if moved else diff
        return not diff and len(rows) >= cfg.epochs

    # --- the lock ----------------------------------------------------------------------------
    def acquire(self, *, waiting: Callable[[str], bool] | None = None, poll: float = 0.5) -> None:
        """Take the folder's lock (creating the folder). When another process holds it: a
        :class:`RunBusy` error naming the folder and that process; or, with ``waiting``, wait
        for it, calling ``waiting(pid)`` every ``poll`` seconds until the lock is free (the
        holder ended, or died: the kernel drops its lock), or ``waiting`` returns False (then
        the error). Held until :meth:`release` or the end of the process."""
        if self._lock_fd is not None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, file_mode())
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                    if waiting is None or not waiting(holder):
                        raise RunBusy(self.root, holder) from None
                    time.sleep(poll)
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd
        self._remove_unfinished()

    def _remove_unfinished(self) -> None:
        """Remove the temporary files of writes a killed trainer left unfinished (under the
        lock, so no writer of this folder is running; finished files are never touched)."""
        for folder in (self.root, self.checkpoints):
            if folder.is_dir():
                for p in folder.glob(".*.tmp"):
                    p.unlink(missing_ok=True)

    def release(self) -> None:
        """Give the lock back (a no-op when not held)."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor releases the flock

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder's lock for the block (see :meth:`acquire`)."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    # --- checkpoints -------------------------------------------------------------------------
    def epoch_checkpoints(self) -> list[tuple[int, Path]]:
        """``(epoch, path)`` of every ``epoch_NNNN.pt``, newest first."""
        if not self.checkpoints.is_dir():
            return []
        found = [
            (int(m.group(1)), p)
            for p in self.checkpoints.iterdir()
            if (m := _EPOCH_FILE.fullmatch(p.name))
        ]
        return sorted(found, reverse=True)

    def checkpoint(self) -> dict[str, Any]:
        """The checkpoint to resume from, loaded once: ``last.pt``, or, when that is damaged
        (cut short, corrupted), the newest intact ``epoch_NNNN.pt`` (with a warning; the damaged
        file is kept as ``last.pt.damaged``)."""
        if self._checkpoint is not None:
            return self._checkpoint
        if not self.last.is_file():
            raise UserError(f"nothing to resume in {self.root}: {self.last} does not exist")
        try:
            self._checkpoint = load_checkpoint(self.last)
            return self._checkpoint
        except CheckpointDamaged as damaged:
            for epoch, path in self.epoch_checkpoints():
                try:
                    state = load_checkpoint(path)
                except UserError:
                    continue
                kept = self.last.with_name("last.pt.damaged")
                os.replace(self.last, kept)
                sys.stderr.write(
                    f"warning: {self.last} is damaged ({damaged.reason}); resuming from "
                    f"{path.name} (epoch {epoch}) instead, the damaged file is kept as {kept}\n"
                )
                self._checkpoint = state
                return state
            raise UserError(
                f"{damaged} and {self.root} has no intact checkpoints/epoch_NNNN.pt to resume "
                "from; restore the file from a copy, or start a new run with another --out"
            ) from None

    def saved_config(self) -> dict[str, Any]:
        """The configuration (as a dict) of the run to resume."""
        return dict(self.checkpoint()["config"])

    def save(self, payload: dict[str, Any], *, keep: bool) -> None:
        """Write ``payload`` as ``last.pt`` (and as ``epoch_NNNN.pt`` when ``keep``: a copy
        of the same bytes, serialised once), then the history it carries as ``history.csv``;
        each atomically. :class:`cg.train.writer.CheckpointWriter` calls this in the
        background."""
        save_checkpoint(self.last, payload)
        if keep:
            copy_atomic(self.last, self.epoch_checkpoint(int(payload["epoch"])))
        self.write_history(payload["history"])
        self._checkpoint = None

    # --- config and history ------------------------------------------------------------------
    def write_config(self, cfg: Any) -> None:
        atomic_write_text(self.config_path, cfg.to_json() + "\n")

    def write_history(self, rows: list[dict[str, Any]]) -> None:
        write_history(self.history_path, rows)

    def read_history(self) -> list[dict[str, Any]]:
        return read_history(self.history_path)


def history_columns(rows: list[dict[str, Any]]) -> list[str]:
    """:data:`HISTORY_COLUMNS`, then any other column the rows have, sorted."""
    extra = sorted({k for r in rows for k in r} - set(HISTORY_COLUMNS))
    return list(HISTORY_COLUMNS) + extra


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def write_history(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Write rows atomically; columns: :func:`history_columns`."""
    columns = history_columns(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in columns])
    atomic_write_text(path, buf.getvalue())


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """Read a history written by :func:`write_history` (empty cells -> None)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = []
            for r in csv.DictReader(f):
                row: dict[str, Any] = {}
                for k, v in r.items():
                    if v == "" or v is None:
                        row[k] = None
                    elif k == "epoch":
                        row[k] = int(v)
                    else:
                        row[k] = float(v)
                rows.append(row)
            return rows
    except (OSError, ValueError, csv.Error) as e:
        raise UserError(f"cannot read history {path}: {e}") from None
