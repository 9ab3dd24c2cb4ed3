"""KID of generated images against real ones, with a bootstrap interval over images, to
compare two directions of an unpaired run on one yardstick (R9.4).

Features: the 2048-d pool features of the FID Inception network (:mod:`cg.eval.fid`, legacy
protocol). KID (Binkowski et al. 2018) is the unbiased estimate of the squared MMD with the
kernel ``k(x, y) = (x . y / d + 1)^3``::

    KID = mean_{i != j} k(f_i, f_j) + mean_{i != j} k(r_i, r_j) - 2 mean_{i, j} k(f_i, r_j)

computed here on all images at once (the sets are small), and its interval by resampling the
images of all four sets with replacement (:data:`cg.report.stats.RESAMPLES` times; a resampled
set keeps an image's repeats, which the off-diagonal means treat as distinct images).
"""

from __future__ import annotations

import numpy as np
import torch

from cg.report import stats as S


def features(images: torch.Tensor) -> np.ndarray:
    """Inception pool features of images in [-1, 1], (N, 2048) float64 (the network of
    :class:`cg.eval.fid.columns.FidEvaluator`, loaded once)."""
    from cg.eval.fid.columns import FidEvaluator

    global _EVALUATOR
    if _EVALUATOR is None:
        _EVALUATOR = FidEvaluator("cpu")
    return torch.cat(list(_EVALUATOR.features([images]))).double().numpy()


_EVALUATOR = None


def _kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def kid_from_kernels(kff: np.ndarray, krr: np.ndarray, kfr: np.ndarray) -> float:
    n, m = len(kff), len(krr)
    off_f = (kff.sum() - np.trace(kff)) / (n * (n - 1))
    off_r = (krr.sum() - np.trace(krr)) / (m * (m - 1))
    return float(off_f + off_r - 2 * kfr.mean())


def kid(fake: np.ndarray, real: np.ndarray) -> float:
    """KID between two feature sets (module docstring)."""
    return kid_from_kernels(_kernel(fake, fake), _kernel(real, real), _kernel(fake, real))


def kid_estimate(
    fake_b: torch.Tensor, real_b: torch.Tensor, fake_a: torch.Tensor, real_a: torch.Tensor
) -> tuple[S.Estimate, float, float]:
    """``KID(fake_a, real_a) - KID(fake_b, real_b)`` with its bootstrap interval, and the two
    KIDs (A -> B, B -> A)."""
    f = [features(x) for x in (fake_b, real_b, fake_a, real_a)]
    k_ab = (_kernel(f[0], f[0]), _kernel(f[1], f[1]), _kernel(f[0], f[1]))
    k_ba = (_kernel(f[2], f[2]), _kernel(f[3], f[3]), _kernel(f[2], f[3]))
    kid_ab, kid_ba = kid_from_kernels(*k_ab), kid_from_kernels(*k_ba)
    rng = np.random.default_rng(S.SEED)
    diffs = np.empty(S.RESAMPLES)
    for t in range(S.RESAMPLES):
        idx = [rng.integers(0, len(x), len(x)) for x in f]
        ab = kid_from_kernels(
            k_ab[0][np.ix_(idx[0], idx[0])],
            k_ab[1][np.ix_(idx[1], idx[1])],
            k_ab[2][np.ix_(idx[0], idx[1])],
        )
        ba = kid_from_kernels(
            k_ba[0][np.ix_(idx[2], idx[2])],
            k_ba[1][np.ix_(idx[3], idx[3])],
            k_ba[2][np.ix_(idx[2], idx[3])],
        )
        diffs[t] = ba - ab
    alpha = (1 - S.LEVEL) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    n = min(len(x) for x in f)
    return S.Estimate(kid_ba - kid_ab, float(low), float(high), n), kid_ab, kid_ba
