"""Where the no-adversarial edges2shoes run's validation error is lowest (R9.3's regime), and
how that moves with the training set and the width: ``python -m cg.report.findings.regime``.

R9.3 says the model without the discriminator overfits within about 3 epochs of edges2shoes
(about 50,000 images at batch 16: some 9,000 steps). Whether a profile can show that depends
on where *its* validation minimum comes, which is measured here, not assumed: each setting
trains the ``noadv`` run of :data:`cg.report.runs.grid.RUNS` for design seeds (100 and above) on
the grid (:func:`cg.report.runs.schedule.train_grid`), long past the default profile's 16 epochs,
and reads its per-epoch validation pixel error (both directions, as R9.3-overfit does).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from typing import Any

import pandas as pd

from cg.report.runs.grid import plan
from cg.report.runs.schedule import train_grid
from cg.train.run_dir import RunDir


@dataclasses.dataclass(frozen=True)
class Setting:
    n_train: int
    base_channels: int
    epochs: int
    batch_size: int = 4
    lr: float = 0.002
    image_size: int = 64


#: The default profile's step, on the default training set and on twice it, and twice as wide.
SETTINGS = (Setting(64, 8, 96), Setting(128, 8, 48), Setting(64, 16, 48))


def minimum(history: pd.DataFrame, steps_per_epoch: int) -> dict[str, Any]:
    """The epoch (and step) of the lowest validation pixel error of both directions, and the
    last epoch's error over it."""
    err = (history["pixel_error_ab_val"] + history["pixel_error_ba_val"]) / 2
    best = int(err.to_numpy().argmin())
    epoch = int(history["epoch"].iloc[best])
    return {
        "best epoch": epoch,
        "best step": epoch * steps_per_epoch,
        "epochs": int(history["epoch"].iloc[-1]),
        "last / best": round(float(err.iloc[-1] / err.iloc[best]), 3),
    }


def measure(
    settings: Sequence[Setting], seeds: Sequence[int], runs_dir: str, cache_dir: str = ".cache"
) -> pd.DataFrame:
    """Train (or reuse) every setting's noadv run for every seed, and tabulate each one's
    validation minimum."""

    jobs = []
    for s in settings:
        for seed in seeds:
            p = plan(
                "edges2shoes",
                cache_dir=cache_dir,
                runs_dir=runs_dir,
                n_val=128,
                seed=seed,
                **dataclasses.asdict(s),
            )
            jobs.append((s, seed, p.job("noadv", seed)))
    train_grid([j for _, _, j in jobs])
    rows = []
    for s, seed, j in jobs:
        history = pd.read_csv(RunDir(j.out).history_path)
        steps = -(-s.n_train // s.batch_size)  # batches per epoch
        rows.append({**dataclasses.asdict(s), "seed": seed, **minimum(history, steps)})
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m cg.report.findings.regime", description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    ap.add_argument("--runs-dir", default="runs/regime")
    a = ap.parse_args(argv)
    print(measure(SETTINGS, a.seeds, a.runs_dir).to_string(index=False))


if __name__ == "__main__":
    main()
