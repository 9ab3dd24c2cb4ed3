"""``cg train``: flags generated from :class:`cg.config.TrainConfig`, so no default is written
twice."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cg.cli.args import add_config_flags, add_output_flags, config_overrides, wants_progress
from cg.config import PRESETS, config_from_dict, make_config, validate
from cg.errors import UserError


def add(sub: Any) -> None:
    p = sub.add_parser("train", help="train a model; writes a run folder")
    p.add_argument("--out", required=True, help="run folder (config.json, history.csv, ...)")
    p.add_argument("--preset", choices=sorted(PRESETS), help="a dataset's report settings")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="train without the unreadable images instead of refusing to start",
    )
    add_output_flags(p)
    p.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write TensorBoard events (every history column, the sample grids, the "
        "config) into OUT/tensorboard/; watch with `tensorboard --logdir runs`",
    )
    add_config_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """Build the config from preset + flags (or the run's own config on resume), train, print.

    Under torchrun every rank runs this; rank 0 reads the run folder and prints.
    """
    from cg.train import distributed  # heavy: keeps cg --help fast
    from cg.train.loop import train  # heavy: keeps cg --help fast
    from cg.train.run_dir import RunDir  # csv, fcntl: keeps cg --help fast

    out = RunDir(Path(args.out))
    overrides = config_overrides(args)
    info = distributed.init()
    try:
        if args.resume:
            saved = distributed.on_main(out.saved_config, info)
            if args.preset and args.preset != saved.get("preset"):
                raise UserError(
                    f"cannot resume {out.root} with --preset {args.preset}: it was "
                    f"started with preset {saved.get('preset') or 'none'!r}"
                )
            cfg = validate(config_from_dict({**saved, **overrides}))
        else:
            cfg = make_config(args.preset, **overrides)
        history = train(
            cfg,
            out,
            resume=args.resume,
            skip_bad=args.skip_bad,
            progress=wants_progress(args),
            quiet=args.quiet,
            tensorboard=args.tensorboard,
        )
    finally:
        distributed.teardown()
    if not info.is_main:
        return
    print(f"run folder: {out.root} ({len(history)} epochs in {out.history_path.name})")
    if len(history):
        last = history.iloc[-1].dropna().to_dict()
        rounded = {k: round(v, 6) if isinstance(v, float) else v for k, v in last.items()}
        print("last epoch: " + json.dumps(rounded))
