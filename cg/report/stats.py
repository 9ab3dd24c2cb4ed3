"""How a finding is decided (R10): a statistic, a bootstrap interval for it, and a verdict.

Every check of :mod:`cg.report.findings` reduces its claim to one number computed from
per-image values (validation images, each scored by the trained models), draws a 95% interval
for it by resampling those images with replacement (the percentile bootstrap of
:func:`scipy.stats.bootstrap`, a fixed seed so a report is reproducible), and compares the
interval with the line the claim draws:

- ``holds``: the whole interval is on the claim's side of the line;
- ``does not hold``: the whole interval is on the other side;
- ``undecided``: the interval straddles the line (these images cannot settle it).

An equivalence claim ("about equally bad") holds when the interval lies inside its band and
does not hold when it lies wholly outside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

HOLDS, FAILS, UNDECIDED = "holds", "does not hold", "undecided"
LEVEL = 0.95
RESAMPLES = 2000
SEED = 0


@dataclass(frozen=True)
class Estimate:
    """A statistic with its bootstrap interval ``[low, high]``."""

    value: float
    low: float
    high: float
    n: int  # images per sample (the smallest, when there are several samples)

    def __str__(self) -> str:
        return f"{_fmt(self.value)} [{_fmt(self.low)}, {_fmt(self.high)}]"


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "nan"
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def estimate(
    samples: Sequence[np.ndarray],
    statistic: Callable[..., float],
    *,
    paired: bool = False,
    level: float = LEVEL,
) -> Estimate:
    """``statistic(*samples)`` with a percentile-bootstrap interval.

    ``paired``: the samples are per-image values of the same images (resampled together);
    otherwise each sample is resampled on its own (e.g. validation and training images).
    """
    from scipy.stats import bootstrap

    data = tuple(np.asarray(s, dtype=np.float64) for s in samples)
    value = float(statistic(*data))
    n = min(len(s) for s in data)
    if n < 2 or not np.isfinite(value):
        return Estimate(value, float("nan"), float("nan"), n)

    def stat(*xs: np.ndarray, axis: int = -1) -> np.ndarray:
        return _vectorised(statistic, xs, axis)

    res = bootstrap(
        data,
        stat,
        paired=paired,
        vectorized=True,
        n_resamples=RESAMPLES,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(SEED),
    )
    return Estimate(
        value, float(res.confidence_interval.low), float(res.confidence_interval.high), n
    )


def _vectorised(statistic: Callable[..., float], xs: tuple[np.ndarray, ...], axis: int):
    """Apply a statistic of 1-d samples along ``axis`` of batched resamples."""
    moved = [np.moveaxis(x, axis, -1) for x in xs]
    batch = moved[0].shape[:-1]
    out = np.empty(batch)
    for idx in np.ndindex(*batch):
        out[idx] = statistic(*(m[idx] for m in moved))
    return out


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a) - np.mean(b))


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """``(mean(a) - mean(b)) / mean(a)``."""
    return float((np.mean(a) - np.mean(b)) / np.mean(a))


def ratio(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a) / np.mean(b))


def below(e: Estimate, line: float) -> str:
    """The claim "the statistic is below ``line``"."""
    if not (np.isfinite(e.low) and np.isfinite(e.high)):
        return UNDECIDED
    if e.high < line:
        return HOLDS
    if e.low > line:
        return FAILS
    return UNDECIDED


def above(e: Estimate, line: float) -> str:
    """The claim "the statistic is above ``line``"."""
    if not (np.isfinite(e.low) and np.isfinite(e.high)):
        return UNDECIDED
    if e.low > line:
        return HOLDS
    if e.high < line:
        return FAILS
    return UNDECIDED


def within(e: Estimate, band: float) -> str:
    """The claim "the statistic is within ``[-band, band]``" (equivalence)."""
    if not (np.isfinite(e.low) and np.isfinite(e.high)):
        return UNDECIDED
    if -band <= e.low and e.high <= band:
        return HOLDS
    if e.low > band or e.high < -band:
        return FAILS
    return UNDECIDED


def both(*verdicts: str) -> str:
    """A claim made of several parts: holds if all hold, does not hold if any does not."""
    if any(v == FAILS for v in verdicts):
        return FAILS
    return HOLDS if all(v == HOLDS for v in verdicts) else UNDECIDED
