"""``cg translate``, ``cg info``, ``cg import-official``: use a trained generator, describe a
checkpoint, import one from the reference implementation."""

from __future__ import annotations

import argparse
from typing import Any

from cg.errors import UserError


def add(sub: Any) -> None:
    _add_translate(sub)
    _add_info(sub)
    _add_import_official(sub)


def _add_translate(sub: Any) -> None:
    p = sub.add_parser("translate", help="apply a trained generator to a folder of images")
    p.add_argument("--checkpoint", required=True, help="a cg checkpoint (.pt)")
    p.add_argument(
        "--direction",
        required=True,
        choices=("ab", "ba"),
        help="ab: g_ab translates A images to B; ba: the reverse",
    )
    p.add_argument("--input", required=True, help="folder of images (searched recursively)")
    p.add_argument("--output", required=True, help="folder for the outputs (same file names)")
    p.add_argument(
        "--half",
        choices=("a", "b"),
        help="inputs are A|B pair files: translate their left (a) or right (b) half",
    )
    p.add_argument("--batch-size", type=int, default=8, help="images per forward pass")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_run_translate)


def _run_translate(args: argparse.Namespace) -> None:
    from cg.translate import translate_folder

    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size} must be at least 1")
    written = translate_folder(
        args.checkpoint,
        args.direction,
        args.input,
        args.output,
        half=args.half,
        batch_size=args.batch_size,
        device=args.device,
        progress=not args.no_progress,
    )
    print(f"wrote {len(written)} image(s) to {args.output}")


def _add_info(sub: Any) -> None:
    p = sub.add_parser("info", help="describe a checkpoint")
    p.add_argument("checkpoint", help="a cg checkpoint (.pt)")
    p.set_defaults(func=_run_info)


def _run_info(args: argparse.Namespace) -> None:
    from cg.translate import checkpoint_info

    print(checkpoint_info(args.checkpoint))


def _add_import_official(sub: Any) -> None:
    from typing import get_args

    from cg.config import Generator

    reference = [g for g in get_args(Generator) if g != "unet"]  # cg.models.official.GENERATORS
    p = sub.add_parser(
        "import-official",
        help="convert a pytorch-CycleGAN-and-pix2pix generator (.pth) into a cg checkpoint",
    )
    p.add_argument("path", metavar="PATH", help="reference latest_net_G.pth or *_net_G_A.pth")
    p.add_argument(
        "--generator",
        required=True,
        choices=reference,
        help="the reference --netG it was trained with (resnet_9 = resnet_9blocks)",
    )
    p.add_argument(
        "--norm",
        choices=("batch", "instance"),
        default=None,
        help="the reference --norm (default: inferred from the weights)",
    )
    p.add_argument(
        "--direction",
        choices=("ab", "ba"),
        default="ab",
        help="ab: pix2pix G or CycleGAN G_A (A->B); ba: CycleGAN G_B (default: ab)",
    )
    p.add_argument("--out", required=True, metavar="CKPT", help="cg checkpoint to write")
    p.set_defaults(func=_run_import_official)


def _run_import_official(args: argparse.Namespace) -> None:
    from cg.checkpoints import load_checkpoint
    from cg.models.official import import_official

    out = import_official(args.path, args.generator, args.norm, args.out, args.direction)
    data = load_checkpoint(out)
    cfg, state = data["config"], data["models"][f"g_{args.direction}"]
    params = sum(v.numel() for k, v in state.items() if k.endswith(("weight", "bias")))
    print(
        f"imported {cfg['generator']} (base channels {cfg['base_channels']}, {cfg['norm']} norm, "
        f"{params:,} parameters) from {args.path} as g_{args.direction} into {out}"
    )
    if args.direction == "ab" and "net_G_B" in str(args.path):
        print("note: the file name says CycleGAN's G_B (B->A); if so, import with --direction ba")
