"""``cg bench``: how fast training, data loading and translation run on this machine.

What is measured (medians over timed calls after warm-up ones, see
:func:`cg.bench.measure.time_budgeted`):

- **training** images/s of one optimisation step (``Session.step``, the code ``cg train``
  runs) on a synthetic in-memory batch, for (a) the report's configuration (U-Net bilinear +
  PatchGAN, cyclegan objective with the paired identity loss, adversarial, batch 16) at each
  of ``sizes``, and (b) the reference's: ``unet_128`` + the basic PatchGAN with the pix2pix
  objective, batch 16, 128 px, and (c) the reference's CycleGAN: two ``unet_128`` + two basic
  PatchGANs, unpaired, instance norm, LSGAN, image pool 50, identity 0.5, batch 16, 128 px
  (``reference-cyclegan``). Each in every *variant* (precision x layout [x compile]), after
  the fp32 *baseline*: the same step without cg's CPU fast paths, i.e. with PyTorch's defaults,
  as a plain training loop such as the reference implementation's runs it; ``speedup_vs_baseline``
  compares each variant with it. Every variant runs in a fresh process.
  ``rounds`` > 1 repeats the variants in turn, so that they share the machine's changing load.
  Achieved GFLOP/s = FLOPs of one step (counted once per case on the ``meta`` device) / median
  step time, also as a fraction of the machine's conv ceiling at the same precision and layout,
  of its fp32 matmul and (GPU) of the chip's bf16 dense peak; peak memory as
  :class:`cg.bench.measure.PeakMemory` defines it, with only that session alive;
- **epochs**, end to end: whole epochs of ``cg train`` (:func:`cg.train.loop.train`) of the
  reference cases on 64 synthetic training images written to disk, split into steps,
  evaluation, sample grids and checkpoint (:mod:`cg.bench.epochs`), medians over the epochs
  after the first: the overhead of an epoch over its steps is a number in the table;
- **data** images/s of the training DataLoader on a synthetic dataset written to disk
  (:func:`cg.data.synthesize`), without and with the in-memory cache;
- **translate** images/s of :func:`cg.translate.translate_folder` (decode, resize, generator,
  encode, write) with the report's generator;
- the machine's **ceilings** (:func:`cg.bench.measure.ceilings`).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from cg.bench.cases import (
    CASES,
    LAYOUTS,
    Case,
    Variant,
    bench_cases,
    parse_variant,
    report_config,
    synthetic_batch,
    variant_config,
    variants,
)
from cg.bench.measure import (
    PeakMemory,
    ceiling_key,
    ceilings,
    flops_by_op,
    machine_info,
    median,
    release_memory,
    time_budgeted,
)
from cg.config import TrainConfig
from cg.errors import UserError
from cg.runtime import resolve_device
from cg.train.state import build_session

# Dense bf16 peaks (TFLOP/s) of GPUs the model FLOP utilisation is computed against.
GPU_BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0}
PARTS = (
    "ceilings",
    "training",
    "epochs",
    "profile",
    "data",
    "translate",
    "grid",
    "stacking",
)

# Where a step's time goes: PyTorch op names (profiler self time) by kind, first match wins.
OP_KINDS = (
    ("convolution backward", ("convolution_backward",)),
    ("convolution forward", ("convolution", "conv2d", "conv_transpose")),
    ("batch norm", ("batch_norm",)),
    ("optimizer", ("adam", "optimizer.", "zero_grad")),
    ("copies and allocation", ("copy", "cat", "empty", "clone", "as_strided", "contiguous")),
)


def step_flop_counts(cfg: TrainConfig) -> dict[str, int]:
    """FLOPs of one training step of ``cfg`` per op (``aten.convolution.default`` ...), counted
    on the ``meta`` device (no arithmetic)."""
    meta = torch.device("meta")  # no autocast there: the FLOPs are the same at any precision
    session = build_session(dataclasses.replace(cfg, compile=False, precision="fp32"), meta)
    shape = (cfg.batch_size, 3, cfg.image_size, cfg.image_size)
    batch = {k: torch.empty(shape, device=meta) for k in ("a", "b")}
    return flops_by_op(lambda: session.step(batch))


def step_flops(cfg: TrainConfig) -> int:
    """FLOPs of one training step of ``cfg`` (:func:`step_flop_counts`, summed)."""
    return sum(step_flop_counts(cfg).values())


def variant_session(cfg: TrainConfig, variant: Variant, device: torch.device) -> Any:
    """A fresh session of ``cfg``, with cg's fast paths unless ``variant`` is the baseline."""
    return build_session(cfg, device, tuned=not variant.baseline)


