"""What every ``cg`` subcommand shares: the parser class, the config flags, KEY=VALUE lists."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from cg.config import _TYPE_HINTS, TrainConfig, field_choices
from cg.errors import UserError


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``error: …`` line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {self.prog}: {message}\n")
        sys.exit(2)


def add_output_flags(p: argparse.ArgumentParser) -> None:
    """``--no-progress`` and ``--quiet``, for the commands that draw progress bars (bars are
    also off when stderr is not a terminal, or with ``TQDM_DISABLE=1``: :mod:`cg.progress`)."""
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument(
        "--quiet",
        action="store_true",
        help="print only errors, warnings and the final summary (no bars, no per-epoch lines)",
    )


def wants_progress(args: argparse.Namespace) -> bool:
    """Whether the command line asks for progress bars (see :func:`add_output_flags`)."""
    return not (args.no_progress or args.quiet)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_flags(p: argparse.ArgumentParser, skip: Sequence[str] = ()) -> None:
    """Add one flag per :class:`TrainConfig` field; every default is ``None`` (= not given)."""
    for f in dataclasses.fields(TrainConfig):
        if f.name in skip or not f.metadata.get("cli", True):
            continue
        hint = _TYPE_HINTS[f.name]
        helptext = f"{f.metadata['help']} (default: {f.default})"
        if f.name == "paired":
            g = p.add_mutually_exclusive_group()
            g.add_argument(
                "--paired",
                dest="paired",
                action="store_true",
                default=None,
                help="paired training on A|B pairs",
            )
            g.add_argument(
                "--unpaired",
                dest="paired",
                action="store_false",
                default=None,
                help="unpaired training (default: from the data's format)",
            )
        elif hint is bool or hint == (bool | None):
            p.add_argument(
                _flag(f.name),
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=helptext,
            )
        elif (choices := field_choices(f)) is not None:
            p.add_argument(_flag(f.name), dest=f.name, choices=choices, default=None, help=helptext)
        else:
            p.add_argument(
                _flag(f.name),
                dest=f.name,
                type=hint,
                default=None,
                metavar=f.name.upper(),
                help=helptext,
            )


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`TrainConfig` fields the user gave explicitly on the command line."""
    names = {f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get("cli", True)}
    return {k: v for k, v in vars(args).items() if k in names and v is not None}


def key_value_pairs(items: Sequence[str], flag: str, *, parse: bool = True) -> dict[str, Any]:
    """``["k=v", ...]`` -> ``{k: v}``; with ``parse`` each value is read as YAML (``5`` -> 5)."""
    import yaml  # slow (~10 ms): keeps cg --help fast

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"{flag} {item!r}: expected KEY=VALUE")
        out[key] = yaml.safe_load(value) if parse else value
    return out
