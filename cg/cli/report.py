"""``cg report``: run every notebook and write ``reports/report.html``."""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path
from typing import Any

from cg.cli.args import add_output_flags, key_value_pairs, wants_progress
from cg.errors import UserError
from cg.progress import progress_enabled


def add(sub: Any) -> None:
    p = sub.add_parser("report", help="run every notebook and write reports/report.html")
    p.add_argument(
        "--profile",
        default="default",
        metavar="smoke|default|long|gpu|full|FILE.yaml",
        help="parameters: params/<name>.yaml or a YAML file (default: default)",
    )
    p.add_argument(
        "--data-root",
        metavar="DIR",
        help="folder holding cityscapes/, edges2shoes/, face2simpson/ (pix2pix or "
        "unpaired format); missing ones use the built-in synthetic data",
    )
    p.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="one dataset's folder, e.g. --data cityscapes=data/cityscapes",
    )
    p.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a notebook parameter for every notebook, e.g. -p epochs=5",
    )
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NOTEBOOK",
        help="run only this notebook (repeatable)",
    )
    p.add_argument(
        "--out",
        default="reports",
        help="folder for the executed notebooks and report.html (default: reports)",
    )
    p.add_argument("--root", default=".", help="repository root with notebooks/ and params/")
    p.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="train N runs at a time on this machine (1: one run at a time with every "
        "thread; default: sized to the machine, see docs/grid.md)",
    )
    p.add_argument(
        "--threads",
        type=_positive,
        metavar="N",
        help="torch threads per run (default: the layout's; on a Dask worker, its own)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="train the runs on the Dask cluster whose scheduler is at ADDRESS "
        "(e.g. tcp://10.0.0.5:8786); every worker needs the repository and the data at the "
        "same paths as here",
    )
    add_output_flags(p)
    p.add_argument(
        "--store-outputs",
        action="store_true",
        help="maintenance: run the notebooks (or --only ones) with their committed "
        "parameters and store the outputs nbval checks in them",
    )
    p.set_defaults(func=run)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def run(args: argparse.Namespace) -> None:
    """Run the report; with ``--quiet`` the lines it prints per notebook are left out and only
    the path of the report is printed."""
    # heavy (torch, papermill, the notebooks' libraries): imported when the command runs, so
    # that `cg --help` stays fast
    from cg.report.notebooks import report, store_checked_outputs
    from cg.report.runs.profiles import NOTEBOOKS

    if args.scheduler and args.workers:
        raise UserError(
            "--workers sizes this machine's pool; with --scheduler the cluster's workers "
            "decide how many runs train at a time"
        )
    if args.store_outputs:
        for name in args.only or NOTEBOOKS:
            path = Path(args.root) / "notebooks" / f"{name}.ipynb"
            print(f"{path}: stored the outputs of {store_checked_outputs(path)} checked cells")
        return
    quiet = contextlib.redirect_stdout(io.StringIO()) if args.quiet else contextlib.nullcontext()
    with quiet:
        html = report(
            args.profile,
            root=args.root,
            data_root=args.data_root,
            data=key_value_pairs(args.data, "--data", parse=False),
            overrides=key_value_pairs(args.param, "-p"),
            out_dir=args.out,
            only=args.only,
            progress=progress_enabled(wants_progress(args)),  # papermill's bar, cg's rule
            workers=args.workers,
            threads=args.threads,
            scheduler=args.scheduler,
        )
    if args.quiet:
        print(f"report: {html}")
