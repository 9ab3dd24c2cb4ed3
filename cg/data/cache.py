"""Decoded training images kept in memory, and training batches built at once.

Decoding a JPEG or PNG costs far more than cropping, resizing and flipping the decoded
``uint8`` image, and a dataset is decoded again every epoch. :func:`decode_all` decodes every
training image once (a thread per core: PIL releases the GIL while decoding) when the decoded
images fit in a budget (``TrainConfig.cache_gib``); a dataset that does not fit is read from disk
as before. The evaluation images (validation, and the fixed training subset), which every epoch
scores unchanged, are likewise held as :class:`HeldItems` by :func:`hold_items` in what the
budget leaves.

:class:`TrainBatches` is one epoch's training data as a sequence of batches: item ``k`` is
batch ``k`` (or, under data parallelism, this rank's share of it), built at once by
:func:`augment_batch`, which resizes a whole batch in one call when every crop box is the whole
image (``crop_scale == 1``, the paired presets) and otherwise crops item by item.

Randomness: the crop and flip of the example at position ``i`` of an epoch whose seed is ``s``
are drawn from torch's CPU generator reseeded with :func:`item_seed` ``(s, i)`` (the global
state is restored afterwards). So an epoch's batches are a function of ``(s, i)`` alone: the
same with 0 or N DataLoader workers, on every rank of a distributed run (each rank builds its
share of the very batch a single process builds), and untouched by the training step's own use
of the RNG (dropout, the image pool).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as TF

from cg.data.datasets import (
    CropFlip,
    DomainDataset,
    PairedDataset,
    apply_augment,
    sample_augment,
    split_pair,
    to_float,
)

GIB = 1024**3
T = TypeVar("T", Tensor, dict[str, Tensor])
_GOLDEN = 0x9E3779B97F4A7C15  # odd 64-bit constant spreading positions over seed space


def item_seed(epoch_seed: int, position: int) -> int:
    """The seed of the example at ``position`` (0-based) of an epoch seeded ``epoch_seed``."""
    return (epoch_seed + _GOLDEN * (position + 1)) % 2**63


def nbytes(item: Tensor | Mapping[str, Tensor]) -> int:
    """The bytes of an image, or of a ``{key: image}`` item."""
    if isinstance(item, Tensor):
        return item.nbytes
    return sum(t.nbytes for t in item.values())


def decode_all(
    decode: Callable[[int], T], n: int, budget_bytes: int, *, threads: int = 2, probe: int = 8
) -> list[T] | None:
    """``[decode(0), ..., decode(n - 1)]`` if they fit in ``budget_bytes``, else None.

    The first ``probe`` images estimate the total, so a dataset far too big is never decoded.
    """
    if budget_bytes <= 0 or n == 0:
        return None
    first = [decode(i) for i in range(min(n, probe))]
    if sum(map(nbytes, first)) / len(first) * n > budget_bytes:
        return None
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        images = first + list(pool.map(decode, range(len(first), n)))
    return images if sum(map(nbytes, images)) <= budget_bytes else None


def _full_box(p: CropFlip, img: Tensor) -> bool:
    return (p.top, p.left, p.height, p.width) == (0, 0, img.shape[-2], img.shape[-1])


def augment_batch(images: Sequence[Tensor], params: Sequence[CropFlip], size: int) -> Tensor:
    """``torch.stack([apply_augment(img, p, size) ...])``, computed at once when it can be.

    When every box is its whole image and all images share a shape (no random crop), the batch
    is resized in one call and the flipped items are mirrored together; the result is the same,
    value for value, as item by item.
    """
    shapes = {tuple(img.shape) for img in images}
    if len(shapes) == 1 and all(_full_box(p, img) for p, img in zip(params, images)):
        batch = torch.stack(list(images))
        if batch.shape[-2:] != (size, size):
            batch = TF.resize(batch, [size, size], antialias=True)
        flips = [i for i, p in enumerate(params) if p.flip]
        if flips:
            batch[flips] = batch[flips].flip(-1)
        return to_float(batch)
    return torch.stack([apply_augment(img, p, size) for img, p in zip(images, params)])


@dataclass
class TrainSource:
    """The training datasets and their decoded images (``None``: read from disk).

    Paired training sets ``pairs``; unpaired sets ``domain_a`` and ``domain_b``.
    """

    pairs: PairedDataset | None = None
    domain_a: DomainDataset | None = None
    domain_b: DomainDataset | None = None
    cache: dict[str, list[Tensor] | None] | None = None

    def image(self, key: str, i: int) -> Tensor:
        cached = (self.cache or {}).get(key)
        if cached is not None:
            return cached[i]
        ds = {"pairs": self.pairs, "a": self.domain_a, "b": self.domain_b}[key]
        assert ds is not None
        return ds.decode(i)

    @property
    def cached(self) -> bool:
        return bool(self.cache) and all(v is not None for v in self.cache.values())

    @property
    def cached_bytes(self) -> int:
        """The bytes of the decoded images held in memory."""
        return sum(t.nbytes for images in (self.cache or {}).values() for t in images or [])


def cache_source(source: TrainSource, budget_bytes: int, threads: int = 2) -> TrainSource:
    """``source`` with every dataset decoded into memory, if all of them fit in the budget."""
    datasets = {"pairs": source.pairs, "a": source.domain_a, "b": source.domain_b}
    cache: dict[str, list[Tensor] | None] = {}
    left = budget_bytes
    for key, ds in datasets.items():
        if ds is None:
            continue
        images = decode_all(ds.decode, len(ds), left, threads=threads)
        if images is None:
            return TrainSource(source.pairs, source.domain_a, source.domain_b, None)
        cache[key] = images
        left -= sum(t.nbytes for t in images)
    return TrainSource(source.pairs, source.domain_a, source.domain_b, cache)


class HeldItems(Dataset):
    """The items of a deterministic dataset, computed once and held in memory."""

    def __init__(self, items: list[dict[str, Tensor]], source: Dataset) -> None:
        self.items, self.source = items, source

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return self.items[i]


def hold_items(ds: Dataset, budget_bytes: int, threads: int = 2) -> Dataset:
    """``ds`` (whose items never change: no augmentation) as :class:`HeldItems` if its items
    fit in the budget, else ``ds`` itself, read from disk each time."""
    items = decode_all(ds.__getitem__, len(ds), budget_bytes, threads=threads)  # type: ignore[arg-type]
    return ds if items is None else HeldItems(items, ds)


def hold_evaluation(
    evaluation: dict[str, list[Dataset]], budget_bytes: int, threads: int = 2
) -> dict[str, list[Dataset]]:
    """Each split's evaluation datasets through :func:`hold_items`, in order, each in what the
    ones before it left of the budget."""
    held: dict[str, list[Dataset]] = {}
    for split, datasets in evaluation.items():
        held[split] = []
        for ds in datasets:
            ds = hold_items(ds, budget_bytes, threads)
            if isinstance(ds, HeldItems):
                budget_bytes -= sum(map(nbytes, ds.items))
            held[split].append(ds)
    return held


def share(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """Rank ``rank``'s contiguous share ``[lo, hi)`` of ``n`` items split ``world_size`` ways."""
    return n * rank // world_size, n * (rank + 1) // world_size


