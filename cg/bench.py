"""``cg bench``: how fast training, data loading and translation run on this machine.

What is measured (medians over ``repeats`` calls after ``warmup`` untimed ones):

- **training** images/s of one optimisation step (``Session.step``, the code ``cg train``
  runs) on a synthetic in-memory batch, for (a) the report's configuration (U-Net bilinear +
  PatchGAN, cyclegan objective with the paired identity loss, adversarial, batch 16) at each
  of ``sizes``, and (b) the reference's: ``unet_128`` + the basic PatchGAN with the pix2pix
  objective, batch 16, 128 px. Each in every *variant* (precision x layout [x compile]);
  achieved GFLOP/s = FLOPs of one step (:func:`cg.perf.count_flops`) / median step time, also as
  a fraction of the machine's conv ceiling for the same precision and layout and of its fp32
  matmul, and (GPU) of the chip's bf16 dense peak; peak memory as :class:`cg.perf.PeakMemory`
  defines it;
- **data** images/s of the training DataLoader on a synthetic dataset written to disk
  (:func:`cg.data.synthesize`), with and without the in-memory cache;
- **translate** images/s of :func:`cg.translate.translate_folder` (decode, resize, generator,
  encode, write) with the report's generator;
- the machine's **ceilings** (:func:`cg.perf.ceilings`).

Results are a JSON-able dict (``--out FILE``) and a table (:func:`cg.bench_report.format_table`).
"""

from __future__ import annotations

import dataclasses
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cg.config import TrainConfig, make_config
from cg.errors import UserError
from cg.perf import (
    PeakMemory,
    ceiling_key,
    ceilings,
    count_flops,
    median,
    release_memory,
    time_calls,
)
from cg.runtime import resolve_device

# Dense bf16 peaks (TFLOP/s) of GPUs the model FLOP utilisation is computed against.
GPU_BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0}


@dataclass(frozen=True)
class Variant:
    """How a step runs: autocast precision, memory layout, torch.compile."""

    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False

    @property
    def name(self) -> str:
        return (
            self.precision
            + ("+cl" if self.channels_last else "")
            + ("+compile" if self.compile else "")
        )


@dataclass(frozen=True)
class Case:
    name: str
    cfg: TrainConfig


def report_config(size: int, batch: int = 16, **run: Any) -> TrainConfig:
    """(a) The report's configuration (R1-R3) at ``size`` px."""
    return make_config(
        paired=True,
        identity="paired",
        adversarial=True,
        objective="cyclegan",
        generator="unet",
        upsample="bilinear",
        image_size=size,
        batch_size=batch,
        **run,
    )


def reference_config(batch: int = 16, **run: Any) -> TrainConfig:
    """(b) The reference's pix2pix: unet_128 (with its dropout) + basic PatchGAN, 128 px."""
    return make_config(
        paired=True,
        objective="pix2pix",
        generator="unet_128",
        dropout=True,
        disc_layers=3,
        image_size=128,
        batch_size=batch,
        **run,
    )


def bench_cases(sizes: list[int], cases: list[str], quick: bool) -> list[Case]:
    """The training cases; ``quick`` shrinks widths and batches to a CI-sized run."""
    small = {"base_channels": 8, "disc_channels": 8} if quick else {}
    batch = 2 if quick else 16
    out = []
    if "report" in cases:
        out += [Case(f"report-{s}", report_config(s, batch, **small)) for s in sizes]
    if "reference" in cases:
        out.append(Case("reference-128", reference_config(batch, **small)))
    return out


def variants(precisions: list[str], layouts: list[str], compile: bool) -> list[Variant]:
    out = [Variant(p, layout == "cl") for p in precisions for layout in layouts]
    if compile:
        out += [dataclasses.replace(v, compile=True) for v in out]
    return out


def synthetic_batch(cfg: TrainConfig, device: torch.device) -> dict[str, torch.Tensor]:
    """A fixed batch of images in [-1, 1] as the DataLoader yields them (pinned on CUDA)."""
    g = torch.Generator().manual_seed(0)
    shape = (cfg.batch_size, 3, cfg.image_size, cfg.image_size)
    batch = {k: torch.rand(shape, generator=g) * 2 - 1 for k in ("a", "b")}
    if device.type == "cuda":
        batch = {k: v.pin_memory() for k, v in batch.items()}
    return batch


