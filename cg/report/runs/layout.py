"""How the grid's runs share a machine: how many at a time, and with how many threads each.

:func:`default_layout` is the rule ``cg report`` follows unless told otherwise (``--workers``,
``--threads``); ``docs/grid.md`` ("Layouts") gives the measurements behind it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from cg.report.runs.grid import Job

__all__ = [
    "SMALL_STEP",
    "Layout",
    "default_layout",
    "expected_cost",
    "step_work",
    "usable_cores",
]

#: How much longer a step with the adversarial loss takes than one without (the discriminators'
#: passes): 33.8 s against 28.7 s of steps for edges2shoes' two default-profile runs.
ADVERSARIAL_STEP = 1.2

#: A U-Net CycleGAN step's work, as ``image_size^2 x base_channels^2 x batch_size`` (its FLOPs
#: grow so), below which a run gains nothing from a second CPU thread: such runs get one thread
#: each and the cores are shared out as runs side by side (measured: ``docs/grid.md``).
SMALL_STEP = 64**2 * 16**2 * 8


@dataclass(frozen=True)
class Layout:
    """How the grid's runs share the machine: ``workers`` runs at a time, each with ``threads``
    torch threads (None: the worker's own setting, as on a Dask worker), and on GPUs the CUDA
    ``devices`` the workers take in turn."""

    workers: int
    threads: int | None
    devices: tuple[int, ...] = ()
    reason: str = ""

    def describe(self) -> str:
        threads = "its own threads" if self.threads is None else f"{self.threads} thread(s)"
        where = f" on GPU {', '.join(map(str, self.devices))}" if self.devices else ""
        text = f"{self.workers} run(s) at a time, {threads} each{where}"
        return f"{text} ({self.reason})" if self.reason else text


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def step_work(job: Job) -> int:
    """:data:`SMALL_STEP`'s measure of a job's step."""
    c = job.config
    return c.image_size**2 * c.base_channels**2 * c.batch_size


def _on_gpu(jobs: Sequence[Job]) -> bool:

    wants = {j.config.device for j in jobs}
    return "cuda" in wants or ("auto" in wants and torch.cuda.is_available())


def default_layout(
    jobs: Sequence[Job], *, workers: int | None = None, cores: int | None = None
) -> Layout:
    """The layout for ``jobs`` on this machine (``workers``: as many runs at a time, the user's
    choice; ``--workers 1`` is one run with every thread).

    The rule: on the CPU, as many runs at a time as there are cores (and jobs); a run whose
    step is small (:data:`SMALL_STEP`) gets one thread, a larger one its share of the cores.
    On GPUs, one run per device (more with ``workers``, placed in turn); each run one thread.
    """
    cores = cores or usable_cores()
    n = max(1, len(jobs))
    if jobs and _on_gpu(jobs):
        devices = tuple(range(torch.cuda.device_count()))
        count = workers or min(n, len(devices))
        return Layout(count, 1, devices, "one run per GPU" if not workers else "--workers")
    if workers == 1:
        return Layout(1, cores, (), "--workers 1: one run at a time with every thread")
    count = workers or min(n, cores)
    small = all(step_work(j) < SMALL_STEP for j in jobs)
    threads = 1 if small else max(1, cores // count)
    reason = (
        "--workers"
        if workers
        else (
            "small steps: one thread per run, one run per core"
            if small
            else "large steps: the cores shared out among the runs"
        )
    )
    return Layout(count, threads, (), reason)


def expected_cost(job: Job) -> float:
    """A job's training time in arbitrary units, to start the longest runs first (so that the
    last runs to finish are short ones): its steps times :func:`step_work`, with
    :data:`ADVERSARIAL_STEP` for the discriminators. Images counted by ``max_train_images`` (a
    whole user dataset counts as one image: its size is not known here)."""
    c = job.config
    batches = -(-max(1, c.max_train_images) // c.batch_size)
    factor = ADVERSARIAL_STEP if c.adversarial else 1.0
    return c.epochs * batches * step_work(job) * factor
