"""``fid_ab_val`` / ``fid_ba_val`` history columns (``--fid-every N``, R5).

FID of each generator's outputs on the validation split against the real validation images of
its target domain. The real statistics are computed once per dataset (keyed by the data folder,
domain, image size and the exact file list) and cached in memory and on disk under
``$XDG_CACHE_HOME/cg/fid`` (default ``~/.cache/cg/fid``), so epochs after the first only pass
the generated images through the Inception network.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from cg.errors import UserError
from cg.eval.fid.inception import InceptionFeatures, load_fid_network
from cg.eval.fid.score import FeatureStats, fid_against
from cg.eval.fid.weights import WeightsSource, find_fid_weights
from cg.files import atomic_write_bytes
from cg.images import to_uint8
from cg.runtime import autocast, eval_mode, resolve_device, to_device


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cg" / "fid"


def real_key(data: str | Path, domain: str, image_size: int, files: list[str]) -> str:
    """The cache key of a domain's real validation statistics: folder, domain, size, files."""
    digest = hashlib.sha256("\n".join(files).encode()).hexdigest()[:16]
    return f"{Path(data).resolve()}|val|{domain}|{image_size}px|{len(files)}|{digest}"


def fid_columns(
    fid: Any,
    batches: Iterable[dict[str, torch.Tensor]],
    *,
    g_ab: nn.Module,
    g_ba: nn.Module | None,
    device: torch.device,
    precision: str = "fp32",
    channels_last: bool = False,
    keys: Mapping[str, str],
) -> dict[str, float]:
    """``fid_ab_val`` / ``fid_ba_val`` of the generators' outputs on ``batches`` (the validation
    split) against its real images; ``fid`` is a :class:`FidEvaluator`,
    ``keys[domain]`` the cache key of that domain's real statistics (:func:`real_key`)."""
    reals: dict[str, list[torch.Tensor]] = {"a": [], "b": []}
    fakes: dict[str, list[torch.Tensor]] = {"a": [], "b": []}
    present = [g for g in (g_ab, g_ba) if g is not None]
    with eval_mode(*present), torch.inference_mode():
        for batch in batches:
            for src, dst, g in (("a", "b", g_ab), ("b", "a", g_ba)):
                if dst in batch:
                    reals[dst].append(batch[dst])
                if g is not None and src in batch:
                    with autocast(device, precision):
                        fake = g(to_device(batch[src], device, channels_last))
                    fakes[dst].append(fake.float().cpu())
    out: dict[str, float] = {}
    for direction, dst in (("ab", "b"), ("ba", "a")):
        if fakes[dst] and reals[dst]:
            stats = fid.real_statistics(keys[dst], reals[dst])
            out[f"fid_{direction}_val"] = fid.fid(stats, fakes[dst])
    return out


class FidEvaluator:
    """FID of generated images against real sets whose statistics are computed once, under
    the legacy protocol (the ``fid_*_val`` history columns).

    The network is loaded once; ``channels_last`` runs it in that memory layout, rebuilt for
    inference on the CPU (:meth:`InceptionFeatures.use_channels_last`; the features then differ
    from the graph's by float rounding, about 1e-6 of their norm; docs/benchmarks.md has its
    speed). Real statistics are cached in memory and, with
    ``cache_dir``, on disk as ``fid-<key>-<hash>.pt`` (atomic write) keyed by ``key`` and the
    weights' SHA-256;
    ``key`` must name the real image set exactly (dataset, split, domain, image size), as the
    cache is reused whenever the key and the weights match.
    """

    def __init__(
        self,
        device: str | torch.device,
        weights: str | Path | None = None,
        cache_dir: Path | None = None,
        batch_size: int = 32,
        channels_last: bool = False,
    ):
        self.device = resolve_device(device)
        self.source: WeightsSource = find_fid_weights(weights)
        self.extractor = InceptionFeatures(load_fid_network(self.source)).to(self.device)
        if channels_last:
            self.extractor.use_channels_last()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.batch_size = batch_size
        self._stats: dict[str, FeatureStats] = {}

    def features(self, images: Iterable[Tensor]) -> Iterator[Tensor]:
        """Inception pool features of batches of images ([-1, 1] floats or uint8)."""
        for batch in images:
            if batch.dtype != torch.uint8:
                batch = to_uint8(batch)
            for chunk in batch.split(self.batch_size):
                with torch.inference_mode():
                    features = self.extractor(chunk.to(self.device))
                yield features.clone()

    def _cache_path(self, key: str) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(f"{key}\0{self.source.sha256}".encode()).hexdigest()[:16]
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", key)[:60]
        return self.cache_dir / f"fid-{slug}-{digest}.pt"

    def _read_cache(self, path: Path, key: str) -> FeatureStats | None:
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
            if d.get("key") != key or d.get("weights_sha256") != self.source.sha256:
                return None
            return FeatureStats(
                int(d["n"]), d["features_sum"], d["features_cov_sum"], d.get("features")
            )
        except Exception:  # noqa: BLE001 - an unreadable cache is recomputed and overwritten
            return None

    def real_statistics(self, key: str, images: Iterable[Tensor]) -> FeatureStats:
        """Statistics of the real ``images``: batches (N, 3, H, W), float in [-1, 1] or uint8.

        Computed on the first call for ``key`` only; later calls (and later runs, with a
        ``cache_dir``) return the cached statistics without reading ``images``.
        """
        if key in self._stats:
            return self._stats[key]
        path = self._cache_path(key)
        stats = self._read_cache(path, key) if path is not None and path.is_file() else None
        if stats is None:
            stats = FeatureStats.of(self.features(images), self.device)
            if stats.n < 2:
                raise UserError(f"FID real set {key!r} has {stats.n} image(s); it needs at least 2")
            if path is not None:
                buf = io.BytesIO()
                torch.save(
                    {
                        "key": key,
                        "weights_sha256": self.source.sha256,
                        "n": stats.n,
                        "features_sum": stats.features_sum,
                        "features_cov_sum": stats.features_cov_sum,
                        "features": stats.features,
                    },
                    buf,
                )
                atomic_write_bytes(path, buf.getvalue())
        self._stats[key] = stats
        return stats

    def fid(self, stats: FeatureStats, fake_images: Iterable[Tensor]) -> float:
        """FID between the real set of ``stats`` and ``fake_images`` (as in real_statistics)."""
        fake = [f.cpu() for f in self.features(fake_images)]
        n = sum(len(f) for f in fake)
        if n < 2:
            raise UserError(f"FID needs at least 2 generated images, got {n}")
        return fid_against(stats, torch.cat(fake))
