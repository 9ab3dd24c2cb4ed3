"""How a finding is decided (R10): a statistic, a bootstrap interval for it, and a verdict.

Every check of :mod:`cg.report.findings.paired` reduces its claim to one number computed from
per-image values (validation images, each scored by the trained models), draws a 95% interval
for it by resampling those images with replacement (the percentile bootstrap of
:func:`scipy.stats.bootstrap`, a fixed seed so a report is reproducible), and compares the
interval with the line the claim draws:

- ``holds``: the whole interval is on the claim's side of the line;
- ``does not hold``: the whole interval is on the other side;
- ``undecided``: the interval straddles the line (these images cannot settle it).

An equivalence claim ("about equally bad") holds when the interval lies inside its band and
does not hold when it lies wholly outside it.

With several training seeds (``-p n_seeds=S``), the unit of evidence is the seed: each check's
statistic is computed per seed as above (a comparison of arms within one seed, which share
their data, initial generator weights and batches), and :func:`over_seeds` draws the interval
from those S values with Student's t (S - 1 degrees of freedom). Why that rule: the seeds are
independent replications (their own data draw, weights and order), and a statistic averaged
over hundreds of images is close to normal across seeds, where the t interval is exact; with
5 seeds an exact sign-flip test can never reach 95% (its smallest two-sided p is 2/32), and a
bootstrap over 5 seeds is too narrow (it cannot see beyond the 5 values). The bootstrap over
the images of each seed stays as the per-seed detail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import bootstrap, t

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


def over_seeds(values: Sequence[float], level: float = LEVEL) -> Estimate:
    """The mean of per-seed statistics with a Student t interval over the seeds (``n`` is the
    number of seeds; fewer than 2, or a NaN among them, leaves the interval NaN)."""

    v = np.asarray(values, dtype=np.float64)
    value = float(v.mean()) if len(v) else float("nan")
    if len(v) < 2 or not np.all(np.isfinite(v)):
        return Estimate(value, float("nan"), float("nan"), len(v))
    half = float(t.ppf((1 + level) / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return Estimate(value, value - half, value + half, len(v))


def consensus(verdicts: Sequence[str]) -> str:
    """A yes-or-no condition over seeds: holds if it holds on every seed, does not hold if
    it holds on none, undecided when the seeds disagree."""
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    if verdicts and all(v == FAILS for v in verdicts):
        return FAILS
    return UNDECIDED


RULES: dict[str, Callable[[Estimate, float], str]] = {}


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


def shows_below(e: Estimate, line: float) -> str:
    """The claim "the statistic is below ``line``", for a statistic that can show it but not
    refute it (an artefact can hide the claim's phenomenon from it): holds when the interval
    is below ``line``, undecided otherwise."""
    return HOLDS if below(e, line) == HOLDS else UNDECIDED


def shows_above(e: Estimate, line: float) -> str:
    """The claim "the statistic is above ``line``", for a statistic that can show it but not
    refute it: holds when the interval is above ``line``, undecided otherwise."""
    return HOLDS if above(e, line) == HOLDS else UNDECIDED


def both(*verdicts: str) -> str:
    """A claim made of several parts: holds if all hold, does not hold if any does not."""
    if any(v == FAILS for v in verdicts):
        return FAILS
    return HOLDS if all(v == HOLDS for v in verdicts) else UNDECIDED


RULES.update(below=below, above=above, within=within)
RULES.update(shows_below=shows_below, shows_above=shows_above)
