"""The ``cg`` command: one module per command group, each with ``add(subparsers)``, which
declares its flags and sets ``func`` to the function that runs it.

``cg train`` (:mod:`cg.cli.train`); ``cg translate``, ``cg export``, ``cg info``,
``cg import-official`` (:mod:`cg.cli.models`); ``cg survey`` (:mod:`cg.cli.survey`); ``cg demo``
(:mod:`cg.cli.demo`); ``cg report`` (:mod:`cg.cli.report`); ``cg fid``, ``cg weights``
(:mod:`cg.cli.fid`); ``cg bench`` (:mod:`cg.cli.bench`); ``cg synth``, ``cg data``
(:mod:`cg.cli.data`). The work itself lives in the library; the command modules import it when
a command runs, so ``cg --help`` is quick.

Every :class:`cg.errors.UserError` (and every argparse error) is printed as one line
``error: …`` with exit status 2 and no traceback; Ctrl-C as ``error: interrupted`` with status
130, and SIGTERM as ``error: terminated`` with status 143 (:mod:`cg.errors`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cg import __version__, errors
from cg.cli import bench, data, demo, fid, models, report, survey, train
from cg.cli.args import Parser, add_config_flags, config_overrides
from cg.errors import UserError

__all__ = ["add_config_flags", "build_parser", "config_overrides", "main"]

#: The command groups, in the order of ``cg --help``.
GROUPS = (train, models, survey, demo, report, fid, bench, data)


def build_parser() -> argparse.ArgumentParser:

    parser = Parser(prog="cg", description="U-Net CycleGAN image-to-image translation")
    parser.add_argument("--version", action="version", version=f"cg {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in GROUPS:
        group.add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        with errors.handled(program=argv is None):  # argv None: this process's own command line
            parser = build_parser()
            try:
                args = parser.parse_args(argv)
            except SystemExit as e:  # --help, --version and argparse errors (already printed)
                return e.code if isinstance(e.code, int) else 2
            args.func(args)
    except UserError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (cg.errors.Terminated)
        sys.stderr.flush()
        return errors.report(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
