"""Data-parallel training over processes: ``torchrun --nproc_per_node N -m cg train ...``.

torchrun (or any launcher setting ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``) starts one process per device; :func:`setup` joins them into a process group
(NCCL on GPUs, each process on ``cuda:LOCAL_RANK``; gloo on the CPU). Then:

- every rank builds the same models from the same seed; each generator and discriminator is
  wrapped in ``DistributedDataParallel``, which averages gradients over the ranks, so the
  weights stay identical on every rank;
- every rank reads the same epoch order and takes its contiguous share of each global batch
  (:class:`cg.data.cache.TrainBatches`): the global batch is the single-process batch;
- BatchNorm statistics are per rank unless ``sync_batchnorm`` (:mod:`cg.train.sync_batchnorm`);
- the epoch's training losses are averaged over all ranks (an all-reduce of sums and counts);
- rank 0 alone reads and writes the run folder (checkpoints, history, samples) and computes the
  validation metrics; the others wait at a barrier and receive what they need by broadcast.

Without those variables (``WORLD_SIZE`` unset or 1) everything here is a no-op.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from cg.errors import UserError
from cg.runtime import resolve_device

T = TypeVar("T")

# Rank 0 evaluates and saves while the others wait at a barrier: allow long evaluations.
TIMEOUT = timedelta(hours=2)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = DistInfo()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise UserError(f"environment variable {name}={value!r} is not an integer") from None


def from_env() -> DistInfo:
    """The rank, world size and local rank torchrun set (a single process without them)."""
    return DistInfo(_env_int("RANK", 0), _env_int("WORLD_SIZE", 1), _env_int("LOCAL_RANK", 0))


def init() -> DistInfo:
    """Join the process group torchrun describes (once); a single process without it.

    The group runs gloo for CPU tensors and, when there are GPUs, NCCL for CUDA tensors, so
    object broadcasts and barriers stay on the CPU whatever device trains.
    """
    info = from_env()
    if info.enabled and not dist.is_initialized():
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend, timeout=TIMEOUT)
    return info


def device_for(name: str, info: DistInfo) -> torch.device:
    """This rank's device: ``cuda:LOCAL_RANK`` for cuda (or auto with GPUs), else the CPU."""
    if not info.enabled:
        return resolve_device(name)
    if not (name.startswith("cuda") or (name == "auto" and torch.cuda.is_available())):
        return resolve_device("cpu")
    resolve_device("cuda")  # a UserError without GPUs
    if info.local_rank >= torch.cuda.device_count():
        raise UserError(
            f"LOCAL_RANK={info.local_rank} but this node has only "
            f"{torch.cuda.device_count()} GPU(s); lower --nproc_per_node"
        )
    dev = torch.device("cuda", info.local_rank)
    torch.cuda.set_device(dev)
    return dev


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def on_main(fn: Callable[[], T], info: DistInfo) -> T:
    """``fn()`` on rank 0, its result broadcast to every rank; a :class:`UserError` it raises
    is raised on every rank (so no rank waits forever for one that gave up)."""
    if not info.enabled:
        return fn()
    box: list[Any] = [None]
    if info.is_main:
        try:
            box[0] = ("ok", fn())
        except UserError as e:
            box[0] = ("error", str(e))
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        raise UserError(value)
    return value


def gather_to_main(obj: T, info: DistInfo) -> list[T] | None:
    """Every rank's ``obj``, in rank order, on rank 0 (None elsewhere)."""
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size if info.is_main else []
    dist.gather_object(obj, out if info.is_main else None, dst=0)
    return out if info.is_main else None


def all_reduce_sums(sums: dict[str, torch.Tensor], info: DistInfo) -> dict[str, torch.Tensor]:
    """``sums`` summed over all ranks (one all-reduce of the stacked values, in float64)."""
    if not info.enabled or not sums:
        return sums
    keys = sorted(sums)
    stacked = torch.stack([sums[k].detach().double().reshape(()) for k in keys])
    dist.all_reduce(stacked)
    return dict(zip(keys, stacked.unbind()))


def check_batch(batch_size: int, info: DistInfo) -> None:
    if info.enabled and batch_size % info.world_size:
        raise UserError(
            f"batch_size={batch_size} is not divisible by the {info.world_size} processes; the "
            "global batch is split equally, so choose a multiple (or another --nproc_per_node)"
        )


def wrap(
    module: nn.Module, device: torch.device, info: DistInfo, *, broadcast_buffers: bool
) -> nn.Module:
    """``module`` in ``DistributedDataParallel`` when there are several ranks."""
    if not info.enabled:
        return module
    ids = [device.index] if device.type == "cuda" else None
    ddp = nn.parallel.DistributedDataParallel
    # Newer torch renamed the runtime buffer broadcast; either way it starts from rank 0's.
    renamed = "forward_sync_buffers" in inspect.signature(ddp.__init__).parameters
    sync = {"forward_sync_buffers" if renamed else "broadcast_buffers": broadcast_buffers}
    return ddp(module, device_ids=ids, **sync)
