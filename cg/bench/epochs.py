"""``cg bench``'s end-to-end part: whole epochs of ``cg train``, next to its steps.

An epoch is what a user times: the steps (data loading included), the epoch's evaluation (R5
metrics on the validation images and the training subset), the sample grids, and what the
checkpoint costs the training (the snapshot and any wait for the previous background write,
:mod:`cg.train.writer`). :func:`measure_epochs` trains a case on a built-in synthetic dataset
written to disk (paired cases on edges2shoes pairs, unpaired ones on face2simpson) with
:func:`cg.train.loop.train` itself, in a fresh process per variant, and reports the medians
of those parts over the epochs after the first (which pays for warm-up: allocator, kernels,
the data cache).
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from cg.bench.cases import Case, Variant, variant_config
from cg.bench.measure import median
from cg.data import scan_dataset, synthesize
from cg.train.loop import train

PHASES = ("steps_s", "evaluation_s", "samples_s", "checkpoint_s", "epoch_s")


def epoch_dataset(case: Case, root: Path, n_train: int, n_val: int) -> Path:
    """The synthetic dataset ``case`` trains on for the end-to-end part, written to ``root``."""
    name = "edges2shoes" if case.cfg.paired else "face2simpson"
    folder = root / f"{name}-{case.cfg.image_size}px-{n_train}x{n_val}"
    if not folder.is_dir():
        synthesize(name, folder, size=case.cfg.image_size, n_train=n_train, n_val=n_val, seed=0)
    return folder


def measure_epochs(case: Case, variant: Variant, data: Path, epochs: int) -> dict[str, Any]:
    """Train ``case`` in ``variant`` for ``epochs`` epochs on ``data``; the medians of
    :data:`PHASES` over epochs 2.. (epoch 1 alone when ``epochs`` is 1)."""
    cfg = dataclasses.replace(variant_config(case, variant), data=str(data), epochs=epochs)
    files = scan_dataset(data)
    timings: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="cg-bench-epochs-") as tmp:
        train(cfg, Path(tmp) / "run", progress=False, quiet=True, timings=timings)
    timed = timings[1:] or timings
    row: dict[str, Any] = {
        "case": case.name,
        "variant": variant.name,
        "image_size": cfg.image_size,
        "batch_size": cfg.batch_size,
        "images_per_epoch": len(files.train_a),
        "validation_images": len(files.val_a),
        "epochs_timed": len(timed),
        "epochs_all": timings,
    }
    row.update({k: median([t[k] for t in timed]) for k in PHASES})
    row["images_per_s"] = row["images_per_epoch"] / row["epoch_s"]
    row["step_images_per_s"] = row["images_per_epoch"] / row["steps_s"]
    row["overhead"] = 1.0 - row["steps_s"] / row["epoch_s"]
    return row