def measure_training(
    case: Case,
    variant: Variant,
    device: torch.device,
    *,
    warmup: int,
    repeats: int,
    flops: int | None = None,
) -> dict[str, Any]:
    """Time ``Session.step`` of ``case`` in ``variant``; count its FLOPs unless given."""
    cfg = dataclasses.replace(
        case.cfg,
        precision=variant.precision,
        channels_last=variant.channels_last,
        compile=variant.compile,
    )
    batch = synthetic_batch(cfg, device)
    release_memory()
    with PeakMemory(device) as mem:
        flops, first, times = _time_session(cfg, device, batch, warmup, repeats, flops)
    release_memory()
    step = median(times)
    return {
        "case": case.name,
        "variant": variant.name,
        "image_size": cfg.image_size,
        "batch_size": cfg.batch_size,
        "generator": cfg.generator,
        "objective": cfg.objective,
        "precision": variant.precision,
        "channels_last": variant.channels_last,
        "compile": variant.compile,
        "first_step_s": first,
        "step_s": step,
        "step_s_all": times,
        "images_per_s": cfg.batch_size / step,
        "gflop_per_step": flops / 1e9 if flops is not None else None,
        "gflops": flops / step / 1e9 if flops is not None else None,
        "peak_memory_bytes": mem.peak_bytes,
        "memory_kind": mem.kind,
    }


def _time_session(
    cfg: TrainConfig,
    device: torch.device,
    batch: dict[str, torch.Tensor],
    warmup: int,
    repeats: int,
    flops: int | None,
) -> tuple[int | None, float, list[float]]:
    """A fresh session's first step (counting FLOPs unless known or compiled) and timings."""
    from cg.session import build_session

    session = build_session(cfg, device)
    started = time.perf_counter()
    if flops is None and not cfg.compile:
        flops = count_flops(lambda: session.step(batch))  # doubles as the first warm-up
    else:
        session.step(batch)
    first = time.perf_counter() - started
    times = time_calls(
        lambda: session.step(batch), device, warmup=max(0, warmup - 1), repeats=repeats
    )
    return flops, first, times


def _add_fractions(
    row: dict[str, Any], ceil: dict[str, dict[str, float]], peak_tflops: float | None
) -> None:
    if row["gflops"] is None:
        return
    key = ceiling_key(row["precision"], row["channels_last"])
    if key in ceil:
        row["ceiling"] = key
        row["of_conv_ceiling"] = row["gflops"] / ceil[key]["gflops"]
    if "matmul_fp32" in ceil:
        row["of_matmul_fp32"] = row["gflops"] / ceil["matmul_fp32"]["gflops"]
    if peak_tflops:
        row["mfu_bf16_peak"] = row["gflops"] / (peak_tflops * 1e3)


def measure_data(cfg: TrainConfig, root: Path, *, epochs: int = 2) -> list[dict[str, Any]]:
    """Training DataLoader images/s over ``epochs`` epochs, without and with the cache."""
    from cg.pipeline import build_pipeline
    from cg.train import epoch_seed

    rows = []
    for cache_gib in (0.0, 4.0):
        c = dataclasses.replace(cfg, data=str(root), cache_gib=cache_gib, device="cpu")
        started = time.perf_counter()
        pipeline = build_pipeline(c)
        setup = time.perf_counter() - started
        per_epoch = []
        n = 0
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            n = sum(len(b["a"]) for b in pipeline.train_loader(epoch, epoch_seed(0, epoch)))
            per_epoch.append(time.perf_counter() - started)
        rows.append(
            {
                "cache": pipeline.cached,
                "num_workers": c.num_workers,
                "image_size": c.image_size,
                "images": n,
                "setup_s": setup,
                "epoch_s": per_epoch,
                "images_per_s": n / median(per_epoch),
            }
        )
    return rows


