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
from pathlib import Path
from typing import Any

import torch


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cg" / "fid"


def _real_key(pipeline: Any, domain: str) -> str:
    files: list[str] = []
    for ds in pipeline.evaluation["val"]:
        inner = getattr(ds, "ds", ds)
        if getattr(ds, "key", domain) == domain:  # unpaired: one dataset per domain
            files.extend(str(f) for f in getattr(inner, "files", []))
    digest = hashlib.sha256("\n".join(files).encode()).hexdigest()[:16]
    cfg = pipeline.cfg
    return f"{Path(cfg.data).resolve()}|val|{domain}|{cfg.image_size}px|{len(files)}|{digest}"


def fid_columns(session: Any, pipeline: Any) -> dict[str, float]:
    """Compute the FID columns for the current weights of ``session``'s generators."""
    from cg.fid import FidEvaluator
    from cg.runtime import eval_mode

    if session.fid is None:
        session.fid = FidEvaluator(session.device, cache_dir=cache_dir())
    fid: FidEvaluator = session.fid
    m = session.models
    reals: dict[str, list[torch.Tensor]] = {"a": [], "b": []}
    fakes: dict[str, list[torch.Tensor]] = {"a": [], "b": []}
    with eval_mode(*(mod for _, mod in m.items())), torch.inference_mode():
        for batch in pipeline.eval_batches("val"):
            for src, dst, g in (("a", "b", m.g_ab), ("b", "a", m.g_ba)):
                if dst in batch:
                    reals[dst].append(batch[dst])
                if g is not None and src in batch:
                    fakes[dst].append(session._run(g, session.prepare(batch[src])).float().cpu())
    out: dict[str, float] = {}
    for direction, dst in (("ab", "b"), ("ba", "a")):
        if fakes[dst] and reals[dst]:
            stats = fid.real_statistics(_real_key(pipeline, dst), reals[dst])
            out[f"fid_{direction}_val"] = fid.fid(stats, fakes[dst])
    return out
