"""``cg bench``'s grid part: how the report's runs should share this machine.

For each shape (image size, base width, batch) of the report's U-Net CycleGAN step, in the
layout the report's runs train in (fp32, channels_last), :func:`measure_grid` times the step
in several layouts side by side: one run with every thread, one run with one thread, and as
many runs at a time as there are cores with one thread each (with 4 or more cores, also runs
of 2 and 4 threads). Each run of a layout is a fresh process; they warm up, wait for each
other at a barrier, then step for the same wall time, so that every run's steps overlap every
other's. The figure of merit is the machine's **seed-steps per second**: the steps of all its
runs together (a grid of seeds and experiments is that many independent steps).

Each row also says which layout :func:`cg.report.runs.layout.default_layout` would choose for a
grid of runs of that shape, so the rule can be read against the measurement.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from cg.bench.cases import report_config, synthetic_batch
from cg.bench.measure import median
from cg.config import TrainConfig
from cg.report.runs.grid import Job
from cg.report.runs.layout import default_layout, usable_cores
from cg.train.state import build_session

#: (image size, base channels, batch): the smoke-sized step, the default and long profiles'
#: steps, and a wider one.
GRID_SHAPES = ((32, 4, 4), (64, 8, 4), (64, 16, 8), (128, 32, 8))

_BARRIER: Any = None


def _init(threads: int, barrier: Any) -> None:
    global _BARRIER
    torch.set_num_threads(threads)
    _BARRIER = barrier


def _time_steps(cfg: TrainConfig, warmup: int, seconds: float) -> list[float]:
    """In a layout's process: warm up, wait for the other runs, then step for ``seconds``."""

    device = torch.device("cpu")
    session = build_session(cfg, device)
    batch = synthetic_batch(cfg, device)
    for _ in range(warmup):
        session.step(batch)
    _BARRIER.wait()
    times: list[float] = []
    end = time.perf_counter() + seconds
    while len(times) < 2 or time.perf_counter() < end:
        t = time.perf_counter()
        session.step(batch)
        times.append(time.perf_counter() - t)
    return times


def shape_config(size: int, width: int, batch: int) -> TrainConfig:
    """The report's step at this shape, as the grid trains it (channels_last, fp32)."""
    cfg = report_config(size, batch)
    return dataclasses.replace(cfg, base_channels=width, disc_channels=width, channels_last=True)


def measure_layout(
    cfg: TrainConfig, runs: int, threads: int, *, warmup: int, seconds: float
) -> dict[str, Any]:
    """``runs`` processes of ``threads`` threads each, stepping ``cfg`` side by side."""

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(runs)
    with ProcessPoolExecutor(
        runs, mp_context=ctx, initializer=_init, initargs=(threads, barrier)
    ) as pool:
        futures = [pool.submit(_time_steps, cfg, warmup, seconds) for _ in range(runs)]
        per_run = [f.result() for f in futures]
    step_s = [median(t) for t in per_run]
    return {
        "runs": runs,
        "threads": threads,
        "step_ms": [1e3 * s for s in step_s],
        "seed_steps_per_s": sum(1.0 / s for s in step_s),
    }


def layouts(cores: int) -> list[tuple[int, int]]:
    """(runs, threads) to compare on ``cores`` cores."""
    found = [(1, cores), (1, 1), (cores, 1)]
    found += [(cores // t, t) for t in (2, 4) if cores >= 2 * t]
    return list(dict.fromkeys(found))


def measure_grid(
    shapes: tuple[tuple[int, int, int], ...] = GRID_SHAPES,
    *,
    cores: int | None = None,
    warmup: int = 2,
    seconds: float = 10.0,
    say: Any = None,
) -> list[dict[str, Any]]:
    """One row per shape: every layout's seed-steps per second, the fastest, and the layout
    :func:`cg.report.runs.layout.default_layout` chooses for runs of that shape."""

    cores = cores or usable_cores()
    rows = []
    for size, width, batch in shapes:
        cfg = shape_config(size, width, batch)
        found = []
        for runs, threads in layouts(cores):
            if say:
                say(f"grid {size}px/{width}ch/batch {batch}: {runs} run(s) x {threads} thread(s)")
            found.append(measure_layout(cfg, runs, threads, warmup=warmup, seconds=seconds))
        jobs = [Job("bench", "step", dataclasses.replace(cfg, device="cpu"), Path("bench"))]
        rule = default_layout(jobs * cores, cores=cores)
        fastest = max(found, key=lambda r: r["seed_steps_per_s"])
        rows.append(
            {
                "image_size": size,
                "base_channels": width,
                "batch_size": batch,
                "layouts": found,
                "fastest": [fastest["runs"], fastest["threads"]],
                "rule": [rule.workers, rule.threads],
            }
        )
    return rows