def measure_training(
    case: Case, variant: Variant, device: torch.device, *, warmup: int, repeats: int, seconds: float
) -> dict[str, Any]:
    """Time ``Session.step`` of ``case`` in ``variant`` with a fresh session (in this
    process; :func:`run_bench` calls it in a fresh process per variant)."""
    cfg = variant_config(case, variant)
    batch = synthetic_batch(cfg, device)
    release_memory()
    with PeakMemory(device) as mem:
        session = variant_session(cfg, variant, device)
        times, first, busy = time_budgeted(
            lambda: session.step(batch), device, warmup=warmup, repeats=repeats, seconds=seconds
        )
    release_memory()
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
        "baseline": variant.baseline,
        "first_step_s": first,
        "step_s_all": times,
        "threads_busy": busy,
        "peak_memory_bytes": mem.peak_bytes,
        "memory_kind": mem.kind,
    }


def op_kind(name: str) -> str:
    """The kind of a profiled op (:data:`OP_KINDS`), else ``elementwise and other``."""
    low = name.lower()
    return next(
        (kind for kind, keys in OP_KINDS if any(k in low for k in keys)), "elementwise and other"
    )


def profile_step(case: Case, variant: Variant, device: torch.device) -> dict[str, Any]:
    """Where one training step of ``case`` spends its time: the profiler's self time of every
    op (after two warm-up steps), summed by :func:`op_kind`, and the convolutions' own GFLOP/s
    (their FLOPs over their time)."""
    cfg = variant_config(case, variant)
    session = variant_session(cfg, variant, device)
    batch = synthetic_batch(cfg, device)
    for _ in range(2):
        session.step(batch)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        session.step(batch)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    kinds: dict[str, float] = {}
    for event in prof.key_averages():
        seconds = getattr(event, attr, 0.0) / 1e6
        if seconds > 0:
            kind = op_kind(event.key)
            kinds[kind] = kinds.get(kind, 0.0) + seconds
    total = sum(kinds.values())
    conv_s = kinds.get("convolution forward", 0.0) + kinds.get("convolution backward", 0.0)
    conv_flops = sum(n for op, n in step_flop_counts(cfg).items() if "convolution" in op)
    return {
        "case": case.name,
        "variant": variant.name,
        "profiled_s": total,
        "seconds_by_kind": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
        "convolution_share": conv_s / total if total else None,
        "convolution_gflops": conv_flops / conv_s / 1e9 if conv_s else None,
        "timer": attr,
    }


def _child(threads: int, fn: Any, *args: Any, **kwargs: Any) -> Any:
    torch.set_num_threads(threads)
    return fn(*args, **kwargs)


def in_fresh_process(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in a new Python process (spawned, with this process's thread
    count), so that each measurement starts from the same state: no allocator settings, heap
    fragmentation, compiled code or peak memory left by the ones before it."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(_child, torch.get_num_threads(), fn, *args, **kwargs).result()


def _summarise(
    rows: list[dict[str, Any]],
    flops: int,
    ceil: dict[str, dict[str, float]],
    peak_tflops: float | None,
) -> dict[str, Any]:
    """One variant's rounds as one row: median over all timed steps, the largest peak."""
    row = dict(rows[0])
    row["step_s_all"] = [t for r in rows for t in r["step_s_all"]]
    row["threads_busy"] = median([r["threads_busy"] for r in rows])
    row["peak_memory_bytes"] = max(r["peak_memory_bytes"] for r in rows)
    row["step_s"] = step = median(row["step_s_all"])
    row["images_per_s"] = row["batch_size"] / step
    row["gflop_per_step"], row["gflops"] = flops / 1e9, flops / step / 1e9
    key = ceiling_key(row["precision"], row["channels_last"])
    if key in ceil:
        row["ceiling"], row["of_conv_ceiling"] = key, row["gflops"] / ceil[key]["gflops"]
    if "matmul_fp32" in ceil:
        row["of_matmul_fp32"] = row["gflops"] / ceil["matmul_fp32"]["gflops"]
    if peak_tflops:
        row["mfu_bf16_peak"] = row["gflops"] / (peak_tflops * 1e3)
    return row


def gpu_peak_tflops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in GPU_BF16_PEAK_TFLOPS.items() if k in name), None)


def _measure_epochs(
    cases: list[str], chosen: list[Variant], dev: torch.device, epochs: int, quick: bool, say: Any
) -> list[dict[str, Any]]:
    """The end-to-end part (:mod:`cg.bench.epochs`): whole ``cg train`` epochs of the
    reference cases, 64 training images each (8 when ``quick``), in every variant but the
    baseline, each in a fresh process."""
    # lazy: the step-timing child processes import this module; their peak RSS counts it
    from cg.bench.epochs import epoch_dataset, measure_epochs

    rows: list[dict[str, Any]] = []
    wanted = [c for c in cases if c.startswith("reference")]
    runs = [v for v in chosen if not v.baseline]
    n_train, n_val = (8, 4) if quick else (64, 16)
    with tempfile.TemporaryDirectory(prefix="cg-bench-data-") as tmp:
        for case in bench_cases([], wanted, quick):
            case = dataclasses.replace(case, cfg=dataclasses.replace(case.cfg, device=dev.type))
            data = epoch_dataset(case, Path(tmp), n_train, n_val)
            for v in runs:
                say(f"epochs {case.name} {v.name} ({epochs} epochs of {n_train} images)")
                rows.append(in_fresh_process(measure_epochs, case, v, data, epochs))
    return rows


