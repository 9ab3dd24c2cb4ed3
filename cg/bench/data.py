"""``cg bench``'s measurements of the data pipeline and of ``cg translate`` (see cg.bench.run)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch

from cg.bench.measure import median
from cg.checkpoints import save_checkpoint
from cg.config import TrainConfig
from cg.data.loaders import build_pipeline
from cg.models import build_generator
from cg.train.epoch import epoch_seed
from cg.translate import translate_folder


def measure_data(cfg: TrainConfig, root: Path, *, epochs: int = 2) -> list[dict[str, Any]]:
    """Training DataLoader images/s over ``epochs`` epochs, without and with the cache."""
    rows = []
    for cache_gib in (0.0, 4.0):
        c = dataclasses.replace(cfg, data=str(root), cache_gib=cache_gib, device="cpu")
        started = time.perf_counter()
        pipeline = build_pipeline(c)
        setup, per_epoch, n = time.perf_counter() - started, [], 0
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            n = sum(len(b["a"]) for b in pipeline.train_loader(epoch, epoch_seed(0, epoch)))
            per_epoch.append(time.perf_counter() - started)
        rows.append(
            {
                "cache": pipeline.cached,
                "num_workers": c.num_workers,
                "image_size": c.image_size,
                "images": n,
                "setup_s": setup,
                "epoch_s": per_epoch,
                "images_per_s": n / median(per_epoch),
            }
        )
    return rows


def measure_translate(
    cfg: TrainConfig, device: torch.device, folder: Path, work: Path, *, batch_size: int = 8
) -> dict[str, Any]:
    """``cg translate`` images/s: a fresh report generator over every image in ``folder``."""
    torch.manual_seed(0)
    ckpt = work / "translate.pt"
    save_checkpoint(
        ckpt,
        {
            "config": cfg.to_dict(),
            "epoch": 0,
            "models": {"g_ab": build_generator(cfg).state_dict()},
        },
    )
    times, n = [], 0
    for i in range(2):  # the first run warms up (page cache, allocator)
        started = time.perf_counter()
        n = len(
            translate_folder(
                ckpt,
                "ab",
                folder,
                work / f"out{i}",
                half="a",
                batch_size=batch_size,
                device=device.type,
                progress=False,
            )
        )
        times.append(time.perf_counter() - started)
    return {
        "image_size": cfg.image_size,
        "images": n,
        "batch_size": batch_size,
        "seconds": times[-1],
        "images_per_s": n / times[-1],
    }
