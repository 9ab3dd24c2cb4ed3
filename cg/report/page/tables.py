"""The tables that describe a notebook's data and runs: what it trains on, each run's
settings, and each run's final metrics (deterministic: no paths, no times of day)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cg.models import build_discriminator, build_generator, count_parameters
from cg.report.runs.finished import Run

__all__ = ["data_summary", "final_metrics", "summary"]


def _count(files: list[Any], cap: int) -> int:
    return min(len(files), cap) if cap else len(files)


def data_summary(data: Any, name: str) -> pd.DataFrame:
    """What the notebook trains on: source, format and image counts per split and domain."""
    synthetic = Path(data.root).parent.name == "synthetic"
    source = f"built-in synthetic {name}" if synthetic else f"folder {Path(data.root).name}"
    rows = [("source", source), ("format", data.format)]
    if data.paired:
        rows += [("training pairs", len(data.train_a)), ("validation pairs", len(data.val_a))]
    else:
        rows += [
            ("training images A / B", f"{len(data.train_a)} / {len(data.train_b)}"),
            ("validation images A / B", f"{len(data.val_a)} / {len(data.val_b)}"),
        ]
    return pd.DataFrame(rows, columns=["", name]).set_index("")


def summary(runs: list[Run]) -> pd.DataFrame:
    """The settings of each run, one column per experiment (deterministic: no paths, times)."""
    table: dict[str, dict[str, Any]] = {}
    for run in runs:
        c, files = run.config, run.data
        table[run.name] = {
            "mode": "paired" if c.paired else "unpaired",
            "adversarial loss": "yes" if c.adversarial else "no",
            "identity loss": c.identity,
            "loss weights (cycle, identity, adv)": (
                f"{c.lambda_cycle:g}, {c.lambda_identity:g}, {c.lambda_adv:g}"
            ),
            "crop scale A / B": f"{c.crop_scale_a:g} / {c.crop_scale_b:g}",
            "image size": c.image_size,
            "generator": f"{c.generator} ({c.upsample}), base {c.base_channels}",
            "generator parameters": f"{count_parameters(build_generator(c)):,}",
            "discriminator parameters": (
                f"{count_parameters(build_discriminator(c)):,}" if c.adversarial else "-"
            ),
            "epochs": c.epochs,
            "batch size": c.batch_size,
            "Adam lr, beta1, beta2": f"{c.lr:g}, {c.beta1:g}, {c.beta2:g}",
            "training images": _count(files.train_a, c.max_train_images),
            "validation images": _count(files.val_a, c.max_val_images),
        }
    return pd.DataFrame(table)


def final_metrics(runs: list[Run]) -> pd.DataFrame:
    """Per run: last-epoch metrics, the best validation pixel errors and training time."""
    table: dict[str, dict[str, float]] = {}
    for run in runs:
        h = run.history
        last = h.iloc[-1]
        row: dict[str, float] = {
            "epochs": float(last["epoch"]),
            "training seconds": float(h["seconds"].sum()),
        }
        for col in h.columns:
            if col in ("epoch", "seconds", "lr") or not pd.notna(last[col]):
                continue
            row[col] = float(last[col])
        for d in ("ab", "ba"):
            col = f"pixel_error_{d}_val"
            if col in h and h[col].notna().any():
                row[f"best {col}"] = float(h[col].min())
                row[f"epoch of best {col}"] = float(h.loc[h[col].idxmin(), "epoch"])
        table[run.name] = row
    return pd.DataFrame(table)
