"""From a dataset folder and a config to batches: file checks, datasets, per-epoch loaders.

Each epoch's order is a pure function of the epoch's seed: a permutation drawn from a
``torch.Generator`` seeded with it (unpaired domains of different sizes: the smaller domain's
permutations are concatenated until both have as many entries as the larger, as the reference
CycleGAN draws one B per A).

Training batches come from :class:`cg.data.cache.TrainBatches` (whole batches at once, from
decoded images held in memory when they fit in ``cache_gib``); each example's crop and flip are
drawn from a seed of its own, ``item_seed(epoch seed, position)``, so they do not depend on the
number of workers or ranks.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from cg.config import TrainConfig, validate
from cg.data.cache import GIB, TrainBatches, TrainSource, cache_source, hold_evaluation
from cg.data.datasets import DomainDataset, PairedDataset
from cg.data.formats import DatasetFiles, check_images, scan_dataset
from cg.errors import UserError
from cg.runtime import default_channels_last, resolve_device

#: The smallest batch the evaluation runs in (the training batch when that is larger): with
#: batch 4 the evaluation of 320 images at 64 px took 0.9 s, with 32 0.5 s, same values.
EVAL_BATCH = 32


def _cycled_permutation(n: int, length: int, g: torch.Generator) -> torch.Tensor:
    parts, total = [], 0
    while total < length:
        parts.append(torch.randperm(n, generator=g))
        total += n
    return torch.cat(parts)[:length]


class _Single(Dataset):
    """One domain's images as ``{key: image}`` items (for evaluation of unpaired data)."""

    def __init__(self, ds: Dataset, key: str) -> None:
        self.ds, self.key = ds, key

    def __len__(self) -> int:
        return len(self.ds)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {self.key: self.ds[i]}


@dataclass
class Pipeline:
    """Datasets of a run. ``pairs`` is set for paired training, ``domain_a/b`` for unpaired;
    ``evaluation[split]`` lists the (deterministic) datasets a split's metrics iterate."""

    cfg: TrainConfig
    pairs: Dataset | None
    domain_a: Dataset | None
    domain_b: Dataset | None
    evaluation: dict[str, list[Dataset]]
    data_paired: bool  # the files are A|B pairs (pixel errors can be measured)
    rank: int = 0
    world_size: int = 1
    source: TrainSource | None = None  # the training datasets, decoded in memory if they fit

    @property
    def cached(self) -> bool:
        return self.source is not None and self.source.cached

    def epoch_order(self, seed: int) -> tuple[list[int], list[int]]:
        """The indices of the A and B training items of the epoch seeded ``seed``, in order."""
        g = torch.Generator().manual_seed(seed)
        if self.pairs is not None:
            idx = torch.randperm(len(self.pairs), generator=g).tolist()  # type: ignore[arg-type]
            return idx, idx
        na, nb = len(self.domain_a), len(self.domain_b)  # type: ignore[arg-type]
        length = max(na, nb)
        idx_a = _cycled_permutation(na, length, g)
        idx_b = _cycled_permutation(nb, length, g)
        return idx_a.tolist(), idx_b.tolist()

    def train_loader(self, epoch: int, seed: int) -> DataLoader:
        """Epoch ``epoch``'s batches in order; under data parallelism, this rank's share of each
        (every rank sees the same global order, so the global batch is the 1-process batch)."""
        idx_a, idx_b = self.epoch_order(seed)
        source = self.source or TrainSource(self.pairs, self.domain_a, self.domain_b)  # type: ignore[arg-type]
        batches = TrainBatches(
            source,
            idx_a,
            idx_b,
            seed=seed,
            batch_size=self.cfg.batch_size,
            rank=self.rank,
            world_size=self.world_size,
        )
        return DataLoader(
            batches,
            batch_size=None,
            shuffle=False,
            num_workers=self.cfg.num_workers,
            generator=torch.Generator().manual_seed(seed),
            pin_memory=torch.cuda.is_available() and self.cfg.device != "cpu",
        )

    def eval_batches(
        self, split: str, batch_size: int | None = None, first: int = 0
    ) -> Iterator[dict]:
        """``split``'s evaluation images in order, in batches of ``batch_size`` (default: at
        least :data:`EVAL_BATCH`; in eval mode an image's output does not depend on its batch,
        and on a CPU small batches cost more per image); ``first``: only the first so many
        of each domain (0: all)."""
        bs = batch_size or max(self.cfg.batch_size, EVAL_BATCH)
        for ds in self.evaluation[split]:
            if first:
                ds = Subset(ds, range(min(first, len(ds))))  # type: ignore[arg-type]
            yield from DataLoader(ds, batch_size=bs, shuffle=False, num_workers=0)

    def val_files(self, domain: str) -> list[str]:
        """The validation files that domain ``domain``'s images come from."""
        files: list[str] = []
        for ds in self.evaluation["val"]:
            ds = getattr(ds, "source", ds)  # HeldItems: the dataset it holds the items of
            if getattr(ds, "key", domain) == domain:  # unpaired: one dataset per domain
                files.extend(str(f) for f in getattr(getattr(ds, "ds", ds), "files", []))
        return files

    def samples(self, split: str, n: int) -> dict[str, torch.Tensor]:
        """The first ``n`` evaluation images of ``split`` per domain: ``{"a": (n,3,S,S), ...}``."""
        out: dict[str, list[torch.Tensor]] = {}
        for ds in self.evaluation[split]:
            for i in range(min(n, len(ds))):  # type: ignore[arg-type]
                for k, v in ds[i].items():
                    if len(out.setdefault(k, [])) < n:
                        out[k].append(v)
        return {k: torch.stack(v) for k, v in out.items()}


