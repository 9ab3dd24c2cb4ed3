"""Checkpoints written in the background, so that an epoch costs what its steps cost.

:meth:`CheckpointWriter.submit` takes a *snapshot* of the payload (every tensor copied to the
CPU, so the training that goes on cannot change what is being written) and hands it to one
writer thread, which writes the epoch's sample grids, then the checkpoint exactly as
:meth:`cg.train.run_dir.RunDir.save` does: ``last.pt`` (and ``epoch_NNNN.pt``) atomically, then
``history.csv``. At most one checkpoint is
in flight: the next ``submit`` (and :meth:`CheckpointWriter.close`, which the training loop
calls on every way out, an error or Ctrl-C included) first waits for it, and re-raises its
error, if any, as a :class:`~cg.errors.UserError` naming the file.

What a kill leaves: the atomic writer renames a checkpoint into place only when it is whole,
so a process killed (even by SIGKILL) during a background write leaves the previous
``last.pt`` and the ``history.csv`` that goes with it; resume reads those and, because every
epoch is reseeded from ``(seed, epoch)``, ends bitwise where an uninterrupted run ends. The
unfinished temporary file is removed when the next trainer takes the folder's lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import torch

from cg.errors import UserError


def snapshot(obj: Any) -> Any:
    """``obj`` with every tensor replaced by its own CPU copy (dicts, lists and tuples are
    rebuilt; other values are kept: they are immutable Python values in a checkpoint)."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach()
        return t.to("cpu", copy=True) if t.device.type != "cpu" else t.clone()
    if isinstance(obj, dict):
        return {k: snapshot(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [snapshot(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(snapshot(v) for v in obj)
    return obj


def _lower_priority() -> None:
    """Give the calling thread the lowest CPU priority (Linux: a thread's own nice value).

    Training keeps every core busy with its intra-op threads, and a parallel region is as slow
    as its slowest thread: a writer thread at the same priority takes a core from one of them
    and stalls the whole step for about as long as it writes. At nice 19 it runs on what the
    training leaves idle (between ops, in Python)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):  # not Linux, or not allowed: the default priority
        pass


class CheckpointWriter:
    """Writes a run folder's checkpoints in one background thread (see the module docstring).

    ``background=False`` writes in the caller's thread instead (same files, same order).
    """

    def __init__(self, run: Any, *, background: bool = True) -> None:
        self.run = run
        self.background = background
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._what = ""

    def submit(
        self,
        payload: dict[str, Any],
        *,
        keep: bool,
        first: Callable[[], None] | None = None,
    ) -> None:
        """Write ``payload`` as the run's checkpoint (and as ``epoch_NNNN.pt`` when ``keep``).
        ``first``, if given, runs in the writer's thread before it (the epoch's sample grids:
        their encoding and writing off the training thread too; it must not touch live state)."""
        self.wait()
        self._what = f"{self.run.last}" + (
            f" and {self.run.epoch_checkpoint(int(payload['epoch'])).name}" if keep else ""
        )
        if not self.background:
            self._write(payload, keep, first)
            self._raise()
            return
        self._thread = threading.Thread(
            target=self._write, args=(snapshot(payload), keep, first), name="cg-checkpoint-writer"
        )
        self._thread.start()

    def wait(self) -> None:
        """Wait for the checkpoint in flight (if any) to be written; raise its error."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._raise()

    def close(self) -> None:
        """Wait for the last checkpoint (on every way out of training)."""
        self.wait()

    def _write(self, payload: dict[str, Any], keep: bool, first: Callable[[], None] | None) -> None:
        if self.background:
            _lower_priority()
        try:
            if first is not None:
                first()
            self.run.save(payload, keep=keep)
        except BaseException as e:  # noqa: BLE001 - handed to the training thread
            self._error = e

    def _raise(self) -> None:
        error, self._error = self._error, None
        if error is None:
            return
        if isinstance(error, UserError):
            raise error
        raise UserError(
            f"cannot write the checkpoint {self._what}: {error}; the previous checkpoint is "
            "kept. Free disk space or fix the folder's permissions, then resume with --resume"
        ) from error
