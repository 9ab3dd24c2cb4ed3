"""The report's runs as the notebooks use them: finished runs with their histories.

Which runs a notebook needs, their configs and folders, is the grid's
(:mod:`cg.report.runs.grid`);
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
from cg.report.runs.grid import Job, Plan, job
from cg.train.loop import run_is_complete, train
from cg.train.run_dir import RunDir

__all__ = ["Run", "experiment", "finish", "runs"]


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
        return RunDir(self.out).last


def finish(j: Job, data: Any, *, progress: bool = True, tensorboard: bool = False) -> Run:
    """Job ``j`` as a finished :class:`Run`: reused when its folder holds it finished, else
    trained (or resumed) here. ``tensorboard`` also logs the epochs trained here to
    ``<run folder>/tensorboard/`` (see :func:`cg.train.loop.train`; it is not part of the
    config, so it does not change the run folder)."""
    if not run_is_complete(j.out, j.config):
        train(j.config, j.out, resume="auto", progress=progress, tensorboard=tensorboard)
    history = pd.read_csv(RunDir(j.out).history_path)
    return Run(j.experiment, j.dataset, j.out, j.config, history, data)


def runs(plan: Plan, *, progress: bool = True) -> dict[str, list[Run]]:
    """Every run of a notebook's ``plan`` (:func:`cg.report.runs.grid.plan`): by experiment name,
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
    with ``settings`` (:func:`cg.report.runs.grid.job`'s), reused, resumed or trained."""
    j = job(dataset_name, data, runs_dir, name, **settings)
    return finish(j, data, progress=progress, tensorboard=tensorboard)
