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


def features(images: torch.Tensor, bf16: bool = False) -> np.ndarray:
    """Inception pool features of images in [-1, 1], (N, 2048) float64 (the network of
    :class:`cg.eval.fid.columns.FidEvaluator`, loaded once, channels-last and rebuilt for
    inference); ``bf16``: under bf16 autocast (the features then differ by about 2% of their
    norm; docs/benchmarks.md). The features of the last :data:`REMEMBERED` image sets are kept
    by content: real validation images that every seed of a block shares (a real dataset's;
    the built-in data is drawn anew for each seed) pass through the network once."""

    global _EVALUATOR
    x = images.detach().cpu().contiguous()
    digest = hashlib.sha256(x.numpy().tobytes()).hexdigest()
    key = (tuple(x.shape), str(x.dtype), digest, bf16)
    if key in _REMEMBERED:
        _REMEMBERED.move_to_end(key)
        return _REMEMBERED[key]
    if _EVALUATOR is None:
        _EVALUATOR = FidEvaluator("cpu", channels_last=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
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


def _quadratic(c: np.ndarray, k: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``c @ k @ d`` for each row of the count arrays ``c`` and ``d`` (their last axis)."""
    return np.sum((c @ k) * d, axis=-1)


def _off_diagonal(k: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The mean of ``k`` over pairs of different sources, source ``i`` drawn ``c[..., i]``
    times (one mean per row of ``c``)."""
    pairs = c.sum(-1) ** 2 - np.sum(c * c, axis=-1)
    return (_quadratic(c, k, c) - (c * c) @ np.diag(k)) / pairs


def kid_of_counts(
    kff: np.ndarray, krr: np.ndarray, kfr: np.ndarray, cf: np.ndarray, cr: np.ndarray
) -> float | np.ndarray:
    """KID of a resample: generated image ``i`` drawn ``cf[i]`` times, real image ``j``
    ``cr[j]`` times (all ones: the sets themselves, :func:`kid_from_kernels`). Rows of 2-d
    counts are resamples, one KID each."""
    cross = _quadratic(cf, kfr, cr) / (cf.sum(-1) * cr.sum(-1))
    out = _off_diagonal(kff, cf) + _off_diagonal(krr, cr) - 2 * cross
    return float(out) if np.ndim(out) == 0 else out


def kid_from_kernels(kff: np.ndarray, krr: np.ndarray, kfr: np.ndarray) -> float:
    """KID of the sets whose kernel matrices these are, each image once."""
    return kid_of_counts(kff, krr, kfr, np.ones(len(kff)), np.ones(len(krr)))


def kid(fake: np.ndarray, real: np.ndarray) -> float:
    """KID between two feature sets (module docstring)."""
    return kid_from_kernels(_kernel(fake, fake), _kernel(real, real), _kernel(fake, real))


def kid_estimate(
    fake_b: torch.Tensor,
    real_b: torch.Tensor,
    fake_a: torch.Tensor,
    real_a: torch.Tensor,
    bf16: bool = False,
) -> tuple[S.Estimate, dict[str, float]]:
    """``(KID(fake_a, real_a) - KID(fake_b, real_b)) / KID(real_a, real_b)`` with its bootstrap
    interval, and the KIDs it is made of (``ab``: A -> B, ``ba``: B -> A, ``copy``: the
    untranslated inputs against the same targets). ``fake_b[i]`` is the translation of
    ``real_a[i]`` and ``fake_a[j]`` that of ``real_b[j]`` (the validation images of each
    domain, in order). ``bf16``: every set's features under bf16 autocast (:func:`features`).

    Each direction's KID over the KID of copying its input puts both directions on one scale:
    the share of the domain gap a direction leaves (a KID read on one domain's Inception
    features is not comparable with one read on the other's: the same blur reads differently
    on each). KID is symmetric, so both directions share the one copy KID."""
    if len(fake_b) != len(real_a) or len(fake_a) != len(real_b):
        raise ValueError("each generated set must hold the translations of the other real set")
    f_fb, f_rb, f_fa, f_ra = (features(x, bf16) for x in (fake_b, real_b, fake_a, real_a))
    k_rr_a, k_rr_b = _kernel(f_ra, f_ra), _kernel(f_rb, f_rb)
    k_ab = (_kernel(f_fb, f_fb), k_rr_b, _kernel(f_fb, f_rb))
    k_ba = (_kernel(f_fa, f_fa), k_rr_a, _kernel(f_fa, f_ra))
    k_copy = (k_rr_a, k_rr_b, _kernel(f_ra, f_rb))
    kids = {
        "ab": kid_from_kernels(*k_ab),
        "ba": kid_from_kernels(*k_ba),
        "copy": kid_from_kernels(*k_copy),
    }
    rng = np.random.default_rng(S.SEED)
    n_a, n_b = len(real_a), len(real_b)
    # a resample of each domain's sources: counts per source, one row per resample
    c_a = np.stack(
        [np.bincount(row, minlength=n_a) for row in rng.integers(0, n_a, (S.RESAMPLES, n_a))]
    )
    c_b = np.stack(
        [np.bincount(row, minlength=n_b) for row in rng.integers(0, n_b, (S.RESAMPLES, n_b))]
    )
    c_a, c_b = c_a.astype(np.float64), c_b.astype(np.float64)
    ab = kid_of_counts(*k_ab, c_a, c_b)  # fake_b comes from A's sources, real_b is B's
    ba = kid_of_counts(*k_ba, c_b, c_a)
    copy = kid_of_counts(*k_copy, c_a, c_b)
    alpha = (1 - S.LEVEL) / 2
    low, high = np.quantile((ba - ab) / copy, [alpha, 1 - alpha])
    value = (kids["ba"] - kids["ab"]) / kids["copy"]
    return S.Estimate(value, float(low), float(high), min(n_a, n_b)), kids