def measure_translate(
    cfg: TrainConfig, device: torch.device, folder: Path, work: Path, *, batch_size: int = 8
) -> dict[str, Any]:
    """``cg translate`` images/s: a fresh report generator over every image in ``folder``."""
    from cg.checkpoints import save_checkpoint
    from cg.models import build_generator
    from cg.translate import translate_folder

    torch.manual_seed(0)
    ckpt = work / "translate.pt"
    save_checkpoint(
        ckpt,
        {
            "config": cfg.to_dict(),
            "epoch": 0,
            "models": {"g_ab": build_generator(cfg).state_dict()},
        },
    )
    times, n = [], 0
    for i in range(2):  # the first run warms up (page cache, allocator)
        started = time.perf_counter()
        n = len(
            translate_folder(
                ckpt,
                "ab",
                folder,
                work / f"out{i}",
                half="a",
                batch_size=batch_size,
                device=device.type,
                progress=False,
            )
        )
        times.append(time.perf_counter() - started)
    return {
        "image_size": cfg.image_size,
        "images": n,
        "batch_size": batch_size,
        "seconds": times[-1],
        "images_per_s": n / times[-1],
    }


def machine_info(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "device": str(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": _cpu_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "python": platform.python_version(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def gpu_peak_tflops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in GPU_BF16_PEAK_TFLOPS.items() if k in name), None)


def run_bench(
    *,
    device: str = "auto",
    sizes: tuple[int, ...] = (64, 128, 256),
    cases: tuple[str, ...] = ("report", "reference"),
    precisions: tuple[str, ...] = ("fp32",),
    layouts: tuple[str, ...] = ("nchw", "cl"),
    compile: bool = False,
    parts: tuple[str, ...] = ("ceilings", "training", "data", "translate"),
    warmup: int = 2,
    repeats: int = 5,
    quick: bool = False,
    log: Any = None,
) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-able result (see the module docstring)."""
    dev = resolve_device(device)
    for p in precisions:
        if p not in ("fp32", "bf16", "fp16"):
            raise UserError(f"--precision {p!r} is not one of fp32, bf16, fp16")
        if p == "fp16" and dev.type != "cuda":
            raise UserError("--precision fp16 needs a GPU; on the CPU use fp32 or bf16")
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    say = log or (lambda msg: None)
    result: dict[str, Any] = {
        "quick": quick,
        "machine": machine_info(dev),
        "warmup": warmup,
        "repeats": repeats,
    }
    peak = gpu_peak_tflops(dev)
    if peak:
        result["gpu_bf16_peak_tflops"] = peak
    if "ceilings" in parts:
        say("ceilings: matmul and 3x3 conv")
        result["ceilings"] = ceilings(dev, quick=quick)
    ceil = result.get("ceilings", {})
    if "training" in parts:
        rows = []
        for case in bench_cases(list(sizes), list(cases), quick):
            flops = None
            for v in variants(list(precisions), list(layouts), compile):
                say(f"training {case.name} {v.name}")
                row = measure_training(case, v, dev, warmup=warmup, repeats=repeats, flops=flops)
                flops = int(row["gflop_per_step"] * 1e9) if row["gflop_per_step"] else flops
                _add_fractions(row, ceil, peak)
                rows.append(row)
        result["training"] = rows
    if "data" in parts or "translate" in parts:
        from cg.data import synthesize

        size = 32 if quick else 128
        with tempfile.TemporaryDirectory(prefix="cg-bench-") as tmp:
            root = Path(tmp) / "data"
            synthesize(
                "cityscapes",
                root,
                size=2 * size,
                n_train=8 if quick else 64,
                n_val=4 if quick else 32,
                seed=0,
            )
            small = {"base_channels": 8, "disc_channels": 8} if quick else {}
            if "data" in parts:
                say("data pipeline")
                result["data"] = measure_data(report_config(size, 2 if quick else 16), root)
            if "translate" in parts:
                say("translate")
                cfg = report_config(2 * size, **small)
                result["translate"] = measure_translate(cfg, dev, root / "val", Path(tmp))
    return result
