"""``cg demo``: a web page (Gradio) to try a trained run: upload or draw, see its translations."""

from __future__ import annotations

import argparse
from typing import Any


def add(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="a web page to try a trained run: translate uploaded images (needs Gradio)",
    )
    p.add_argument(
        "run",
        metavar="RUN",
        help="a run folder (made by `cg train --out`: its checkpoints/last.pt) or a checkpoint",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    p.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="where the generators run (default: auto, as `cg translate`)",
    )
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> None:
    # heavy (torch, and Gradio): loaded when the command runs, so that `cg --help` stays fast
    from cg.demo.page import serve

    serve(args.run, host=args.host, port=args.port, device=args.device)
