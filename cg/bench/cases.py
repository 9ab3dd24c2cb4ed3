"""What ``cg bench`` times: the training cases (the report's and the reference's
configurations) and the variants of a step (precision, layout, compile, baseline)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from cg.config import TrainConfig, make_config
from cg.errors import UserError

CASES, LAYOUTS = ("report", "reference", "reference-cyclegan"), ("nchw", "cl")

#: The reference implementation's configuration each reference case reproduces, as
#: ``bench/reference_step.py --config`` names it (its step is timed there, never inside cg).
REFERENCE_CONFIGS = {"reference-128": "pix2pix", "reference-cyclegan-128": "cycle_gan"}

VARIANT_FLAGS = ("cl", "compile", "baseline")  # in Variant's field order, after precision


@dataclass(frozen=True)
class Variant:
    """How a step runs: autocast precision, memory layout, torch.compile; ``baseline``: without
    cg's CPU fast paths (``build_session(tuned=False)``), the plain PyTorch loop to beat."""

    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    baseline: bool = False

    @property
    def name(self) -> str:
        on = (self.channels_last, self.compile, self.baseline)
        return "+".join([self.precision] + [f for f, o in zip(VARIANT_FLAGS, on) if o])


BASELINE = Variant(baseline=True)


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


def reference_cyclegan_config(batch: int = 16, **run: Any) -> TrainConfig:
    """(c) The reference's CycleGAN (``--model cycle_gan``) with ``unet_128`` generators and the
    basic PatchGAN, 128 px: unpaired, instance norm, LSGAN, an image pool of 50, the classic
    identity loss at 0.5 of the cycle weight (10 x 0.5 = 5), no dropout (its defaults)."""
    return make_config(
        paired=False,
        objective="cyclegan",
        identity="classic",
        adversarial=True,
        generator="unet_128",
        dropout=False,
        disc_layers=3,
        norm="instance",
        gan_mode="lsgan",
        pool_size=50,
        lambda_cycle=10.0,
        lambda_identity=5.0,
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
    if "reference-cyclegan" in cases:
        out.append(Case("reference-cyclegan-128", reference_cyclegan_config(batch, **small)))
    return out


def parse_variant(name: str) -> Variant:
    """``fp32``, ``bf16+cl``, ``fp16+cl+compile`` ... as a :class:`Variant`."""
    precision, *flags = name.split("+")
    if precision not in ("fp32", "bf16", "fp16") or not set(flags) <= set(VARIANT_FLAGS):
        raise UserError(
            f"variant {name!r}: expected PRECISION[+cl][+compile][+baseline], e.g. bf16+cl"
        )
    return Variant(precision, *(f in flags for f in VARIANT_FLAGS))


def variants(
    precisions: list[str], layouts: list[str], compile: bool, baseline: bool = True
) -> list[Variant]:
    """Every precision x layout (x compile), after the fp32 baseline when ``baseline``."""
    out = [Variant(p, layout == "cl") for p in precisions for layout in layouts]
    out += [dataclasses.replace(v, compile=True) for v in out] if compile else []
    return [BASELINE, *out] if baseline else out


def synthetic_batch(cfg: TrainConfig, device: torch.device) -> dict[str, torch.Tensor]:
    """A fixed batch of images in [-1, 1] as the DataLoader yields them (pinned on CUDA)."""
    g = torch.Generator().manual_seed(0)
    shape = (cfg.batch_size, 3, cfg.image_size, cfg.image_size)
    batch = {k: torch.rand(shape, generator=g) * 2 - 1 for k in ("a", "b")}
    return {k: v.pin_memory() for k, v in batch.items()} if device.type == "cuda" else batch


def variant_config(case: Case, variant: Variant) -> TrainConfig:
    """``case``'s config with ``variant``'s precision, layout and compile setting."""
    return dataclasses.replace(
        case.cfg,
        precision=variant.precision,
        channels_last=variant.channels_last,
        compile=variant.compile,
    )
