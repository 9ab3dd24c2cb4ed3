"""The training loop: one :func:`train` for every mode, with exact resume.

A run folder holds ``config.json``, ``history.csv`` (one row per epoch), ``checkpoints/last.pt``
(plus ``epoch_NNNN.pt`` every ``checkpoint_every`` epochs) and ``samples/``. The checkpoint is the
source of truth: it carries the history too, and ``history.csv`` is rewritten from it.

Reproducibility: every epoch starts by reseeding all RNGs from ``(seed, epoch)``, and the
checkpoint restores models, optimisers, the image pools and the RNG states, so a run killed at
any moment and resumed with ``--resume`` ends with the same weights and history (bitwise on the
CPU; only the ``seconds`` column, a wall-clock time, differs).

Under ``torchrun`` the same loop runs on every rank (:mod:`cg.distributed`): rank 0 alone
touches the run folder and computes the validation metrics, and the epoch's training losses
are averaged over the ranks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch

from cg import distributed
from cg.checkpoints import atomic_write_text, load_checkpoint, save_checkpoint
from cg.config import (
    RESUME_MUTABLE,
    TrainConfig,
    config_diff,
    config_from_dict,
    load_config,
    make_config,
    validate,
)
from cg.errors import UserError
from cg.history import HISTORY_COLUMNS, read_history, write_history
from cg.pipeline import Pipeline, build_pipeline
from cg.runtime import precision_warning
from cg.session import Session, build_session

__all__ = ["HISTORY_COLUMNS", "train", "train_cli", "run_is_complete", "epoch_seed"]


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch`` (1-based) of a run seeded with ``seed``."""
    digest = hashlib.sha256(f"cg:{seed}:{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _paths(out: Path) -> dict[str, Path]:
    return {
        "config": out / "config.json",
        "history": out / "history.csv",
        "last": out / "checkpoints" / "last.pt",
        "samples": out / "samples",
    }


def run_is_complete(out: str | Path, cfg: TrainConfig) -> bool:
    """True if ``out`` holds a finished run (all ``cfg.epochs`` epochs) with exactly ``cfg``."""
    p = _paths(Path(out))
    if not (p["config"].is_file() and p["last"].is_file() and p["history"].is_file()):
        return False
    try:
        saved = load_config(p["config"])
    except UserError:
        return False
    if config_diff(saved, _resolve_paired(cfg)):
        return False
    return len(read_history(p["history"])) >= cfg.epochs


def _resolve_paired(cfg: TrainConfig) -> TrainConfig:
    """Fill ``paired`` from the data's format when it was left to the data (None)."""
    if cfg.paired is not None or not cfg.data:
        return cfg
    from cg.data import scan_dataset

    files = scan_dataset(cfg.data)
    paired = files.format == "pix2pix"
    identity = cfg.identity if paired or cfg.identity != "paired" else "classic"
    return validate(dataclasses.replace(cfg, paired=paired, identity=identity))


def _existing_run(out: Path) -> bool:
    p = _paths(out)
    return p["last"].exists() or p["history"].exists() or p["config"].exists()


def train(
    cfg: TrainConfig,
    out: str | Path,
    *,
    resume: bool | str = False,
    skip_bad: bool = False,
    progress: bool = True,
) -> Any:
    """Train ``cfg`` into run folder ``out``; returns the history as a pandas DataFrame.

    ``resume``: False starts a new run (an existing run in ``out`` is an error, never
    overwritten); True continues the run in ``out`` (its config must equal ``cfg`` except
    ``epochs``); ``"auto"`` continues a run if one exists, else starts one.
    """
    import pandas as pd

    out = Path(out)
    if not cfg.data:
        raise UserError(
            "no dataset given: pass --data DIR (make one with `cg synth NAME --out DIR`)"
        )
    info = distributed.init()
    cfg = _resolve_paired(validate(cfg))
    distributed.check_batch(cfg.batch_size, info)
    state = distributed.on_main(lambda: _start(out, cfg, resume), info)
    pipeline = build_pipeline(cfg, skip_bad=skip_bad)
    pipeline.rank, pipeline.world_size = info.rank, info.world_size
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
    p = _paths(out)
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(p["config"], cfg.to_json() + "\n")
        write_history(p["history"], history)
    for epoch in range(start, cfg.epochs + 1):
        row = _run_epoch(cfg, epoch, pipeline, session, out, progress and info.is_main, info)
        history.append(row)
        _save(cfg, epoch, session, history, out, info)
    return (
        pd.DataFrame(history, columns=_columns(history))
        if history
        else pd.DataFrame(columns=HISTORY_COLUMNS)
    )


def _start(out: Path, cfg: TrainConfig, resume: bool | str) -> dict[str, Any] | None:
    """The checks before a run starts or resumes (on rank 0); the checkpoint to resume from."""
    exists = _existing_run(out)
    if resume == "auto":
        resume = exists
    if exists and not resume:
        raise UserError(
            f"{out} already holds a run; continue it with --resume, or choose another --out"
        )
    return _load_resume_state(out, cfg) if resume else None


def _load_rank_pools(session: Session, state: dict[str, Any], info: distributed.DistInfo) -> None:
    """Each rank's own image pools, when the checkpoint has them for this many ranks."""
    by_rank = state.get("pools_by_rank")
    if info.enabled and by_rank and len(by_rank) == info.world_size:
        for k, pool in session.pools.items():
            pool.load_state_dict(by_rank[info.rank][k], session.device)


def _columns(history: list[dict[str, Any]]) -> list[str]:
    extra = sorted({k for row in history for k in row} - set(HISTORY_COLUMNS))
    return list(HISTORY_COLUMNS) + extra


def _load_resume_state(out: Path, cfg: TrainConfig) -> dict[str, Any]:
    p = _paths(out)
    if not p["last"].is_file():
        raise UserError(f"nothing to resume in {out}: {p['last']} does not exist")
    state = load_checkpoint(p["last"])
    saved = config_from_dict(state["config"])
    diff = {k: v for k, v in config_diff(saved, cfg).items() if k not in RESUME_MUTABLE}
    if diff:
        changes = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(diff.items()))
        raise UserError(
            f"cannot resume {out} with a different config ({changes}); only --epochs may "
            "change on resume. Start a new run with another --out instead"
        )
    if cfg.epochs < int(state["epoch"]):
        raise UserError(
            f"--epochs {cfg.epochs} is less than the {state['epoch']} epochs {out} has done"
        )
    return state


