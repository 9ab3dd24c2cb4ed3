"""``cg translate``, ``cg export``, ``cg info``, ``cg import-official``: use a trained
generator, export it (ONNX, TorchScript), describe a checkpoint, import one from the reference
implementation."""

from __future__ import annotations

import argparse
from typing import Any, get_args

from cg.checkpoints import load_checkpoint
from cg.cli.args import add_output_flags, wants_progress
from cg.config import Generator
from cg.errors import UserError
from cg.export import SUFFIXES, export_generator


def add(sub: Any) -> None:
    _add_translate(sub)
    _add_export(sub)
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
    p.add_argument(
        "--output",
        required=True,
        help="folder for the outputs (the inputs' relative names, with the suffix of --format)",
    )
    p.add_argument(
        "--format",
        choices=("png", "jpg", "same"),
        default="png",
        help="png (default): lossless, what FID or pixel errors measured on the outputs need; "
        "jpg: JPEG quality 95 (lossy); same: each input's own suffix and format",
    )
    p.add_argument(
        "--half",
        choices=("a", "b"),
        help="inputs are A|B pair files: translate their left (a) or right (b) half",
    )
    p.add_argument("--batch-size", type=int, default=8, help="images per forward pass")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    add_output_flags(p)
    p.set_defaults(func=_run_translate)


def _run_translate(args: argparse.Namespace) -> None:
    from cg.translate import DIRECTIONS, translate_folder  # heavy: keeps cg --help fast

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
        progress=wants_progress(args),
        image_format=args.format,
    )
    src, dst = args.direction[0].upper(), args.direction[1].upper()
    n = len(written)
    print(
        f"translated {n} image{'s' if n != 1 else ''} {src} -> {dst} "
        f"({DIRECTIONS[args.direction]}) into {args.output}"
    )


def _add_export(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="write one generator as an ONNX or TorchScript file (eval mode, any batch and size)",
    )
    p.add_argument("--checkpoint", required=True, help="a cg checkpoint (.pt)")
    p.add_argument(
        "--direction",
        required=True,
        choices=("ab", "ba"),
        help="ab: the generator g_ab (A -> B); ba: g_ba (B -> A)",
    )
    p.add_argument(
        "--format",
        choices=tuple(SUFFIXES),
        default=None,
        help="onnx (recommended) or torchscript (deprecated by PyTorch since 2.5); "
        "default: from the suffix of --out (.onnx; .pt, .ts, .torchscript)",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    p.set_defaults(func=_run_export)


def _run_export(args: argparse.Namespace) -> None:
    print(export_generator(args.checkpoint, args.direction, args.format, args.out).summary())


def _add_info(sub: Any) -> None:
    p = sub.add_parser("info", help="describe a checkpoint")
    p.add_argument("checkpoint", help="a cg checkpoint (.pt)")
    p.set_defaults(func=_run_info)


def _run_info(args: argparse.Namespace) -> None:
    from cg.translate import checkpoint_info  # heavy: keeps cg --help fast

    print(checkpoint_info(args.checkpoint))


def _add_import_official(sub: Any) -> None:
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
    from cg.models.official import import_official  # heavy: keeps cg --help fast

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
