"""R9.3-overfit calibrated on simulated validation curves, with the epoch-to-epoch noise
measured in real runs.

A run's validation error moves from epoch to epoch by more than its images' noise: the model
itself changes, and every image sees that change. Choosing the best epoch on one half of the
images and reading it on the other removes the images' noise from the choice, not the
model's, so on a level curve "last over best" stays above 1. The check's statistic
(:func:`cg.report.findings.convergence.overfit_statistics`) chooses nothing on the curve: it
compares two windows fixed in advance. This module holds it to two kinds of simulated curves,
:data:`BLOCKS` seed blocks of each (the test in CI runs it):

- ``level``: the error falls and then stays level: the check must not hold in at least 95%
  of the blocks;
- ``rise``: the error has a true minimum early (a tenth of training) and rises 10% above it
  by the end: the check must hold in at least 80% of the blocks.

The simulated curves carry the noise measured on real runs (:func:`measure`, on the default
profile's edges2shoes runs without the adversarial loss, ``python -m
cg.report.findings.calibration``): on the log scale, AR(1) epoch noise of standard deviation
``epoch`` and lag-1 correlation ``correlation``, shared by every image, plus the noise of the
images' own draw per epoch, read as the difference of two halves (standard deviation
``split``; for the mean over all images, half of it).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cg.report.findings import rules as R
from cg.report.findings import stats as S
from cg.report.findings.convergence import epoch_errors, overfit_statistics
from cg.report.runs import finished, grid, profiles
from cg.report.runs.finished import Run

#: Seed blocks simulated of each kind.
BLOCKS = 200


@dataclass(frozen=True)
class Noise:
    """Log-scale noise of a validation curve: per epoch (shared by the halves), its lag-1
    correlation, and the halves' difference."""

    epoch: float
    correlation: float
    split: float


#: Measured on the default profile's edges2shoes runs without the adversarial loss, seeds
#: 0-4 (16 epochs each, the last 10 epochs about a quadratic trend), by :func:`measure`:
#: epoch 0.048, split 0.037, lag-1 correlation -0.32. A quadratic fitted to 10 points leaves
#: negatively correlated residuals even in independent noise, so the simulation takes 0:
#: independent epochs, the less favourable of the two for a mean over a window.
MEASURED = Noise(epoch=0.048, correlation=0.0, split=0.037)


def measure(curves: Sequence[np.ndarray], *, tail: int = 10) -> Noise:
    """The noise of per-epoch, per-image validation errors (one epochs x images array per run):
    residuals of each run's log curve (all images) about a quadratic over its last ``tail``
    epochs, their pooled standard deviation and lag-1 correlation, and the standard deviation
    of the log ratio of the even- to the odd-numbered images' curve about its run's mean."""
    residuals, lagged, split = [], [], []
    for errors in curves:
        log_all = np.log(errors.mean(1))[-tail:]
        t = np.arange(len(log_all), dtype=np.float64)
        r = log_all - np.polyval(np.polyfit(t, log_all, 2), t)
        residuals.append(r * math.sqrt(len(r) / (len(r) - 3)))  # 3 fitted coefficients
        lagged.append((r[:-1], r[1:]))
        d = np.log(errors[:, 0::2].mean(1)) - np.log(errors[:, 1::2].mean(1))
        split.append(d - d.mean())
    r = np.concatenate(residuals)
    a = np.concatenate([x for x, _ in lagged])
    b = np.concatenate([y for _, y in lagged])
    d = np.concatenate(split)
    dof = sum(len(s) - 1 for s in split)
    return Noise(
        epoch=float(np.sqrt(np.mean(r**2))),
        correlation=float(np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b))),
        split=float(np.sqrt(np.sum(d**2) / dof)),
    )


def trend(kind: str, epochs: int) -> np.ndarray:
    """The noiseless curve of a kind, epochs 1..``epochs``, its level 1: ``level`` falls from
    2 and is level from about a fifth of training on; ``rise`` falls to its minimum at a
    tenth of training and rises linearly from there to 1.10 at the end."""
    t = np.arange(1, epochs + 1, dtype=np.float64)
    if kind == "level":
        return 1.0 + np.exp(-t / (0.04 * epochs))
    if kind == "rise":
        low = 0.1 * epochs
        fall = 1.0 + ((low - t) / low) ** 2
        return np.where(t <= low, fall, 1.0 + 0.10 * (t - low) / (epochs - low))
    raise ValueError(f"kind must be level or rise, not {kind!r}")


def simulate(
    kind: str,
    noise: Noise = MEASURED,
    *,
    blocks: int = BLOCKS,
    seeds: int = 5,
    epochs: int = 64,
    rng_seed: int = 0,
) -> float:
    """The share of ``blocks`` simulated seed blocks (``seeds`` curves of ``epochs`` epochs
    of a kind, :func:`trend`, with ``noise``) in which R9.3-overfit holds (the check alone,
    its raw verdict)."""
    rng = np.random.default_rng(rng_seed)
    base = np.log(trend(kind, epochs))
    rule = R.RULES["R9.3-overfit"]
    held = 0
    for _ in range(blocks):
        rise = []
        for _ in range(seeds):
            shared = _ar1(rng, epochs, noise.epoch, noise.correlation)
            images = rng.normal(0.0, noise.split / 2, epochs)
            rise.append(overfit_statistics(np.exp(base + shared + images)).rise)
        held += R.decide(rule, [rise], seeds_expected=seeds).verdict_raw == S.HOLDS
    return held / blocks


def _ar1(rng: np.random.Generator, n: int, sd: float, rho: float) -> np.ndarray:
    """Stationary AR(1) noise of standard deviation ``sd`` and lag-1 correlation ``rho``."""
    e = rng.normal(0.0, sd * math.sqrt(1 - rho * rho), n)
    out = np.empty(n)
    out[0] = rng.normal(0.0, sd)
    for i in range(1, n):
        out[i] = rho * out[i - 1] + e[i]
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Measure the noise on the default profile's edges2shoes runs (trained if missing) and
    print it with the simulated shares of both kinds."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="default")
    p.add_argument("--root", default=".", help="repository root with params/")
    args = p.parse_args(argv)
    params = profiles.load_profile(args.profile, args.root)["edges2shoes"]
    plan = grid.plan("edges2shoes", **{k: params[k] for k in grid.PARAMETERS if k in params})
    runs: list[Run] = finished.runs(plan, progress=False)["noadv"]
    curves = [c for c in (epoch_errors(r) for r in runs) if c is not None]
    noise = measure(curves)
    print(f"measured on {len(curves)} runs: {noise}")
    for kind in ("level", "rise"):
        print(f"{kind}: holds in {simulate(kind, noise):.1%} of {BLOCKS} blocks")


if __name__ == "__main__":
    main()
