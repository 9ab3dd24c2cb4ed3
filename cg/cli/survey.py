"""``cg survey table|build|serve``: the human survey (R8)."""

from __future__ import annotations

import argparse
from typing import Any

from cg.cli.args import Parser
from cg.errors import UserError


def add(sub: Any) -> None:
    p = sub.add_parser("survey", help="the human survey (R8): tables, build, rating page")
    ss = p.add_subparsers(dest="survey_command", required=True, parser_class=Parser)

    t = ss.add_parser("table", help="per-rater marks, mean, std, n and bootstrap 95%% CI")
    t.add_argument(
        "file",
        nargs="?",
        default="survey/responses.csv",
        metavar="FILE",
        help="responses CSV, or a survey folder (default: survey/responses.csv)",
    )
    t.set_defaults(func=_run_survey_table)

    b = ss.add_parser("build", help="translate random inputs into a survey's grid and manifest")
    b.add_argument("--checkpoint", required=True, help="a cg checkpoint (.pt)")
    b.add_argument(
        "--direction",
        required=True,
        choices=("ab", "ba"),
        help="ab: g_ab translates A images to B; ba: the reverse",
    )
    b.add_argument("--input", required=True, help="folder of source images (recursive)")
    b.add_argument("--n", type=int, default=8, help="number of images (default: 8)")
    b.add_argument("--seed", type=int, default=0, help="seed of the random choice (default: 0)")
    b.add_argument(
        "--out",
        required=True,
        metavar="survey/NAME",
        help="survey folder to create; its name is the survey's name",
    )
    b.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    b.set_defaults(func=_run_survey_build)

    s = ss.add_parser("serve", help="serve the rating page and results of a survey folder")
    s.add_argument("folder", metavar="survey/NAME", help="a folder made by `cg survey build`")
    s.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    s.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0 = any free)")
    s.add_argument("--quiet", action="store_true", help="do not log each request")
    s.set_defaults(func=_run_survey_serve)


def _run_survey_table(args: argparse.Namespace) -> None:
    from cg.survey.table import format_report, load_responses  # heavy: keeps cg --help fast

    print(format_report(load_responses(args.file), args.file), end="")


def _run_survey_build(args: argparse.Namespace) -> None:
    from cg.survey.build import build_survey  # heavy: keeps cg --help fast

    m = build_survey(
        args.checkpoint,
        args.direction,
        args.input,
        args.out,
        n=args.n,
        seed=args.seed,
        device=args.device,
    )
    print(
        f"wrote survey {m['survey']!r} ({m['n']} images, {args.direction}) to {args.out}: "
        f"grid.png, pairs/, manifest.json; serve it with `cg survey serve {args.out}`"
    )


def _run_survey_serve(args: argparse.Namespace) -> None:
    from cg.survey.server import serve  # heavy: keeps cg --help fast

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} must be between 0 and 65535")
    serve(args.folder, host=args.host, port=args.port, verbose=not args.quiet)
