"""KID of generated images against real ones, with a bootstrap interval over images, to
compare two directions of an unpaired run on one yardstick (R9.4).

Features: the 2048-d pool features of the FID Inception network (:mod:`cg.eval.fid`, legacy
protocol). KID (Binkowski et al. 2018) is the unbiased estimate of the squared MMD with the
kernel ``k(x, y) = (x . y / d + 1)^3``::

    KID = mean_{i != j} k(f_i, f_j) + mean_{i != j} k(r_i, r_j) - 2 mean_{i, j} k(f_i, r_j)

computed here on all images at once (the sets are small). Its interval resamples the *source*
images with replacement (:data:`cg.report.findings.stats.RESAMPLES` times), once per domain: a
validation image of A stands in a resample both as itself (a real image of A) and through its
translation (a generated image of B), so the sets that share sources are resampled together.
A resample is a multiset of sources; its KID is the same estimator over pairs of *different*
sources (:func:`kid_of_counts`): an image drawn twice is not compared with its own copy as if
they were two images (that would add ``k(x, x)``, the kernel's largest values, to the
within-set means).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import torch

from cg.eval.fid.columns import FidEvaluator
from cg.report.findings import stats as S


def features(images: torch.Tensor) -> np.ndarray:
    """Inception pool features of images in [-1, 1], (N, 2048) float64 (the network of
    :class:`cg.eval.fid.columns.FidEvaluator`, loaded once). The features of the last
    :data:`REMEMBERED` image sets are kept by content: the real validation images, the same for
    every seed of a block, pass through the network once."""

    global _EVALUATOR
    x = images.detach().cpu().contiguous()
    key = (tuple(x.shape), str(x.dtype), hashlib.sha256(x.numpy().tobytes()).hexdigest())
    if key in _REMEMBERED:
        _REMEMBERED.move_to_end(key)
        return _REMEMBERED[key]
    if _EVALUATOR is None:
        _EVALUATOR = FidEvaluator("cpu")
    out = torch.cat(list(_EVALUATOR.features([x]))).double().numpy()
    out.setflags(write=False)  # shared between callers
    _REMEMBERED[key] = out
    while len(_REMEMBERED) > REMEMBERED:
        _REMEMBERED.popitem(last=False)
    return out


#: Image sets whose features :func:`features` keeps (a few MB each).
REMEMBERED = 8
_EVALUATOR = None
_REMEMBERED: OrderedDict[tuple, np.ndarray] = OrderedDict()


def _kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _off_diagonal(k: np.ndarray, c: np.ndarray) -> float:
    """The mean of ``k`` over pairs of different sources, source ``i`` drawn ``c[i]`` times."""
    pairs = c.sum() ** 2 - np.sum(c * c)
    return float((c @ k @ c - np.sum(c * c * np.diag(k))) / pairs)


def kid_of_counts(
    kff: np.ndarray, krr: np.ndarray, kfr: np.ndarray, cf: np.ndarray, cr: np.ndarray
) -> float:
    """KID of a resample: generated image ``i`` drawn ``cf[i]`` times, real image ``j``
    ``cr[j]`` times (all ones: the sets themselves, :func:`kid_from_kernels`)."""
    cross = float(cf @ kfr @ cr) / (cf.sum() * cr.sum())
    return _off_diagonal(kff, cf) + _off_diagonal(krr, cr) - 2 * cross


def kid_from_kernels(kff: np.ndarray, krr: np.ndarray, kfr: np.ndarray) -> float:
    """KID of the sets whose kernel matrices these are, each image once."""
    return kid_of_counts(kff, krr, kfr, np.ones(len(kff)), np.ones(len(krr)))


def kid(fake: np.ndarray, real: np.ndarray) -> float:
    """KID between two feature sets (module docstring)."""
    return kid_from_kernels(_kernel(fake, fake), _kernel(real, real), _kernel(fake, real))


def kid_estimate(
    fake_b: torch.Tensor, real_b: torch.Tensor, fake_a: torch.Tensor, real_a: torch.Tensor
) -> tuple[S.Estimate, float, float]:
    """``KID(fake_a, real_a) - KID(fake_b, real_b)`` with its bootstrap interval, and the two
    KIDs (A -> B, B -> A). ``fake_b[i]`` is the translation of ``real_a[i]`` and ``fake_a[j]``
    that of ``real_b[j]`` (the validation images of each domain, in order)."""
    if len(fake_b) != len(real_a) or len(fake_a) != len(real_b):
        raise ValueError("each generated set must hold the translations of the other real set")
    f = [features(x) for x in (fake_b, real_b, fake_a, real_a)]
    k_ab = (_kernel(f[0], f[0]), _kernel(f[1], f[1]), _kernel(f[0], f[1]))
    k_ba = (_kernel(f[2], f[2]), _kernel(f[3], f[3]), _kernel(f[2], f[3]))
    kid_ab, kid_ba = kid_from_kernels(*k_ab), kid_from_kernels(*k_ba)
    rng = np.random.default_rng(S.SEED)
    n_a, n_b = len(real_a), len(real_b)
    diffs = np.empty(S.RESAMPLES)
    for t in range(S.RESAMPLES):
        c_a = np.bincount(rng.integers(0, n_a, n_a), minlength=n_a).astype(np.float64)
        c_b = np.bincount(rng.integers(0, n_b, n_b), minlength=n_b).astype(np.float64)
        ab = kid_of_counts(*k_ab, c_a, c_b)  # fake_b comes from A's sources, real_b is B's
        ba = kid_of_counts(*k_ba, c_b, c_a)
        diffs[t] = ba - ab
    alpha = (1 - S.LEVEL) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    return S.Estimate(kid_ba - kid_ab, float(low), float(high), min(n_a, n_b)), kid_ab, kid_ba
