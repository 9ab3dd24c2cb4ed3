"""The training loop: one :func:`train` for every mode, with exact resume.

The path of a run: resolve and validate the config once against the data (whose format decides
paired or not; a setting that cannot apply is an error) -> scan the data once -> build the
state, or load the checkpoint once -> for each epoch: steps, the generators' BatchNorm
statistics recomputed for the epoch's weights (``precise_bn``, :mod:`cg.train.batchnorm`),
evaluation (plain functions of the models, :mod:`cg.eval`), one history row, one atomic
checkpoint (written in the background while the next epoch trains, :mod:`cg.train.writer`).
The run folder and its layout are :class:`cg.train.run_dir.RunDir`'s; a trainer holds its
lock while it writes.

Reproducibility: every epoch starts by reseeding all RNGs from ``(seed, epoch)``, and the
checkpoint restores models, optimisers, the image pools and the RNG states, so a run killed at
any moment and resumed with ``--resume`` ends with the same weights and history (bitwise on the
CPU; only the ``seconds`` column, a wall-clock time, differs).

Under ``torchrun`` the same loop runs on every rank (:mod:`cg.train.distributed`): rank 0
alone touches the run folder and computes the validation metrics, and the epoch's training
losses are averaged over the ranks.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
import torch

from cg.config import RESUME_MUTABLE, TrainConfig, config_diff, config_from_dict
from cg.data import scan_dataset
from cg.data.loaders import build_pipeline, resolve_config
from cg.errors import UserError
from cg.eval.fid.columns import FidEvaluator, cache_dir
from cg.runtime import precision_warning
from cg.train import distributed
from cg.train.epoch import RunStopped, epoch_seed, run_epoch, sample_grids
from cg.train.run_dir import HISTORY_COLUMNS, RunDir, history_columns
from cg.train.state import Session, build_session
from cg.train.tensorboard import TensorBoardLog
from cg.train.writer import CheckpointWriter

__all__ = [
    "HISTORY_COLUMNS",
    "RunStopped",
    "epoch_seed",
    "resolve_config",
    "run_is_complete",
    "train",
]


def run_is_complete(out: str | Path, cfg: TrainConfig) -> bool:
    """True if ``out`` holds a finished run (all ``cfg.epochs`` epochs) of ``cfg``: the same
    config but for the fields that change speed only, on the same data (another folder holding
    the same files counts: :meth:`cg.data.DatasetFiles.fingerprint`)."""
    run = RunDir(out)
    if not run.last.is_file():
        return False
    files = scan_dataset(cfg.data) if cfg.data else None
    if files is not None and (cfg.paired is None or cfg.channels_last is None):
        cfg = resolve_config(cfg, files)
    return run.is_complete(cfg, files.fingerprint() if files is not None else None)


def train(
    cfg: TrainConfig,
    out: str | Path | RunDir,
    *,
    resume: bool | str = False,
    skip_bad: bool = False,
    progress: bool = True,
    quiet: bool = False,
    tensorboard: bool = False,
    timings: list[dict[str, float]] | None = None,
    log: TextIO | None = None,
    stop: Callable[[], bool] | None = None,
) -> Any:
    """Train ``cfg`` into run folder ``out``; returns the history as a pandas DataFrame.

    ``resume``: False starts a new run (an existing run in ``out`` is an error, never
    overwritten); True continues the run in ``out`` (its config must equal ``cfg`` except
    ``epochs``); ``"auto"`` continues a run if one exists, else starts one. Another trainer
    writing ``out`` at the same time is an error.

    How a run is watched is not part of its config, so these may differ on every resume and
    never change the results (nor the config's hash, which names the report's run folders):
    ``progress`` draws a bar per epoch where :func:`cg.progress.progress_enabled` allows it,
    with one line per epoch printed either way; ``quiet`` prints neither (warnings still go to
    stderr); ``tensorboard`` also writes TensorBoard events into ``OUT/tensorboard/``
    (:mod:`cg.train.tensorboard`). ``timings``, a list, gets one dict per epoch trained
    here of where its wall time went (``steps_s``, ``evaluation_s``, ``samples_s``,
    ``checkpoint_s``: what the training thread spent on the checkpoint, see
    :mod:`cg.train.writer`; ``epoch_s``: all of it), as ``cg bench`` reports it. ``log``, a
    text stream, gets the line per epoch instead of stdout. ``stop``, a callable asked before
    every step, ends the run with :class:`RunStopped` when it returns True (the folder keeps
    its last checkpoint and resumes from it).

    Checkpoints are written in the background (:class:`cg.train.writer.CheckpointWriter`):
    the next epoch trains while the last one's checkpoint is written, and every way out of
    this function waits for it first.
    """
    run = out if isinstance(out, RunDir) else RunDir(out)
    if not cfg.data:
        raise UserError(
            "no dataset given: pass --data DIR (make one with `cg synth NAME --out DIR`)"
        )
    info = distributed.init()
    files = scan_dataset(cfg.data)
    cfg = resolve_config(cfg, files)
    distributed.check_batch(cfg.batch_size, info)
    fingerprint = files.fingerprint()
    resuming = distributed.on_main(lambda: _resume_wanted(run, resume), info)
    pipeline = build_pipeline(cfg, files, skip_bad=skip_bad)
    pipeline.rank, pipeline.world_size = info.rank, info.world_size
    distributed.on_main(run.acquire, info)
    board = None
    writer = CheckpointWriter(run) if info.is_main else None
    try:
        state = distributed.on_main(lambda: _start(run, cfg, resuming, fingerprint), info)
        session = build_session(cfg, distributed.device_for(cfg.device, info), info)
        warning = precision_warning(session.device, cfg.precision)
        if warning and info.is_main:
            print(warning, file=sys.stderr)
        history: list[dict[str, Any]] = []
        start = 1
        if state is not None:
            session.load_state(state)
            _load_rank_pools(session, state, info)
            history = list(state.get("history") or [])
            start = int(state["epoch"]) + 1
        if info.is_main:
            run.write_config(cfg)
            run.write_history(history)
        if tensorboard and info.is_main:
            board = TensorBoardLog(run, cfg, start, history)
        fid = _fid_evaluator(cfg, session.device) if info.is_main else None
        for epoch in range(start, cfg.epochs + 1):
            began = time.perf_counter()
            row, steps_s = run_epoch(
                cfg, epoch, pipeline, session, run, fid, progress, quiet, info, log, stop
            )
            history.append(row)
            sampling = time.perf_counter()
            samples = sample_grids(cfg, epoch, pipeline, session, run) if info.is_main else None
            samples_s = time.perf_counter() - sampling
            if board is not None:  # before the checkpoint: a checkpointed epoch is logged
                if samples is not None:  # the board reads the epoch's grids from their files
                    samples()
                    samples = None
                board.log_epoch(row)
            saving = time.perf_counter()
            _save(cfg, epoch, session, history, writer, info, samples, fingerprint)
            if timings is not None:
                done = time.perf_counter()
                timings.append(
                    {
                        "epoch": epoch,
                        "steps_s": steps_s,
                        "evaluation_s": row["seconds"] - steps_s,
                        "samples_s": samples_s,
                        "checkpoint_s": done - saving,
                        "epoch_s": done - began,
                    }
                )
    finally:
        try:
            if writer is not None:
                writer.close()
        finally:
            if board is not None:
                board.close()
            if info.is_main:
                run.release()
    if not history:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    return pd.DataFrame(history, columns=history_columns(history))


def _resume_wanted(run: RunDir, resume: bool | str) -> bool:
    """Whether to resume (``"auto"``: when the folder holds a run); the checks that need no
    lock, made before anything is written."""
    exists = run.exists()
    if resume == "auto":
        return exists
    if exists and not resume:
        raise _holds_a_run(run)
    if resume:
        run.checkpoint()  # loaded once (an error if there is none), kept for _start
    return bool(resume)


def _holds_a_run(run: RunDir) -> UserError:
    return UserError(
        f"{run.root} already holds a run; continue it with --resume, or choose another --out"
    )


def _start(run: RunDir, cfg: TrainConfig, resume: bool, fingerprint: str) -> dict[str, Any] | None:
    """Under the folder's lock (on rank 0): the checkpoint to resume from, checked against
    ``cfg`` and the data's ``fingerprint``; None for a new run."""
    if not resume:
        if run.exists():  # another trainer finished a run here since the first check
            raise _holds_a_run(run)
        return None
    state = run.checkpoint()
    saved = config_from_dict(state["config"])
    diff = {k: v for k, v in config_diff(saved, cfg).items() if k not in RESUME_MUTABLE}
    if "data" in diff and state.get("data_fingerprint") == fingerprint:
        del diff["data"]  # the same files in another folder: a moved dataset or checkout
    if diff:
        changes = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(diff.items()))
        raise UserError(
            f"cannot resume {run.root} with a different config ({changes}); only --epochs may "
            "change on resume. Start a new run with another --out instead"
        )
    if cfg.epochs < int(state["epoch"]):
        raise UserError(
            f"--epochs {cfg.epochs} is less than the {state['epoch']} epochs {run.root} has done"
        )
    return state


