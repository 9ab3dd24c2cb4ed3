"""``cg synth`` and ``cg data check|download|prepare-cityscapes|prepare-unpaired``.

The defaults in the help texts are those of :func:`cg.data.synthesize` (the CLI passes only the
flags given); tests/test_synthetic.py checks they agree.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from cg.cli.args import Parser, add_output_flags, wants_progress
from cg.data import SYNTHETIC_NAMES
from cg.data import download as dl
from cg.errors import UserError


def add(sub: Any) -> None:
    _add_synth(sub)
    p = sub.add_parser("data", help="check, download and prepare datasets")
    actions = p.add_subparsers(
        dest="data_command", required=True, metavar="ACTION", parser_class=Parser
    )
    for add_action in (
        _add_data_check,
        _add_data_download,
        _add_data_prepare_cityscapes,
        _add_data_prepare_unpaired,
    ):
        add_action(actions)


def _add_synth(sub: Any) -> None:
    p = sub.add_parser("synth", help="write a built-in synthetic dataset in its real format")
    p.add_argument(
        "name",
        choices=SYNTHETIC_NAMES,
        help="cityscapes, edges2shoes (pix2pix A|B pairs) or face2simpson (unpaired)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="folder to write: new, empty, or an earlier `cg synth` output",
    )
    p.add_argument(
        "--size", type=int, metavar="N", help="side of each image in pixels (default: 64)"
    )
    p.add_argument(
        "--n-train",
        type=int,
        metavar="N",
        help="training pairs, or training images per domain (default: 200)",
    )
    p.add_argument(
        "--n-val",
        type=int,
        metavar="N",
        help="validation pairs, or validation images per domain (default: 20)",
    )
    p.add_argument(
        "--seed",
        type=int,
        metavar="S",
        help="random seed: the same seed writes the same files (default: 0)",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="rendering processes (default: one per core, for 32 images or more each)",
    )
    p.set_defaults(func=_run_synth)


def _run_synth(args: argparse.Namespace) -> None:
    from cg.data.synthetic import synthesize  # heavy (numpy, PIL): keeps cg --help fast

    given = {k: getattr(args, k) for k in ("size", "n_train", "n_val", "seed")}
    start = time.perf_counter()
    files = synthesize(
        args.name,
        args.out,
        workers=args.workers,
        **{k: v for k, v in given.items() if v is not None},
    )
    unit = "pairs" if files.paired else "images per domain"
    print(
        f"wrote {args.name} to {files.root} ({files.format} format): {len(files.train_a)} "
        f"training and {len(files.val_a)} validation {unit} "
        f"in {time.perf_counter() - start:.1f} s"
    )


def _add_data_check(actions: Any) -> None:
    p = actions.add_parser("check", help="layout, counts, sizes and unusable files of a dataset")
    p.add_argument("root", metavar="DIR", help="dataset folder (pix2pix or unpaired format)")
    p.set_defaults(func=_run_data_check)


def _run_data_check(args: argparse.Namespace) -> None:
    from cg.data.check import check_dataset  # heavy (numpy, PIL): keeps cg --help fast

    report = check_dataset(args.root)
    print("\n".join(report.lines()))
    if report.problems:
        raise UserError(
            f"{len(report.problems)} of {report.total} files in {report.files.root} cannot be "
            "used (listed above); fix or remove them, or train with --skip-bad"
        )


def _add_data_download(actions: Any) -> None:
    p = actions.add_parser(
        "download",
        help="download a reference pix2pix or CycleGAN dataset into ROOT/NAME",
        description="Resumable download (HTTP Range) with size and optional SHA-256 checks, "
        "then safe extraction. Names both reference scripts offer (facades, maps, cityscapes) "
        "mean the pix2pix set; cyclegan/NAME is the CycleGAN one.",
    )
    p.add_argument(
        "name",
        metavar="NAME",
        help="one of: "
        + ", ".join(dl.SOURCES)
        + " (also pix2pix/NAME, cyclegan/NAME); any name with --url",
    )
    p.add_argument("--root", required=True, metavar="DIR", help="folder that receives NAME/")
    p.add_argument("--url", help="download from this address instead of the reference's")
    p.add_argument("--sha256", metavar="HEX", help="expected SHA-256 of the archive")
    p.add_argument("--overwrite", action="store_true", help="replace an existing ROOT/NAME")
    p.add_argument(
        "--keep-archive",
        action="store_true",
        help="keep ROOT/NAME.tar.gz (or .zip) after extracting it",
    )
    p.add_argument(
        "--max-extract-gb",
        type=float,
        metavar="GB",
        default=dl.DEFAULT_MAX_BYTES / 1024**3,
        help="refuse archives that expand to more (default: %(default)g)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        default=dl.DEFAULT_TIMEOUT,
        help="seconds to wait for the server (default: %(default)g)",
    )
    p.add_argument(
        "--retries",
        type=int,
        metavar="N",
        default=dl.DEFAULT_RETRIES,
        help="resume an interrupted transfer this many times (default: %(default)s)",
    )
    add_output_flags(p)
    p.set_defaults(func=_run_data_download)


def _run_data_download(args: argparse.Namespace) -> None:
    target = dl.download_dataset(
        args.name,
        args.root,
        url=args.url,
        sha256=args.sha256,
        overwrite=args.overwrite,
        keep_archive=args.keep_archive,
        max_bytes=int(args.max_extract_gb * 1024**3),
        timeout=args.timeout,
        retries=args.retries,
        progress=wants_progress(args),
    )
    _print_dataset(target)


def _print_dataset(root: Any) -> None:
    from cg.data import scan_dataset  # slow (PIL): keeps cg --help fast

    try:
        files = scan_dataset(root)
    except UserError as e:
        print(f"wrote {root} (not in a layout cg trains on: {e})")
        return
    unit = "pairs" if files.paired else "images per domain"
    print(
        f"wrote {root} ({files.format} format): {len(files.train_a)}/{len(files.train_b)} "
        f"training and {len(files.val_a)}/{len(files.val_b)} validation {unit} (A/B)"
    )


def _add_data_prepare_cityscapes(actions: Any) -> None:
    p = actions.add_parser(
        "prepare-cityscapes",
        help="pix2pix format (photo | colour map) from official Cityscapes",
        description="Pairs every leftImg8bit photo with its gtFine colour map, resizes both and "
        "saves them side by side (photo = A on the left), train/ and val/, as the reference's "
        "prepare_cityscapes_dataset.py does.",
    )
    p.add_argument(
        "--gtfine",
        required=True,
        metavar="DIR",
        help="unzipped gtFine_trainvaltest (gtFine/ or the folder holding it)",
    )
    p.add_argument(
        "--leftimg8bit",
        required=True,
        metavar="DIR",
        help="unzipped leftImg8bit_trainvaltest (leftImg8bit/ or its parent)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="dataset folder to write")
    p.add_argument(
        "--size",
        type=int,
        default=256,
        metavar="N",
        help="side of each half in pixels (default: %(default)s, the reference's)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    add_output_flags(p)
    p.set_defaults(func=_run_data_prepare_cityscapes)


def _run_data_prepare_cityscapes(args: argparse.Namespace) -> None:
    from cg.data.prepare import prepare_cityscapes  # heavy: keeps cg --help fast

    prepare_cityscapes(
        args.gtfine,
        args.leftimg8bit,
        args.out,
        size=args.size,
        overwrite=args.overwrite,
        progress=wants_progress(args),
    )
    _print_dataset(args.out)


def _add_data_prepare_unpaired(actions: Any) -> None:
    p = actions.add_parser(
        "prepare-unpaired",
        help="trainA/ trainB/ testA/ testB/ from two folders of images",
        description="Copies the readable images under --a and --b (recursively) into a random "
        "train/test split, the same for the same --seed; unreadable files are skipped, counted "
        "and listed in OUT/prepare.json. For face2simpson: --a IMDB-WIKI faces, --b Simpsons.",
    )
    p.add_argument("--a", required=True, metavar="DIR", help="domain A images")
    p.add_argument("--b", required=True, metavar="DIR", help="domain B images")
    p.add_argument("--out", required=True, metavar="DIR", help="dataset folder to write")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        metavar="F",
        help="share of each domain put in testA/ or testB/ (default: %(default)s)",
    )
    p.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of the split (default: %(default)s)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    add_output_flags(p)
    p.set_defaults(func=_run_data_prepare_unpaired)


def _run_data_prepare_unpaired(args: argparse.Namespace) -> None:
    from cg.data.prepare import prepare_unpaired  # heavy: keeps cg --help fast

    report = prepare_unpaired(
        args.a,
        args.b,
        args.out,
        val_fraction=args.val_fraction,
        seed=args.seed,
        overwrite=args.overwrite,
        progress=wants_progress(args),
    )
    if report.skipped:
        few = ", ".join(f"{p.name} ({why})" for p, why in report.skipped[:3])
        sys.stderr.write(
            f"warning: skipped {len(report.skipped)} unreadable files: {few}"
            f"{', ...' if len(report.skipped) > 3 else ''}; all are listed in "
            f"{args.out}/prepare.json\n"
        )
    _print_dataset(args.out)
