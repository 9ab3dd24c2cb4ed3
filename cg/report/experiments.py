"""The report's runs as the notebooks use them: finished runs with their histories, and the
tables that describe them.

Which runs a notebook needs, their configs and folders, is the grid's (:mod:`cg.report.grid`);
:func:`runs` returns a notebook's runs, reusing a finished run (``cg report`` trains the grid
before it executes the notebooks), resuming an interrupted one, and training a missing one
(a notebook opened by hand).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cg.config import TrainConfig
from cg.report.grid import EXPERIMENTS, Job, Plan, dataset, job

__all__ = [
    "EXPERIMENTS",
    "Run",
    "data_summary",
    "dataset",
    "experiment",
    "final_metrics",
    "finish",
    "runs",
    "summary",
]


@dataclass(frozen=True)
class Run:
    """A finished training run: its experiment name, dataset, folder, config and history."""

    name: str
    dataset: str
    out: Path
    config: TrainConfig
    history: pd.DataFrame
    data: Any  # cg.data.DatasetFiles

    @property
    def checkpoint(self) -> Path:
        """The run's final checkpoint."""
        from cg.train.run_dir import RunDir

        return RunDir(self.out).last


def finish(j: Job, data: Any, *, progress: bool = True, tensorboard: bool = False) -> Run:
    """Job ``j`` as a finished :class:`Run`: reused when its folder holds it finished, else
    trained (or resumed) here. ``tensorboard`` also logs the epochs trained here to
    ``<run folder>/tensorboard/`` (see :func:`cg.train.loop.train`; it is not part of the
    config, so it does not change the run folder)."""
    from cg.train.loop import run_is_complete, train
    from cg.train.run_dir import RunDir

    if not run_is_complete(j.out, j.config):
        train(j.config, j.out, resume="auto", progress=progress, tensorboard=tensorboard)
    history = pd.read_csv(RunDir(j.out).history_path)
    return Run(j.experiment, j.dataset, j.out, j.config, history, data)


def runs(plan: Plan, *, progress: bool = True) -> dict[str, list[Run]]:
    """Every run of a notebook's ``plan`` (:func:`cg.report.grid.plan`): by experiment name,
    one run per seed in the block's order; what is not finished is trained here."""
    out: dict[str, list[Run]] = {name: [] for name in plan.experiments}
    data = dict(zip(plan.seeds, plan.data_by_seed))
    for j in plan.jobs:
        out[j.experiment].append(finish(j, data[j.config.seed], progress=progress))
    return out


def experiment(
    dataset_name: str,
    data: Any,
    runs_dir: str | Path,
    name: str,
    *,
    progress: bool = True,
    tensorboard: bool = False,
    **settings: Any,
) -> Run:
    """One run outside the report's grid: experiment ``name`` of ``dataset_name`` on ``data``
    with ``settings`` (:func:`cg.report.grid.job`'s), reused, resumed or trained."""
    j = job(dataset_name, data, runs_dir, name, **settings)
    return finish(j, data, progress=progress, tensorboard=tensorboard)


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
    from cg.models import build_discriminator, build_generator, count_parameters

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
