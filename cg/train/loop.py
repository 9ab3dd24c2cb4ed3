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

import functools
import hashlib
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from cg.config import RESUME_MUTABLE, TrainConfig, config_diff, config_from_dict
from cg.data.loaders import Pipeline, build_pipeline, resolve_config
from cg.datasets import DATASETS
from cg.errors import UserError
from cg.progress import progress_bar
from cg.runtime import precision_warning, seed_everything
from cg.train import distributed
from cg.train.run_dir import HISTORY_COLUMNS, RunDir, history_columns
from cg.train.state import Session, build_session
from cg.train.writer import CheckpointWriter

__all__ = ["HISTORY_COLUMNS", "epoch_seed", "resolve_config", "run_is_complete", "train"]


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch`` (1-based) of a run seeded with ``seed``."""
    digest = hashlib.sha256(f"cg:{seed}:{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def run_is_complete(out: str | Path, cfg: TrainConfig) -> bool:
    """True if ``out`` holds a finished run (all ``cfg.epochs`` epochs) with exactly ``cfg``."""
    from cg.data import scan_dataset

    run = RunDir(out)
    if not run.last.is_file():
        return False
    if (cfg.paired is None or cfg.channels_last is None) and cfg.data:
        cfg = resolve_config(cfg, scan_dataset(cfg.data))
    return run.is_complete(cfg)


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
    :mod:`cg.train.writer`; ``epoch_s``: all of it), as ``cg bench`` reports it.

    Checkpoints are written in the background (:class:`cg.train.writer.CheckpointWriter`):
    the next epoch trains while the last one's checkpoint is written, and every way out of
    this function waits for it first.
    """
    import pandas as pd

    from cg.data import scan_dataset

    run = out if isinstance(out, RunDir) else RunDir(out)
    if not cfg.data:
        raise UserError(
            "no dataset given: pass --data DIR (make one with `cg synth NAME --out DIR`)"
        )
    info = distributed.init()
    files = scan_dataset(cfg.data)
    cfg = resolve_config(cfg, files)
    distributed.check_batch(cfg.batch_size, info)
    resuming = distributed.on_main(lambda: _resume_wanted(run, resume), info)
    pipeline = build_pipeline(cfg, files, skip_bad=skip_bad)
    pipeline.rank, pipeline.world_size = info.rank, info.world_size
    distributed.on_main(run.acquire, info)
    board = None
    writer = CheckpointWriter(run) if info.is_main else None
    try:
        state = distributed.on_main(lambda: _start(run, cfg, resuming), info)
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
            from cg.train.tensorboard import TensorBoardLog

            board = TensorBoardLog(run, cfg, start, history)
        fid = _fid_evaluator(cfg, session.device) if info.is_main else None
        for epoch in range(start, cfg.epochs + 1):
            began = time.perf_counter()
            row, steps_s = _run_epoch(
                cfg, epoch, pipeline, session, run, fid, progress, quiet, info
            )
            history.append(row)
            sampling = time.perf_counter()
            samples = _sample_grids(cfg, epoch, pipeline, session, run) if info.is_main else None
            samples_s = time.perf_counter() - sampling
            if board is not None:  # before the checkpoint: a checkpointed epoch is logged
                if samples is not None:  # the board reads the epoch's grids from their files
                    samples()
                    samples = None
                board.log_epoch(row)
            saving = time.perf_counter()
            _save(cfg, epoch, session, history, writer, info, samples)
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


def _start(run: RunDir, cfg: TrainConfig, resume: bool) -> dict[str, Any] | None:
    """Under the folder's lock (on rank 0): the checkpoint to resume from, checked against
    ``cfg``; None for a new run."""
    if not resume:
        if run.exists():  # another trainer finished a run here since the first check
            raise _holds_a_run(run)
        return None
    state = run.checkpoint()
    saved = config_from_dict(state["config"])
    diff = {k: v for k, v in config_diff(saved, cfg).items() if k not in RESUME_MUTABLE}
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
    from cg.eval.fid.columns import FidEvaluator, cache_dir

    return FidEvaluator(device, cache_dir=cache_dir())


