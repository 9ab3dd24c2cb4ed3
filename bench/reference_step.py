"""Time one training step of the reference implementation on the CPU.

The reference is junyanz/pytorch-CycleGAN-and-pix2pix at upstream commit 2a7afba (no
``--gpu_ids`` any more). Nothing of it is copied here: it is imported from the checkout given by
``--repo``, its options are parsed by its own ``TrainOptions`` and its model is built by
``models.create_model`` + ``model.setup``, as its ``train.py`` does. One fixed, seeded synthetic
batch (A, B in [-1, 1]) goes in through ``model.set_input``; after ``--warmup`` untimed steps,
each of ``--repeats`` ``model.optimize_parameters()`` calls is timed. No dataset is read; the
only file written is the reference's options dump, into a temporary ``--checkpoints_dir``.

Configurations (``--config``, default both in turn), unet_128 + 70x70 PatchGAN, 128 px:
  pix2pix    batch norm, vanilla GAN, L1 x 100, AtoB, dropout on (the reference's pix2pix default)
  cycle_gan  instance norm, LSGAN, pool 50, identity 0.5, cycle 10/10, no dropout (its default)

The CPU is forced by hiding CUDA before torch is imported: at this commit the device is
``opt.device``, which ``train.py`` sets, and ``networks.init_net`` moves nets to cuda:0 whenever
CUDA is available. Keys of the JSON rows follow ``cg bench`` (step_s, images_per_s, ...). The
reference's own printing (options table, network sizes) goes to stderr. For a checkout without
``.git`` (e.g. from ``git archive``) give ``--ref-commit`` to record which commit it is.

Run:  python bench/reference_step.py --repo /work/reference/pytorch-CycleGAN-and-pix2pix \\
          --out ref.json   [--config pix2pix] [--threads 2] [--warmup 2 --repeats 5]
"""

from __future__ import annotations

import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the reference moves nets to cuda:0 if it sees one

import argparse
import contextlib
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import torch

CONFIGS: dict[str, list[str]] = {
    "pix2pix": "--model pix2pix --netG unet_128 --netD basic --norm batch --gan_mode vanilla"
    " --lambda_L1 100 --direction AtoB".split(),
    "cycle_gan": "--model cycle_gan --netG unet_128 --netD basic --norm instance --gan_mode lsgan"
    " --pool_size 50 --lambda_identity 0.5 --lambda_A 10 --lambda_B 10".split(),
}
REFERENCE_FILES = ("options/train_options.py", "models/__init__.py", "models/pix2pix_model.py")


def import_reference(repo: Path) -> tuple[Any, Any]:
    """The reference's ``TrainOptions`` class and ``models`` package, imported from ``repo``."""
    if not repo.is_dir():
        sys.exit(
            f"error: --repo {repo} is not a directory; give the path of a checkout of "
            "pytorch-CycleGAN-and-pix2pix (commit 2a7afba)"
        )
    missing = [f for f in REFERENCE_FILES if not (repo / f).is_file()]
    if missing:
        sys.exit(
            f"error: --repo {repo} is not the reference (no {', '.join(missing)}); give the "
            "root of a pytorch-CycleGAN-and-pix2pix checkout (commit 2a7afba)"
        )
    sys.path.insert(0, str(repo))
    import models  # type: ignore[import-not-found]
    from options.train_options import TrainOptions  # type: ignore[import-not-found]

    if Path(models.__file__).resolve().parent != (repo / "models").resolve():
        sys.exit(
            f"error: 'models' was imported from {models.__file__}, not from {repo}; "
            "run from a directory without its own models/options/data/util packages"
        )
    return TrainOptions, models


