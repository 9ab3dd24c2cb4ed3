"""``fid_ab_val`` / ``fid_ba_val`` history columns (``--fid-every N``, R5).

FID of each generator's outputs on the validation split against the real validation images of
its target domain. The real statistics are computed once per dataset (keyed by the data folder,
domain, image size and the exact file list) and cached in memory and on disk under
``$XDG_CACHE_HOME/cg/fid`` (default ``~/.cache/cg/fid``), so epochs after the first only pass
the generated images through the Inception network.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn


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
    split) against its real images; ``fid`` is a :class:`cg.eval.fid.score.FidEvaluator`,
    ``keys[domain]`` the cache key of that domain's real statistics (:func:`real_key`)."""
    from cg.runtime import autocast, eval_mode, to_device

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