def _run_epoch(
    cfg: TrainConfig,
    epoch: int,
    pipeline: Pipeline,
    session: Session,
    run: RunDir,
    fid: Any,
    progress: bool,
    quiet: bool,
    info: distributed.DistInfo,
) -> tuple[dict[str, Any], float]:
    """Train one epoch; its history row (whose ``seconds`` are the steps and the evaluation)
    and the seconds of its steps."""
    seed = epoch_seed(cfg.seed, epoch)
    seed_everything(seed)
    if info.enabled:  # each rank its own dropout masks and pool draws
        torch.manual_seed(epoch_seed(seed, info.rank + 1))
    lr = session.set_epoch_lr(epoch)
    started = time.perf_counter()
    sums: dict[str, torch.Tensor] = {}
    steps = 0
    bar = progress_bar(
        pipeline.train_loader(epoch, seed),
        progress=progress and not quiet and info.is_main,
        desc=f"epoch {epoch}/{cfg.epochs}",
        unit="batch",
        leave=False,
        dynamic_ncols=True,
    )
    for batch in bar:
        losses = session.step(batch)
        for k, v in losses.items():
            sums[k] = sums[k] + v if k in sums else v
        steps += 1
        if steps % 20 == 0:
            means = _means(sums, steps, info)
            _check_finite(means, epoch, run)
            bar.set_postfix({k.removeprefix("loss_"): f"{v:.3f}" for k, v in means.items()})
    bar.close()
    if steps == 0:
        raise UserError(f"epoch {epoch} had no training batches; is the training split empty?")
    losses_mean = _means(sums, steps, info)
    _check_finite(losses_mean, epoch, run)
    steps_s = time.perf_counter() - started
    if cfg.precise_bn:  # every rank, on its share's batch size (cg.train.batchnorm)
        batch = max(1, cfg.batch_size // info.world_size)
        session.recompute_bn_stats(pipeline.eval_batches("train", batch))
    row = distributed.on_main(
        lambda: _epoch_row(cfg, epoch, lr, losses_mean, pipeline, session, fid, started), info
    )
    if info.is_main and not quiet:  # one line per epoch, with a bar or without (a log)
        keys = ("loss_g", "loss_d", "pixel_error_ab_val", "pixel_error_ba_val", "feedback_ab_val")
        shown = {k: row[k] for k in keys if row.get(k) is not None}
        print(
            f"epoch {epoch}/{cfg.epochs} ({row['seconds']:.1f}s) "
            + " ".join(f"{k}={v:.4f}" for k, v in shown.items()),
            flush=True,
        )
    return row, steps_s


def _means(
    sums: dict[str, torch.Tensor], steps: int, info: distributed.DistInfo
) -> dict[str, float]:
    """Mean loss per step over every rank (each rank's losses are its share's means)."""
    total = distributed.all_reduce_sums(sums, info)
    return {k: float(v.item()) / (steps * info.world_size) for k, v in total.items()}


def _epoch_row(
    cfg: TrainConfig,
    epoch: int,
    lr: float,
    losses: dict[str, float],
    pipeline: Pipeline,
    session: Session,
    fid: Any,
    started: float,
) -> dict[str, Any]:
    """The epoch's history row: losses, then the metrics (R5) and FID (rank 0)."""
    from cg.eval.metrics import evaluate

    m = session.models
    where = {
        "device": session.device,
        "precision": cfg.precision,
        "channels_last": cfg.channels_last,
    }
    row: dict[str, Any] = {c: None for c in HISTORY_COLUMNS}
    row.update(epoch=epoch, lr=lr, **losses)
    facts = DATASETS.get(cfg.preset)
    labels = (facts.structure, facts.palette) if facts and facts.palette else None
    for split in ("val", "train"):
        row.update(
            evaluate(
                pipeline.eval_batches(split),
                g_ab=m.g_ab,
                g_ba=m.g_ba,
                d_a=m.d_a,
                d_b=m.d_b,
                paired=pipeline.data_paired,
                split=split,
                conditional=cfg.objective == "pix2pix",
                labels=labels if split == "val" else None,  # segmentation on validation
                **where,
            )
        )
    if fid is not None and epoch % cfg.fid_every == 0:
        from cg.eval.fid.columns import fid_columns

        row.update(
            fid_columns(
                fid,
                pipeline.eval_batches("val"),
                g_ab=m.g_ab,
                g_ba=m.g_ba,
                keys=pipeline.fid_keys(),
                **where,
            )
        )
    row["seconds"] = time.perf_counter() - started
    return row


def _sample_grids(
    cfg: TrainConfig, epoch: int, pipeline: Pipeline, session: Session, run: RunDir
) -> Callable[[], None] | None:
    """The epoch's sample grids, computed now; what writes them (the background writer runs it),
    or None without samples."""
    from cg.eval.samples import sample_grids, write_sample_grids

    if cfg.sample_count <= 0:
        return None
    m = session.models
    images = {split: pipeline.samples(split, cfg.sample_count) for split in ("train", "val")}
    grids = sample_grids(
        {"ab": m.g_ab, "ba": m.g_ba},
        images,
        device=session.device,
        precision=cfg.precision,
        channels_last=cfg.channels_last,
    )
    paths = {d: run.sample_path(epoch, d) for d in grids}
    return functools.partial(write_sample_grids, grids, paths)


def _check_finite(values: dict[str, float], epoch: int, run: RunDir) -> None:
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        names = ", ".join(f"{k}={v}" for k, v in bad.items())
        raise UserError(
            f"training diverged in epoch {epoch} ({names}); the last good checkpoint is kept in "
            f"{run.last}. Lower --lr or check the data, then resume or restart"
        )


def _save(
    cfg: TrainConfig,
    epoch: int,
    session: Session,
    history: list[dict[str, Any]],
    writer: CheckpointWriter | None,
    info: distributed.DistInfo,
    samples: Callable[[], None] | None = None,
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
            "epoch": epoch,
            "history": history,
            **session.state_dict(),
        }
        if pools is not None:
            payload["pools_by_rank"] = pools
        keep = bool(cfg.checkpoint_every) and epoch % cfg.checkpoint_every == 0
        writer.submit(payload, keep=keep, first=samples)
    distributed.barrier(info)