def _load_rank_pools(session: Session, state: dict[str, Any], info: distributed.DistInfo) -> None:
    """Each rank's own image pools, when the checkpoint has them for this many ranks."""
    by_rank = state.get("pools_by_rank")
    if info.enabled and by_rank and len(by_rank) == info.world_size:
        for k, pool in session.pools.items():
            pool.load_state_dict(by_rank[info.rank][k], session.device)


def _fid_evaluator(cfg: TrainConfig, device: torch.device) -> Any:
    """The FID network for ``--fid-every`` (loaded before the first epoch, so missing weights
    stop a run at its start, not after hours)."""
    if not cfg.fid_every:
        return None
    return FidEvaluator(device, cache_dir=cache_dir())


def _save(
    cfg: TrainConfig,
    epoch: int,
    session: Session,
    history: list[dict[str, Any]],
    writer: CheckpointWriter | None,
    info: distributed.DistInfo,
    samples: Callable[[], None] | None = None,
    fingerprint: str = "",
) -> None:
    """Rank 0 hands the checkpoint and history (with every rank's image pools) to the
    background writer; a barrier after, so no rank runs ahead of a save."""
    pools = None
    if info.enabled and cfg.pool_size:
        pools = distributed.gather_to_main(
            {k: p.state_dict() for k, p in session.pools.items()}, info
        )
    if writer is not None:
        payload = {
            "config": cfg.to_dict(),
            "data_fingerprint": fingerprint,
            "epoch": epoch,
            "history": history,
            **session.state_dict(),
        }
        if pools is not None:
            payload["pools_by_rank"] = pools
        keep = bool(cfg.checkpoint_every) and epoch % cfg.checkpoint_every == 0
        writer.submit(payload, keep=keep, first=samples)
    distributed.barrier(info)
