"""``cg bench``: training, data loading and translation speed, against a baseline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cg.errors import UserError
from cg.files import atomic_write_text


def add(sub: Any) -> None:
    p = sub.add_parser("bench", help="measure training, data loading and translation speed")
    p.add_argument("--out", metavar="FILE.json", help="also write the results as JSON")
    p.add_argument("--quick", action="store_true", help="CI-sized shapes and few steps")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument(
        "--precision",
        default="fp32",
        metavar="LIST",
        help="comma-separated precisions to compare: fp32,bf16,fp16 (default: fp32)",
    )
    p.add_argument(
        "--layout",
        default="nchw,cl",
        metavar="LIST",
        help="memory layouts to compare: nchw,cl (channels_last) (default: both)",
    )
    p.add_argument(
        "--compile", action="store_true", help="also time every variant under torch.compile"
    )
    p.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time fp32+baseline first: the same step with PyTorch's defaults, "
        "without cg's CPU fast paths (default: on)",
    )
    p.add_argument(
        "--variants",
        metavar="LIST",
        help="exactly these variants instead, e.g. fp32+baseline,fp32+cl,bf16+cl+compile",
    )
    p.add_argument(
        "--sizes",
        metavar="LIST",
        help="image sizes of the report's configuration (default: 64,128,256)",
    )
    p.add_argument(
        "--cases",
        default="report,reference,reference-cyclegan",
        metavar="LIST",
        help="report (U-Net CycleGAN, batch 16), reference (the reference's unet_128 pix2pix) "
        "and/or reference-cyclegan (its unet_128 CycleGAN) (default: all three)",
    )
    p.add_argument(
        "--parts",
        default="ceilings,training,epochs,profile,data,translate",
        metavar="LIST",
        help="what to measure (default: all of ceilings,training,epochs,profile,data,"
        "translate); epochs: whole `cg train` epochs of the reference cases, end to end; "
        "grid (not in the default): the report's runs side by side in several layouts "
        "(runs x threads), the measurement behind `cg report`'s default workers; stacking "
        "(not in the default): seeds' generators stacked into one network (torch.func vmap) "
        "against separate networks",
    )
    p.add_argument(
        "--epochs",
        type=int,
        help="epochs per variant in the epochs part; the first is left out (default: 4; quick: 2)",
    )
    p.add_argument(
        "--reference",
        metavar="FILE.json",
        help="the reference implementation's step times, measured on this machine by "
        "bench/reference_step.py --out FILE.json: the tables then show cg against them",
    )
    p.add_argument("--warmup", type=int, help="untimed steps first (default: 2; quick: 1)")
    p.add_argument("--repeats", type=int, help="timed steps (default: 5; quick: 2)")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="time the variants in turn this many times (shares a changing load)",
    )
    p.add_argument(
        "--seconds",
        type=float,
        default=120.0,
        help="time budget per variant and round: fewer steps when they are slow, "
        "never fewer than 2 timed (default: 120)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """``cg bench``: run, print the table, write ``--out`` JSON."""
    from cg.bench.run import run_bench  # heavy: keeps cg --help fast
    from cg.bench.table import TARGETS, format_table  # heavy: keeps cg --help fast

    def split(s: str) -> tuple[str, ...]:
        return tuple(x.strip() for x in s.split(",") if x.strip())

    try:
        sizes = (
            tuple(int(s) for s in split(args.sizes))
            if args.sizes
            else ((32,) if args.quick else (64, 128, 256))
        )
    except ValueError:
        raise UserError(f"--sizes {args.sizes!r}: expected comma-separated integers") from None
    reference = _read_reference(args.reference) if args.reference else None
    result = run_bench(
        device=args.device,
        sizes=sizes,
        cases=split(args.cases),
        precisions=split(args.precision),
        layouts=split(args.layout),
        compile=args.compile,
        baseline=args.baseline,
        variant_names=split(args.variants or ""),
        parts=split(args.parts),
        warmup=args.warmup if args.warmup is not None else (1 if args.quick else 2),
        repeats=args.repeats if args.repeats is not None else (2 if args.quick else 5),
        rounds=args.rounds,
        seconds=args.seconds,
        epochs=args.epochs if args.epochs is not None else (2 if args.quick else 4),
        quick=args.quick,
        log=lambda msg: print(f"... {msg}", file=sys.stderr, flush=True),
    )
    result["targets"] = TARGETS
    if reference is not None:
        result["reference"] = reference
    if args.out:
        atomic_write_text(Path(args.out), json.dumps(result, indent=2) + "\n")
    print(format_table(result), end="")
    if args.out:
        print(f"wrote {args.out}")


def _read_reference(path: str) -> list[dict[str, Any]]:
    """The rows bench/reference_step.py wrote (one per reference configuration)."""
    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UserError(f"--reference {path}: cannot read it ({e})") from None
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and {"config", "images_per_s", "batch_size", "image_size"} <= set(r)
        for r in rows
    ):
        raise UserError(
            f"--reference {path}: not the JSON of bench/reference_step.py --out (a list of rows "
            "with config, images_per_s, batch_size, image_size)"
        )
    return rows
