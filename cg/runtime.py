"""Where and how computations run: device choice, autocast precision, seeding."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import platform
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from cg.errors import UserError


def resolve_device(name: str | torch.device) -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cuda`` without a GPU is a UserError."""
    if isinstance(name, torch.device):
        name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device={name!r} but no CUDA GPU is available; use --device cpu")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise UserError(f"device={name!r} is not one of auto, cpu, cuda")
    return torch.device(name)


def default_channels_last(device: str | torch.device, norm: str, batch_size: int) -> bool:
    """Whether the models should use the channels_last layout, where it is faster.

    Measured with ``cg bench`` and step timings on a 2-core AVX-512 BF16 EPYC, torch 2.14.1,
    channels_last over NCHW: batch-norm networks at batch 8 and more gain or break even (the
    report's U-Net at 64 px, batch 16: 1.05x in fp32, 1.08x in bf16; at 8 base channels,
    batch 8: 1.45x; the reference's unet_128 pix2pix, batch 16: 0.99x and 1.00x), at batch 1
    they lose (0.8x: small convolutions leave oneDNN for the slow path); instance-norm networks
    lose at every precision (the reference's CycleGAN, batch 16: 0.98x in fp32, 0.87x in bf16),
    as instance norm reorders every channels_last batch to NCHW and back. On a GPU,
    channels_last is cuDNN's fast layout for tensor cores."""
    dev = torch.device(device) if not isinstance(device, torch.device) else device
    if dev.type == "cuda":
        return True
    return norm == "batch" and batch_size >= 8


def to_device(x: torch.Tensor, device: torch.device, channels_last: bool = False) -> torch.Tensor:
    """``x`` on ``device``, in channels_last order when asked (the models' layout)."""
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """An autocast context for ``precision`` (fp32: a no-op)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "fp16" and device.type != "cuda":
        raise UserError("precision='fp16' needs a GPU; on the CPU use bf16 or fp32")
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX-512 BF16 or AMX tiles).

    Elsewhere bf16 autocast still runs, but oneDNN emulates it: measured on a 2-core AVX2 CPU
    (AMD EPYC), a bf16 3x3 convolution ran at 2.4 GFLOP/s against 71 in fp32, and a bf16
    2048x2048 matmul at 1.3 against 108.
    """
    cpu = torch.cpu
    return any(
        bool(getattr(cpu, name, lambda: False)())
        for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    )


def report_precision(precision: str, device: torch.device) -> str:
    """A report's ``precision`` parameter as a run's: ``auto`` is bf16 autocast on a CPU with
    bf16 hardware (:func:`cpu_has_native_bf16`) and fp32 elsewhere (GPUs included: the report's
    small networks gain nothing there); fp32, bf16 and fp16 stay as given."""
    if precision == "auto":
        return "bf16" if device.type == "cpu" and cpu_has_native_bf16() else "fp32"
    known = ("fp32", *_DTYPES)  # what autocast takes
    if precision not in known:
        raise UserError(f"precision={precision!r} is not one of auto, {', '.join(known)}")
    return precision


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine() -> str:
    """One line: CPU model, cores, whether it has bf16 hardware, and the GPU if there is one."""
    text = (
        f"{cpu_name()}, {os.cpu_count()} cores, "
        f"{'with' if cpu_has_native_bf16() else 'without'} bf16 hardware"
    )
    if torch.cuda.is_available():
        text += f"; GPU {torch.cuda.get_device_name(0)}"
    return text


def precision_warning(device: torch.device, precision: str) -> str | None:
    """A one-line warning when ``precision`` will be slow on ``device``, else None."""
    if precision == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        return (
            "warning: this CPU has no bf16 hardware (AVX-512 BF16 or AMX), so bf16 autocast "
            "is emulated and much slower than fp32 here; use --precision fp32 on this machine"
        )
    return None


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def eval_mode(*modules: torch.nn.Module) -> Iterator[None]:
    """Put modules in eval mode for the block, restoring each one's previous mode after."""
    was = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, t in zip(modules, was):
            m.train(t)


# --- CPU fast paths (cg bench measures each) -------------------------------------------------

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters


def tune_cpu_allocator(threshold: int = 1 << 30) -> bool:
    """Keep freed heap memory for reuse instead of returning it to the OS (glibc ``mallopt``).

    By default glibc serves every block above 32 MiB (an activation of a batch of 16) with a
    fresh ``mmap`` and unmaps it when freed, so each training step page-faults and zeroes its
    activations again: measured as 0.2-0.4 s of system time per step of the reference pix2pix
    on one core, ~5%. With both thresholds at ``threshold`` such blocks come from the heap and
    are reused. The peak memory is unchanged; memory freed after the peak stays with the
    process. Returns False where there is no glibc (the call then does nothing).
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mmap_set = bool(mallopt(_M_MMAP_THRESHOLD, threshold))
    return bool(mallopt(_M_TRIM_THRESHOLD, threshold)) and mmap_set


def _channels_last_grad(grad: torch.Tensor) -> torch.Tensor:
    return grad.contiguous(memory_format=torch.channels_last)


def _hand_contiguous_grads(module: torch.nn.Module, inputs: object, output: torch.Tensor) -> None:
    if isinstance(output, torch.Tensor) and output.requires_grad and output.dim() == 4:
        output.register_hook(_channels_last_grad)


def channels_last_batchnorm_grads(module: torch.nn.Module) -> None:
    """Give every BatchNorm of ``module`` a channels_last-contiguous incoming gradient.

    On the CPU, BatchNorm's backward over a channels_last input takes a kernel ~10x slower when
    the gradient arriving is a channel slice of a larger tensor (the U-Net's skip ``torch.cat``):
    260 ms instead of 24 ms for 16x64x64x64 on one core. A tensor hook copies such a gradient
    into channels_last order first (a few ms); the values are unchanged.
    """
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.register_forward_hook(_hand_contiguous_grads)
