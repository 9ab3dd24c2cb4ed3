"""Measurement primitives for ``cg bench``: medians of timed calls, FLOP counts, peak memory,
and the machine's own ceilings measured in the same process.

- **Time**: ``warmup`` untimed calls, then ``repeats`` timed ones; the device is synchronised
  around each timed call (``torch.cuda.synchronize``), so a time is the whole call's.
- **FLOPs**: :class:`torch.utils.flop_counter.FlopCounterMode` on one call (a multiply-add is
  2 FLOPs; convolution backward = grad input + grad weight).
- **Peak memory**: on CUDA ``torch.cuda.max_memory_allocated`` (tensors only, not the caching
  allocator's reserve); on the CPU the process's peak resident set size (``VmHWM`` of
  ``/proc/self/status``, reset through ``/proc/self/clear_refs`` before the measured block), so
  it includes the interpreter and libraries (about 0.4 GiB) as well as every tensor alive.
- **Ceilings**: fp32 (and bf16) 2048x2048 matmul, ``2 n^3`` FLOPs; a 3x3 convolution, batch 16,
  64 -> 64 channels, 64x64, forward + backward (``3 x 2 N C_out H W C_in 9`` FLOPs) in fp32
  NCHW, fp32 channels_last, bf16 autocast, and bf16 autocast with channels_last.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cg.runtime import autocast, cpu_has_native_bf16, cpu_name

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_budgeted(
    fn: Callable[[], Any], device: torch.device, *, warmup: int, repeats: int, seconds: float
) -> tuple[list[float], float, float]:
    """Seconds of timed calls of ``fn`` after untimed warm-up ones, within about ``seconds``:
    at least one warm-up call and two timed ones, more (up to ``warmup`` and ``repeats``) while
    time is left. The device is synchronised around each timed call.

    Returns the timed calls' seconds, the first call's seconds (compilation, allocation), and
    the process CPU time of the timed calls over their wall time: the threads kept busy, about
    ``torch.get_num_threads()`` when the process had the cores to itself.
    """
    started = time.perf_counter()
    fn()
    synchronize(device)
    first = time.perf_counter() - started
    started += first  # compilation in the first call does not shorten the warm-up
    for _ in range(1, warmup):
        if time.perf_counter() - started > seconds / 3:
            break
        fn()
    synchronize(device)
    times: list[float] = []
    cpu = time.process_time()
    while len(times) < max(2, repeats) and (len(times) < 2 or sum(times) < seconds):
        t = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - t)
    return times, first, (time.process_time() - cpu) / sum(times)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def flops_by_op(fn: Callable[[], Any]) -> dict[str, int]:
    """FLOPs of one call of ``fn`` per op (``aten.convolution.default`` ...), as
    :class:`FlopCounterMode` counts them."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return {str(op): int(n) for op, n in counter.get_flop_counts()["Global"].items()}


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of ``fn`` (:func:`flops_by_op`, summed)."""
    return sum(flops_by_op(fn).values())


def _status_bytes(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def release_memory() -> None:
    """Collect garbage and hand freed heap back to the OS (glibc ``malloc_trim``)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakMemory:
    """``with PeakMemory(device) as m: ...`` then ``m.peak_bytes`` and ``m.kind``."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak_bytes = 0
        self.kind = ""

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.kind = "cuda max_memory_allocated"
        else:
            try:
                _CLEAR_REFS.write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
                self.kind = "process peak RSS (VmHWM)"
            except OSError:
                self.kind = "process peak RSS since start (ru_maxrss)"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            self.peak_bytes = int(torch.cuda.max_memory_allocated(self.device))
            return
        hwm = _status_bytes("VmHWM") if "VmHWM" in self.kind else None
        self.peak_bytes = hwm or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@contextlib.contextmanager
def _precision(device: torch.device, precision: str) -> Iterator[None]:
    with autocast(device, precision):
        yield


def matmul_ceiling(
    device: torch.device,
    *,
    n: int = 2048,
    dtype: torch.dtype = torch.float32,
    warmup: int = 2,
    repeats: int = 7,
    budget: float = 10.0,
) -> dict[str, float]:
    """GFLOP/s of an ``n x n`` by ``n x n`` matmul in ``dtype`` (median; fewer calls, never
    fewer than 2 timed, when they take more than ``budget`` seconds, as emulated bf16 does)."""
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device, dtype)
    b = torch.randn(n, n, generator=g).to(device, dtype)
    times, _, _ = time_budgeted(
        lambda: a @ b, device, warmup=warmup, repeats=repeats, seconds=budget
    )
    seconds = median(times)
    return {"gflops": 2 * n**3 / seconds / 1e9, "seconds": seconds}


def conv_ceiling(
    device: torch.device,
    *,
    precision: str = "fp32",
    channels_last: bool = False,
    batch: int = 16,
    channels: int = 64,
    size: int = 64,
    warmup: int = 2,
    repeats: int = 7,
    budget: float = 10.0,
) -> dict[str, float]:
    """GFLOP/s of a 3x3 convolution's forward and backward (grad input and grad weight); the
    calls are limited by ``budget`` as in :func:`matmul_ceiling`."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g = torch.Generator(device="cpu").manual_seed(0)
    conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False).to(device, memory_format=fmt)
    x = torch.randn(batch, channels, size, size, generator=g).to(device, memory_format=fmt)
    x.requires_grad_(True)

    def step() -> None:
        with _precision(device, precision):
            y = conv(x)
        y.backward(torch.ones_like(y))
        conv.weight.grad = x.grad = None

    flops = count_flops(step)
    times, _, _ = time_budgeted(step, device, warmup=warmup, repeats=repeats, seconds=budget)
    seconds = median(times)
    return {"gflops": flops / seconds / 1e9, "seconds": seconds, "gflop": flops / 1e9}


def ceilings(device: torch.device, *, quick: bool = False) -> dict[str, dict[str, float]]:
    """The machine's ceilings, keyed ``matmul_fp32``, ``matmul_bf16``, ``conv_fp32_nchw``,
    ``conv_fp32_cl``, ``conv_bf16_nchw``, ``conv_bf16_cl`` (``quick``: small shapes)."""
    mm = {"n": 256, "warmup": 1, "repeats": 3} if quick else {}
    cv = {"batch": 2, "channels": 16, "size": 32, "warmup": 1, "repeats": 3} if quick else {}
    out = {
        "matmul_fp32": matmul_ceiling(device, **mm),
        "matmul_bf16": matmul_ceiling(device, dtype=torch.bfloat16, **mm),
    }
    for precision in ("fp32", "bf16"):
        for layout, cl in (("nchw", False), ("cl", True)):
            out[f"conv_{precision}_{layout}"] = conv_ceiling(
                device, precision=precision, channels_last=cl, **cv
            )
    return out


def machine_info(device: torch.device) -> dict[str, Any]:
    """The device, CPU, threads, versions, and the load average (other processes' demand)."""
    info: dict[str, Any] = {
        "device": str(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "python": platform.python_version(),
        "load_average": _load(),
        "cpu_native_bf16": cpu_has_native_bf16(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def ceiling_key(precision: str, channels_last: bool) -> str:
    """The conv ceiling a training variant is compared with (fp16 uses the bf16 one)."""
    p = "fp32" if precision == "fp32" else "bf16"
    return f"conv_{p}_{'cl' if channels_last else 'nchw'}"