def _run_epoch(
    cfg: TrainConfig,
    epoch: int,
    pipeline: Pipeline,
    session: Session,
    out: Path,
    progress: bool,
    info: distributed.DistInfo = distributed.SINGLE,
) -> dict[str, Any]:
    from tqdm.auto import tqdm

    from cg.runtime import seed_everything

    seed = epoch_seed(cfg.seed, epoch)
    seed_everything(seed)
    if info.enabled:  # each rank its own dropout masks and pool draws
        torch.manual_seed(epoch_seed(seed, info.rank + 1))
    lr = session.set_epoch_lr(epoch)
    started = time.perf_counter()
    loader = pipeline.train_loader(epoch, seed)
    sums: dict[str, torch.Tensor] = {}
    steps = 0
    bar = tqdm(
        loader,
        desc=f"epoch {epoch}/{cfg.epochs}",
        unit="batch",
        leave=False,
        disable=not progress,
        dynamic_ncols=True,
    )
    for batch in bar:
        losses = session.step(batch)
        for k, v in losses.items():
            sums[k] = sums[k] + v if k in sums else v
        steps += 1
        if steps % 20 == 0:
            means = _means(sums, steps, info)
            _check_finite(means, epoch, out)
            bar.set_postfix({k.removeprefix("loss_"): f"{v:.3f}" for k, v in means.items()})
    bar.close()
    if steps == 0:
        raise UserError(f"epoch {epoch} had no training batches; is the training split empty?")
    losses_mean = _means(sums, steps, info)
    _check_finite(losses_mean, epoch, out)
    row = distributed.on_main(
        lambda: _epoch_row(cfg, epoch, lr, losses_mean, pipeline, session, out, started), info
    )
    if progress:
        shown = {
            k: row[k]
            for k in (
                "loss_g",
                "loss_d",
                "pixel_error_ab_val",
                "pixel_error_ba_val",
                "feedback_ab_val",
            )
            if row.get(k) is not None
        }
        tqdm.write(
            f"epoch {epoch}/{cfg.epochs} ({row['seconds']:.1f}s) "
            + " ".join(f"{k}={v:.4f}" for k, v in shown.items())
        )
    return row


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
    out: Path,
    started: float,
) -> dict[str, Any]:
    """The epoch's history row: losses, then the metrics (R5), FID and samples (rank 0)."""
    row: dict[str, Any] = {c: None for c in HISTORY_COLUMNS}
    row.update(epoch=epoch, lr=lr, **losses)
    row.update(session.evaluate(pipeline))
    row.update(session.fid_columns(pipeline, epoch))
    row["seconds"] = time.perf_counter() - started
    session.write_samples(pipeline, _paths(out)["samples"] / f"epoch_{epoch:04d}.png")
    return row