class TrainBatches(Dataset):
    """One epoch's batches for one rank: item ``k`` is ``{"a": (n,3,S,S), "b": (n,3,S,S)}``.

    Position ``i`` of the epoch holds example ``idx_a[i]`` (and ``idx_b[i]`` for unpaired data).
    Global batch ``k`` holds positions ``[kB, kB + n_k)``; rank ``r`` of ``W`` takes the ``r``-th
    of ``W`` equal contiguous shares, so the ranks' shares together are the single-process
    batch. With ``W > 1`` a last batch of fewer than ``W`` examples is left out.
    """

    def __init__(
        self,
        source: TrainSource,
        idx_a: Sequence[int],
        idx_b: Sequence[int],
        *,
        seed: int,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.source, self.idx_a, self.idx_b = source, list(idx_a), list(idx_b)
        self.seed, self.batch_size = seed, batch_size
        self.rank, self.world_size = rank, world_size
        full, rest = divmod(len(self.idx_a), batch_size)
        self.length = full + (1 if rest >= world_size else 0)

    def __len__(self) -> int:
        return self.length

    def positions(self, k: int) -> range:
        start = k * self.batch_size
        lo, hi = share(min(self.batch_size, len(self.idx_a) - start), self.rank, self.world_size)
        return range(start + lo, start + hi)

    def __getitem__(self, k: int) -> dict[str, Tensor]:
        if not 0 <= k < self.length:
            raise IndexError(k)
        src = self.source
        with torch.random.fork_rng(devices=[]):
            if src.pairs is not None:
                return self._pairs(src.pairs, self.positions(k))
            return self._unpaired(self.positions(k))

    def _pairs(self, ds: PairedDataset, positions: range) -> dict[str, Tensor]:
        halves, params = [], []
        for i in positions:
            a, b = split_pair(self.source.image("pairs", self.idx_a[i]))
            torch.random.default_generator.manual_seed(item_seed(self.seed, i))
            params.append(sample_augment(a.shape[-2], a.shape[-1], ds.crop_scale, ds.flip))
            halves.append((a, b))
        size = ds.image_size
        return {
            "a": augment_batch([h[0] for h in halves], params, size),
            "b": augment_batch([h[1] for h in halves], params, size),
        }

    def _unpaired(self, positions: range) -> dict[str, Tensor]:
        da, db = self.source.domain_a, self.source.domain_b
        assert da is not None and db is not None
        out: dict[str, tuple[list[Tensor], list[CropFlip]]] = {"a": ([], []), "b": ([], [])}
        for i in positions:
            torch.random.default_generator.manual_seed(item_seed(self.seed, i))
            for key, ds, idx in (("a", da, self.idx_a[i]), ("b", db, self.idx_b[i])):
                img = self.source.image(key, idx)
                out[key][0].append(img)
                out[key][1].append(
                    sample_augment(img.shape[-2], img.shape[-1], ds.crop_scale, ds.flip)
                )
        return {
            "a": augment_batch(*out["a"], da.image_size),
            "b": augment_batch(*out["b"], db.image_size),
        }