def _check(name: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise UserError(
            f"--{name} {','.join(values) or '(empty)'}: choose from "
            f"{', '.join(allowed)} (comma-separated)"
        )


def run_bench(
    *,
    device: str = "auto",
    sizes: tuple[int, ...] = (64, 128, 256),
    cases: tuple[str, ...] = CASES,
    precisions: tuple[str, ...] = ("fp32",),
    layouts: tuple[str, ...] = LAYOUTS,
    compile: bool = False,
    baseline: bool = True,
    variant_names: tuple[str, ...] = (),
    parts: tuple[str, ...] = PARTS,
    warmup: int = 2,
    repeats: int = 5,
    rounds: int = 1,
    seconds: float = 120.0,
    epochs: int = 4,
    quick: bool = False,
    log: Any = None,
) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-able result (see the module docstring)."""
    dev = resolve_device(device)
    chosen = [parse_variant(v) for v in variant_names] or variants(
        list(precisions), list(layouts), compile, baseline
    )
    precisions = tuple(v.precision for v in chosen)
    _check("precision", precisions, ("fp32", "bf16", "fp16"))
    _check("layout", layouts, LAYOUTS)
    _check("cases", cases, CASES)
    _check("parts", parts, PARTS)
    if "fp16" in precisions and dev.type != "cuda":
        raise UserError("--precision fp16 needs a GPU; on the CPU use fp32 or bf16")
    if min(warmup, repeats, rounds, epochs) < 1:
        raise UserError("--warmup, --repeats, --rounds and --epochs must be at least 1")
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    say = log or (lambda msg: None)
    peak = gpu_peak_tflops(dev)
    result: dict[str, Any] = {
        "quick": quick,
        "machine": machine_info(dev),
        "warmup": warmup,
        "repeats": repeats,
        "rounds": rounds,
        "seconds": seconds,
    }
    if peak:
        result["gpu_bf16_peak_tflops"] = peak
    if "ceilings" in parts:
        say("ceilings: matmul and 3x3 conv")
        result["ceilings"] = ceilings(dev, quick=quick)
    if "training" in parts:
        result["training"] = []
        for case in bench_cases(list(sizes), list(cases), quick):
            flops = step_flops(case.cfg)
            found: dict[str, list[dict[str, Any]]] = {}
            for r in range(rounds):
                for v in chosen:
                    say(f"training {case.name} {v.name} (round {r + 1}/{rounds})")
                    found.setdefault(v.name, []).append(
                        in_fresh_process(
                            measure_training,
                            case,
                            v,
                            dev,
                            warmup=warmup,
                            repeats=repeats,
                            seconds=seconds,
                        )
                    )
            rows = [_summarise(r, flops, result.get("ceilings", {}), peak) for r in found.values()]
            base = next((r for r in rows if r["baseline"]), None)
            if base is not None:
                for r in rows:
                    r["speedup_vs_baseline"] = r["images_per_s"] / base["images_per_s"]
            result["training"] += rows
    if "epochs" in parts:
        result["epochs"] = _measure_epochs(list(cases), chosen, dev, epochs, quick, say)
    if "profile" in parts:
        fastest = [v for v in chosen if not v.baseline] or chosen
        result["profile"] = []
        for case in bench_cases(list(sizes), list(cases), quick):
            say(f"profile {case.name} {fastest[0].name}")
            result["profile"].append(in_fresh_process(profile_step, case, fastest[0], dev))
    if "data" in parts or "translate" in parts:
        # lazy: the step-timing child processes import this module; their peak RSS counts it
        from cg.bench.data import measure_data, measure_translate
        from cg.data import synthesize

        size = 32 if quick else (max(sizes) if "report" in cases else 128)
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
            if "data" in parts:
                say("data pipeline")
                result["data"] = measure_data(report_config(size, 2 if quick else 16), root)
            if "translate" in parts:
                say("translate")
                small = {"base_channels": 8, "disc_channels": 8} if quick else {}
                cfg = report_config(2 * size, **small)
                result["translate"] = measure_translate(cfg, dev, root / "val", Path(tmp))
    if "grid" in parts:
        # lazy: the step-timing child processes import this module; their peak RSS counts it
        from cg.bench.grid import GRID_SHAPES, measure_grid

        shapes = GRID_SHAPES[:1] if quick else GRID_SHAPES
        result["grid"] = measure_grid(shapes, seconds=2.0 if quick else 10.0, say=say)
    if "stacking" in parts:
        # lazy: the step-timing child processes import this module; their peak RSS counts it
        from cg.bench.stacking import STACK_SHAPES, measure_all

        shapes = ((32, 4, 4, 2),) if quick else STACK_SHAPES
        result["stacking"] = measure_all(shapes, seconds=1.0 if quick else 5.0, say=say)
    result["machine"]["load_average_after"] = machine_info(dev)["load_average"]
    return result
