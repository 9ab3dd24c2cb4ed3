"""One training epoch: its steps, the generators' BatchNorm statistics recomputed for its final
weights (``precise_bn``), its evaluation (R5) as one history row, and its sample grids.

:func:`run_epoch` is what :func:`cg.train.loop.train` calls once per epoch; nothing here touches
the run folder except to name it in an error.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from collections.abc import Callable
from typing import Any, TextIO

import torch

from cg.catalog import DATASETS
from cg.config import TrainConfig
from cg.data.loaders import Pipeline
from cg.errors import UserError
from cg.eval import samples
from cg.eval.fid.columns import fid_columns, real_key
from cg.eval.metrics import evaluate
from cg.progress import progress_bar
from cg.runtime import seed_everything
from cg.train import distributed
from cg.train.run_dir import HISTORY_COLUMNS, RunDir
from cg.train.state import Session

__all__ = ["RunStopped", "epoch_seed", "run_epoch", "sample_grids"]


class RunStopped(Exception):
    """Raised between two steps when the run's ``stop`` callable says so; the run folder keeps
    its last checkpoint, from which the run resumes."""


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch`` (1-based) of a run seeded with ``seed``."""
    digest = hashlib.sha256(f"cg:{seed}:{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def run_epoch(
    cfg: TrainConfig,
    epoch: int,
    pipeline: Pipeline,
    session: Session,
    run: RunDir,
    fid: Any,
    progress: bool,
    quiet: bool,
    info: distributed.DistInfo,
    log: TextIO | None = None,
    stop: Callable[[], bool] | None = None,
) -> tuple[dict[str, Any], float]:
    """Train one epoch; its history row (whose ``seconds`` are the steps and the evaluation)
    and the seconds of its steps. The epoch's line goes to ``log`` (default: stdout);
    ``stop()``, asked before every step, ends the run with :class:`RunStopped`."""
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
        if stop is not None and stop():
            bar.close()
            raise RunStopped(
                f"{run.root}: stopped in epoch {epoch}; it resumes from its last checkpoint"
            )
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
            file=log,
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
    for split in ("val", "train"):  # the val subset is the pipeline's; train's is the curves'
        first = cfg.train_subset if split == "train" else 0
        row.update(
            evaluate(
                pipeline.eval_batches(split, first=first),
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
        row.update(
            fid_columns(
                fid,
                pipeline.eval_batches("val"),
                g_ab=m.g_ab,
                g_ba=m.g_ba,
                keys=real_keys(cfg, pipeline),
                **where,
            )
        )
    row["seconds"] = time.perf_counter() - started
    return row


def real_keys(cfg: TrainConfig, pipeline: Pipeline) -> dict[str, str]:
    """The cache keys of the real validation statistics of both domains, for FID."""
    return {d: real_key(cfg.data, d, cfg.image_size, pipeline.val_files(d)) for d in ("a", "b")}


def sample_grids(
    cfg: TrainConfig, epoch: int, pipeline: Pipeline, session: Session, run: RunDir
) -> Callable[[], None] | None:
    """The epoch's sample grids, computed now; what writes them (the background writer runs it),
    or None without samples."""
    if cfg.sample_count <= 0:
        return None
    m = session.models
    images = {split: pipeline.samples(split, cfg.sample_count) for split in ("train", "val")}
    grids = samples.sample_grids(
        {"ab": m.g_ab, "ba": m.g_ba},
        images,
        device=session.device,
        precision=cfg.precision,
        channels_last=cfg.channels_last,
    )
    paths = {d: run.sample_path(epoch, d) for d in grids}
    return functools.partial(samples.write_sample_grids, grids, paths)


def _check_finite(values: dict[str, float], epoch: int, run: RunDir) -> None:
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        names = ", ".join(f"{k}={v}" for k, v in bad.items())
        raise UserError(
            f"training diverged in epoch {epoch} ({names}); the last good checkpoint is kept in "
            f"{run.last}. Lower --lr or check the data, then resume or restart"
        )