def _checked(files: list[Path], bad: dict[Path, str], what: str) -> list[Path]:
    kept = [f for f in files if f not in bad]
    if not kept:
        raise UserError(f"no readable images left in the {what} split after skipping bad files")
    return kept


def resolve_config(cfg: TrainConfig, files: DatasetFiles) -> TrainConfig:
    """``cfg`` for the data ``files``: ``paired`` filled in from their format when it was left
    to the data (None), ``channels_last`` from the device and the networks when left to cg
    (None, :func:`cg.runtime.default_channels_last`), then validated (once). Settings that
    cannot apply to the data are
    errors, never silently changed: paired training or the paired identity loss on unpaired
    folders."""
    pairs_on_disk = files.format == "pix2pix"
    if cfg.paired and not pairs_on_disk:
        raise UserError(
            f"--paired needs A|B pair files (pix2pix format) but {cfg.data} is in the unpaired "
            "format (trainA/, trainB/); train it with --unpaired"
        )
    if cfg.paired is None and not pairs_on_disk and cfg.identity == "paired":
        raise UserError(
            f"identity='paired' (the re-thought identity loss |G_AB(A)-B|, the default) needs "
            f"A|B pairs, but {cfg.data} is in the unpaired format (trainA/, trainB/); train it "
            "with --identity classic (CycleGAN's |G_AB(B)-B|) or --identity none"
        )
    paired = pairs_on_disk if cfg.paired is None else cfg.paired
    layout = cfg.channels_last
    if layout is None:
        layout = default_channels_last(resolve_device(cfg.device), cfg.norm, cfg.batch_size)
    return validate(dataclasses.replace(cfg, paired=paired, channels_last=layout))


def build_pipeline(
    cfg: TrainConfig, files: DatasetFiles | None = None, *, skip_bad: bool = False
) -> Pipeline:
    """Check the images of ``files`` (the scan of ``cfg.data``), then build the run's datasets.

    With ``files``, ``cfg`` must already be resolved against them (:func:`resolve_config`), as
    :func:`cg.train.loop.train` does; without, the data is scanned and ``cfg`` resolved here.
    """
    if files is None:
        files = scan_dataset(cfg.data)
        cfg = resolve_config(cfg, files)

    pairs_on_disk = files.format == "pix2pix"
    every = sorted(set(files.train_a) | set(files.train_b) | set(files.val_a) | set(files.val_b))
    bad = dict(check_images(every, pairs=pairs_on_disk))
    if bad and not skip_bad:
        shown = "; ".join(f"{p}: {why}" for p, why in list(bad.items())[:10])
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        raise UserError(
            f"{len(bad)} unreadable image(s) in {cfg.data}: {shown}{more}. Fix or remove them, "
            "or pass --skip-bad to train without them"
        )
    if bad:
        sys.stderr.write(f"warning: skipping {len(bad)} unreadable image(s) in {cfg.data}\n")
    split = {
        name: _checked(getattr(files, name), bad, name)
        for name in ("train_a", "train_b", "val_a", "val_b")
    }
    files = dataclasses.replace(files, **split)
    if cfg.max_train_images:
        files = dataclasses.replace(
            files,
            train_a=files.train_a[: cfg.max_train_images],
            train_b=files.train_b[: cfg.max_train_images],
        )
    if cfg.max_val_images:
        files = dataclasses.replace(
            files, val_a=files.val_a[: cfg.max_val_images], val_b=files.val_b[: cfg.max_val_images]
        )
    size = cfg.image_size
    pairs = domain_a = domain_b = None
    if cfg.paired:
        pairs = PairedDataset(
            files.train_a, size, crop_scale=min(cfg.crop_scale_a, cfg.crop_scale_b), flip=cfg.flip
        )
    else:
        half_a, half_b = ("a", "b") if pairs_on_disk else (None, None)
        domain_a = DomainDataset(
            files.train_a, size, half=half_a, crop_scale=cfg.crop_scale_a, flip=cfg.flip
        )
        domain_b = DomainDataset(
            files.train_b, size, half=half_b, crop_scale=cfg.crop_scale_b, flip=cfg.flip
        )
    k = cfg.feedback_subset or cfg.sample_count
    evaluation: dict[str, list[Dataset]] = {}
    v = cfg.val_subset or None
    for split_name, fa, fb in (
        ("val", files.val_a[:v], files.val_b[:v]),
        ("train", files.train_a[:k], files.train_b[:k]),
    ):
        if pairs_on_disk:
            evaluation[split_name] = [PairedDataset(fa, size)]
        else:
            evaluation[split_name] = [
                _Single(DomainDataset(fa, size), "a"),
                _Single(DomainDataset(fb, size), "b"),
            ]
    source = TrainSource(pairs, domain_a, domain_b)  # type: ignore[arg-type]
    if cfg.cache_gib > 0:
        threads, budget = os.cpu_count() or 1, int(cfg.cache_gib * GIB)
        source = cache_source(source, budget, threads=threads)
        # scored unchanged every epoch: held in what the training images leave
        evaluation = hold_evaluation(evaluation, budget - source.cached_bytes, threads)
    return Pipeline(cfg, pairs, domain_a, domain_b, evaluation, pairs_on_disk, source=source)
