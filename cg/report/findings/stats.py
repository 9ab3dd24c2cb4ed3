"""The statistics the findings are decided with (R10): a bootstrap interval over the images of
one model, and the tests over training seeds that decide a check.

**One model, its images.** :func:`estimate` gives a statistic of per-image values with a
percentile-bootstrap interval (:func:`scipy.stats.bootstrap`, a fixed seed so that a report is
reproducible). It shows how well one model's images pin its number down; it says nothing of how
another training run would come out, so no verdict is taken from it.

**Seeds, the unit of evidence.** A check computes its statistic once per training seed (a
comparison of arms within the seed, which share its data, initial weights and batches), and
:func:`against_line` tests the S per-seed values against the claim's line with Student's one-sample
t (:func:`scipy.stats.ttest_1samp`, S - 1 degrees of freedom): a one-sided p for each side of a
direction, two one-sided tests for an equivalence band. Why t: the seeds are independent
replications, and the test is exact when the per-seed statistics are normal across seeds. That
is an assumption about training's variation, which dominates here (5-10 times one model's
interval over its images), not about image noise, and nothing guarantees it: ratios are
therefore tested as log ratios (a ratio's spread across seeds is skewed, its log's much less),
and every test reports Shapiro-Wilk's p (:func:`scipy.stats.shapiro`) on the values it tests.
Where that p is below :data:`NORMALITY`, the page flags the check and shows the exact
sign-flip p beside the t one (:func:`scipy.stats.permutation_test` over all 2^S sign flips:
free of the normality assumption, but with 5 seeds its smallest one-sided p is 1/32, so it
cannot decide at 2.5% and stays a check on t). The interval shown is the t interval at
:data:`LEVEL`, on the tested scale and mapped back (a ratio's interval is exp of its log's).

**Families.** :func:`holm` decides a family of checks with Holm's step-down correction
(:func:`statsmodels.stats.multitest.multipletests`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import bootstrap, permutation_test, shapiro, t, ttest_1samp
from statsmodels.stats.multitest import multipletests

HOLDS, FAILS, UNDECIDED = "holds", "does not hold", "undecided"
#: The two-sided level of every interval: each side of a check is decided at (1 - LEVEL) / 2.
LEVEL = 0.95
#: Shapiro-Wilk's p below which the per-seed values are flagged as not normal.
NORMALITY = 0.05
RESAMPLES = 2000
SEED = 0


@dataclass(frozen=True)
class Estimate:
    """A statistic with its interval ``[low, high]``."""

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
    """``statistic(*samples)`` with a percentile-bootstrap interval over the images.

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


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a) - np.mean(b))


def ratio(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a) / np.mean(b))


@dataclass(frozen=True)
class LineTest:
    """Per-seed values tested against a claim's line, on the tested scale (a log for ratios).

    ``p_for`` is the one-sided p of the claim's side (for a band: the larger of the two
    one-sided tests that put the mean inside it), ``p_against`` that of the other side (for a
    band: the smaller of the two that put it outside). ``shapiro`` is Shapiro-Wilk's p of the
    values (NaN under 3 seeds or for constant values); ``sign_flip`` the exact sign-flip p of
    the same side as :attr:`p`."""

    mean: float
    low: float
    high: float
    p_for: float
    p_against: float
    shapiro: float
    sign_flip: float
    n: int

    @property
    def p(self) -> float:
        """The one-sided p of the side the evidence leans to."""
        return min(self.p_for, self.p_against)

    @property
    def verdict(self) -> str:
        """This test alone, each side at (1 - LEVEL) / 2."""
        side = (1 - LEVEL) / 2
        if self.p_for < side:
            return HOLDS
        if self.p_against < side:
            return FAILS
        return UNDECIDED

    @property
    def normal(self) -> bool:
        """Whether the values pass Shapiro-Wilk (or are too few to say)."""
        return not (self.shapiro < NORMALITY)


_OTHER = {"greater": "less", "less": "greater"}


def _one_sided(x: np.ndarray, line: float, alternative: str) -> float:
    """Student t's one-sided p of "the mean is ``alternative`` than ``line``"."""
    if np.ptp(x) == 0:  # no spread: the sign alone decides
        mean = float(x[0])
        if mean == line:
            return 0.5
        return 0.0 if (mean > line) == (alternative == "greater") else 1.0
    return float(ttest_1samp(x, line, alternative=alternative).pvalue)


def _sign_flip(x: np.ndarray, line: float, alternative: str) -> float:
    """The exact sign-flip p of "the mean is ``alternative`` than ``line``"."""
    res = permutation_test(
        (x - line,),
        np.mean,
        permutation_type="samples",
        alternative=alternative,
        n_resamples=np.inf,
    )
    return float(res.pvalue)


def against_line(values: Sequence[float], side: str, line: float) -> LineTest:
    """The per-seed ``values`` (already on the tested scale) against ``line``: ``side`` is
    ``above`` or ``below`` (the claim puts the mean there) or ``within`` (the claim puts it
    inside ``[-line, line]``). Fewer than 2 values, or a non-finite one, give NaN p values."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    nan = LineTest(mean, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, n)
    if n < 2 or not np.all(np.isfinite(x)):
        return nan
    half = float(t.ppf((1 + LEVEL) / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    if side in ("above", "below"):
        claim = "greater" if side == "above" else "less"
        p_for, p_against = _one_sided(x, line, claim), _one_sided(x, line, _OTHER[claim])
        lean = claim if p_for <= p_against else _OTHER[claim]
        flip = _sign_flip(x, line, lean) if np.ptp(x) > 0 else math.nan
    elif side == "within":
        inside = (_one_sided(x, -line, "greater"), _one_sided(x, line, "less"))
        outside = (_one_sided(x, line, "greater"), _one_sided(x, -line, "less"))
        p_for, p_against = max(inside), min(outside)
        if np.ptp(x) == 0:
            flip = math.nan
        elif p_for <= p_against:
            flip = max(_sign_flip(x, -line, "greater"), _sign_flip(x, line, "less"))
        else:
            flip = min(_sign_flip(x, line, "greater"), _sign_flip(x, -line, "less"))
    else:
        raise ValueError(f"side must be above, below or within, not {side!r}")
    normality = float(shapiro(x).pvalue) if n >= 3 and np.ptp(x) > 0 else math.nan
    return LineTest(mean, mean - half, mean + half, p_for, p_against, normality, flip, n)


def holm(p: Sequence[float], alpha: float) -> list[bool]:
    """Which of the p values Holm's step-down correction rejects at family-wise ``alpha``
    (a NaN p is never rejected, and counts in the family as a test that could not reject)."""
    values = np.asarray(p, dtype=np.float64)
    if values.size == 0:
        return []
    reject, *_ = multipletests(np.where(np.isfinite(values), values, 1.0), alpha, "holm")
    return [bool(r) for r in reject]