def _check_finite(values: dict[str, float], epoch: int, out: Path) -> None:
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        names = ", ".join(f"{k}={v}" for k, v in bad.items())
        raise UserError(
            f"training diverged in epoch {epoch} ({names}); the last good checkpoint is kept in "
            f"{_paths(out)['last']}. Lower --lr or check the data, then resume or restart"
        )


def _save(
    cfg: TrainConfig,
    epoch: int,
    session: Session,
    history: list[dict[str, Any]],
    out: Path,
    info: distributed.DistInfo = distributed.SINGLE,
) -> None:
    """Rank 0 writes the checkpoint and history (with every rank's image pools); a barrier
    after, so no rank runs ahead of a save."""
    pools = None
    if info.enabled and cfg.pool_size:
        pools = distributed.gather_to_main(
            {k: p.state_dict() for k, p in session.pools.items()}, info
        )
    if info.is_main:
        p = _paths(out)
        payload = {
            "config": cfg.to_dict(),
            "epoch": epoch,
            "history": history,
            **session.state_dict(),
        }
        if pools is not None:
            payload["pools_by_rank"] = pools
        save_checkpoint(p["last"], payload)
        if cfg.checkpoint_every and epoch % cfg.checkpoint_every == 0:
            save_checkpoint(p["last"].parent / f"epoch_{epoch:04d}.pt", payload)
        write_history(p["history"], history)
    distributed.barrier(info)


def train_cli(
    *,
    out: str,
    preset: str | None,
    overrides: dict[str, Any],
    resume: bool,
    skip_bad: bool,
    progress: bool,
) -> None:
    """``cg train``: build the config from preset + flags (or the run's own config on resume).

    Under torchrun every rank runs this; rank 0 reads the run folder and prints.
    """
    out_path = Path(out)
    info = distributed.init()
    try:
        if resume:
            saved = distributed.on_main(lambda: _saved_config(out_path), info)
            if preset and preset != saved.get("preset"):
                raise UserError(
                    f"cannot resume {out_path} with --preset {preset}: it was "
                    f"started with preset {saved.get('preset') or 'none'!r}"
                )
            cfg = validate(config_from_dict({**saved, **overrides}))
        else:
            cfg = make_config(preset, **overrides)
        history = train(cfg, out_path, resume=resume, skip_bad=skip_bad, progress=progress)
    finally:
        distributed.teardown()
    if not info.is_main:
        return
    print(f"run folder: {out_path} ({len(history)} epochs in history.csv)")
    if len(history):
        last = history.iloc[-1].dropna().to_dict()
        print(
            "last epoch: "
            + json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in last.items()})
        )


def _saved_config(out: Path) -> dict[str, Any]:
    last = _paths(out)["last"]
    if not last.is_file():
        raise UserError(f"nothing to resume in {out}: {last} does not exist")
    return load_checkpoint(last)["config"]