def reference_commit(repo: Path) -> str | None:
    """``git rev-parse HEAD`` of ``repo`` when it is a git checkout, else None."""
    try:
        git = ["git", "-C", str(repo), "rev-parse", "HEAD"]
        out = subprocess.run(git, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def cpu_info() -> tuple[str, set[str]]:
    """The CPU's model name and flags, from ``/proc/cpuinfo`` (else ``platform``)."""
    name, flags = platform.processor() or "unknown", set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() in ("flags", "Features"):
                flags = set(value.split())
            if key.strip() == "" and flags:  # the first processor is enough
                break
    return name, flags


def run_config(
    TrainOptions: Any, models: Any, config: str, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    """Build ``config`` through the reference's options and time ``optimize_parameters``."""
    ref: dict[str, object] = {
        "dataroot": tmp / "no-dataset",
        "name": "bench",
        "checkpoints_dir": tmp / "ckpt",
    }
    ref |= {"batch_size": args.batch, "load_size": args.size, "crop_size": args.size}
    ref |= {"input_nc": 3, "output_nc": 3, "num_threads": 0}
    argv = [x for k, v in ref.items() for x in (f"--{k}", str(v))]
    argv += ["--no_html", *CONFIGS[config]]
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    saved_argv = sys.argv
    sys.argv = ["train.py", *argv]  # TrainOptions parses sys.argv (parse_known_args + parse_args)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # its option table and network summaries
            opt = TrainOptions().parse()
            opt.device = torch.device("cpu")  # train.py sets this from init_ddp()
            model = models.create_model(opt)
            model.setup(opt)
    finally:
        sys.argv = saved_argv
    g = torch.Generator().manual_seed(args.seed)
    shape = (args.batch, 3, args.size, args.size)
    batch = {
        "A": torch.rand(shape, generator=g) * 2 - 1,
        "B": torch.rand(shape, generator=g) * 2 - 1,
        "A_paths": [f"A/{i}.png" for i in range(args.batch)],
        "B_paths": [f"B/{i}.png" for i in range(args.batch)],
    }
    load_before = [round(x, 2) for x in os.getloadavg()]
    times: list[float] = []
    for i in range(args.warmup + args.repeats):
        model.set_input(batch)
        t0 = time.perf_counter()
        model.optimize_parameters()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    step = median(times)
    name, flags = cpu_info()
    return {
        "implementation": "reference",
        "config": config,
        "batch_size": args.batch,
        "image_size": args.size,
        "dropout": not opt.no_dropout,
        "norm": opt.norm,
        "gan_mode": opt.gan_mode,
        "device": str(model.device),
        "warmup": args.warmup,
        "step_s_all": times,
        "step_s": step,
        "images_per_s": args.batch / step,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": name,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "reference_repo": str(args.repo),
        "reference_commit": args.ref_commit,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Time the reference's training step on the CPU.")
    p.add_argument("--repo", type=Path, required=True, help="reference checkout (commit 2a7afba)")
    p.add_argument("--config", choices=[*CONFIGS, "both"], default="both")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="default: torch's current count")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ref-commit", default=None, help="recorded as is (default: git rev-parse)")
    p.add_argument("--out", type=Path, default=None, help="write the rows here as JSON")
    args = p.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0 or args.batch < 1:
        p.error("--repeats and --batch must be >= 1, --warmup >= 0")
    args.repo = args.repo.expanduser().resolve()
    TrainOptions, models = import_reference(args.repo)
    args.ref_commit = args.ref_commit or reference_commit(args.repo)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory(prefix="reference-step-") as tmp:
        for config in CONFIGS if args.config == "both" else [args.config]:
            row = run_config(TrainOptions, models, config, args, Path(tmp))
            rows.append(row)
            print(
                f"reference {config:<9} batch {row['batch_size']} {row['image_size']} px: "
                f"{row['step_s']:.3f} s/step (median of {len(row['step_s_all'])}), "
                f"{row['images_per_s']:.2f} img/s, {row['threads']} threads, "
                f"load {row['load_average_before'][0]:.2f} -> {row['load_average_after'][0]:.2f}",
                flush=True,
            )
    print(
        f"cpu: {rows[0]['cpu']}; avx512_bf16 {rows[0]['avx512_bf16']}, amx_bf16 "
        f"{rows[0]['amx_bf16']}; torch {rows[0]['torch']}"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
