"""``cg bench``'s stacking part: several seeds' generators stacked into one network, against
the same seeds as separate networks, in one process.

Stacking (``torch.func.stack_module_state`` and ``vmap`` over ``functional_call``: each
seed keeps its own weights, BatchNorm statistics, Adam state and batch) turns every
convolution into a grouped one. Whether that beats separate networks is a property of the
machine's convolution kernels, so it is measured, not assumed: this times the report's U-Net
generator step (forward, L1 loss, backward, Adam) at a grid shape for ``seeds`` seeds, both
ways, with the same thread count, in seed-steps per second. It is the generator's step alone
(no discriminator), which holds most of the CycleGAN step's convolutions.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch
from torch.func import functional_call, stack_module_state, vmap

from cg.bench.measure import median
from cg.models.unet import UNet

#: (image size, base channels, batch, seeds stacked) measured by default.
STACK_SHAPES = ((64, 8, 4, 4), (64, 8, 4, 8))


def _bench(step: Any, warmup: int, seconds: float) -> float:
    """Median seconds per call of ``step`` after ``warmup`` calls, over ``seconds``."""
    for _ in range(warmup):
        step()
    times: list[float] = []
    end = time.perf_counter() + seconds
    while len(times) < 3 or time.perf_counter() < end:
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return median(times)


def build(size: int, width: int, batch: int, seeds: int) -> tuple[Any, Any, list, dict]:
    """``(separate, stacked, nets, params)``: one generator step of every seed, as separate
    networks (``nets``) and as one stacked network (``params``, stacked from the same initial
    weights), each with its own Adam, on the same batches."""
    g = torch.Generator().manual_seed(0)
    nets = [UNet(3, 3, width).to(memory_format=torch.channels_last) for _ in range(seeds)]
    x = torch.rand(seeds, batch, 3, size, size, generator=g) * 2 - 1
    y = torch.rand(seeds, batch, 3, size, size, generator=g) * 2 - 1
    params, buffers = stack_module_state(nets)
    params = {k: v.detach().clone().requires_grad_() for k, v in params.items()}
    buffers = {k: v.clone() for k, v in buffers.items()}
    base = copy.deepcopy(nets[0]).to("meta")
    opts = [torch.optim.Adam(n.parameters(), 2e-3) for n in nets]
    opt = torch.optim.Adam(list(params.values()), 2e-3)

    def separate() -> None:
        for net, o, xi, yi in zip(nets, opts, x, y):
            o.zero_grad(set_to_none=True)
            xi = xi.contiguous(memory_format=torch.channels_last)
            (net(xi) - yi).abs().mean().backward()
            o.step()

    def loss(p: dict, b: dict, xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        return (functional_call(base, (p, b), (xi,)) - yi).abs().mean()

    def stacked() -> None:
        opt.zero_grad(set_to_none=True)
        vmap(loss)(params, buffers, x, y).sum().backward()
        opt.step()

    return separate, stacked, nets, params


def measure_stacking(
    size: int, width: int, batch: int, seeds: int, *, threads: int = 1, seconds: float = 5.0
) -> dict[str, Any]:
    """Seed-steps per second of ``seeds`` generators stepped one after another, and stacked."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        separate, stacked, _, _ = build(size, width, batch, seeds)
        t_sep = _bench(separate, 2, seconds)
        t_stack = _bench(stacked, 2, seconds)
    finally:
        torch.set_num_threads(before)
    return {
        "image_size": size,
        "base_channels": width,
        "batch_size": batch,
        "seeds": seeds,
        "threads": threads,
        "separate_seed_steps_per_s": seeds / t_sep,
        "stacked_seed_steps_per_s": seeds / t_stack,
        "speedup": t_sep / t_stack,
    }


def measure_all(
    shapes: tuple[tuple[int, int, int, int], ...] = STACK_SHAPES,
    *,
    seconds: float = 5.0,
    say: Any = None,
) -> list[dict[str, Any]]:
    """Each shape with one thread (a grid worker's) and with every thread."""
    every = torch.get_num_threads()
    rows = []
    for size, width, batch, seeds in shapes:
        for threads in dict.fromkeys((1, every)):
            if say:
                say(f"stacking {size}px/{width}ch/b{batch}: {seeds} seeds x {threads} thread(s)")
            rows.append(
                measure_stacking(size, width, batch, seeds, threads=threads, seconds=seconds)
            )
    return rows
