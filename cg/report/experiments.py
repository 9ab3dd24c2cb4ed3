"""The report's experiments (R4), as the notebooks run them: data, runs that are reused when
finished, and the tables that describe them.

:func:`dataset` returns the files of a dataset: a user's folder, or the built-in synthetic
stand-in, generated into a cache folder on first use. :func:`experiment` builds a config from a
dataset's preset plus the notebook's parameters, reuses a finished run whose config is the same
(the run folder's name carries a hash of the config), resumes an interrupted one, or trains a
new one, and returns a :class:`Run` with its history.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cg.config import PRESETS, TrainConfig, make_config
from cg.errors import UserError

#: The report's experiment names (R2, R4) and what each changes in the dataset's preset.
EXPERIMENTS: dict[str, dict[str, Any]] = {
    "noadv": {"adversarial": False},
    "adv": {"adversarial": True},
    "cycle_only": {"adversarial": False, "identity": "none"},
    # the ablation the report may have meant by "cycle loss alone": cycle + CycleGAN's identity
    "cycle_classic": {"adversarial": False, "identity": "classic"},
}


@dataclass(frozen=True)
class Run:
    """A finished training run: its experiment name, dataset, folder, config and history."""

    name: str
    dataset: str
    out: Path
    config: TrainConfig
    history: pd.DataFrame
    data: Any  # cg.data.DatasetFiles

    @property
    def checkpoint(self) -> Path:
        """The run's final checkpoint."""
        from cg.train.run_dir import RunDir

        return RunDir(self.out).last


def _synthetic_folder(
    cache_dir: str | Path, name: str, size: int, n_train: int, n_val: int, seed: int
) -> Path:
    from cg.data.synthetic import VERSION

    folder = f"{name}-v{VERSION}-{size}px-{n_train}x{n_val}-seed{seed}"
    return Path(cache_dir) / "synthetic" / folder


def dataset(
    name: str,
    data_root: str | Path = "",
    *,
    cache_dir: str | Path = ".cache",
    image_size: int = 64,
    n_train: int = 200,
    n_val: int = 20,
    seed: int = 0,
) -> Any:
    """The files of dataset ``name`` (a preset: cityscapes, edges2shoes, face2simpson).

    ``data_root`` = "" means the built-in synthetic dataset at ``image_size``, with ``n_train``
    training and ``n_val`` validation images, generated under ``cache_dir/synthetic/`` the
    first time (into a temporary folder, then renamed, so a half-written one is never used).
    Otherwise ``data_root`` is a folder in pix2pix or unpaired format; its format must suit the
    preset (paired presets need pix2pix pairs).
    """
    from cg.data import scan_dataset, synthesize

    if name not in PRESETS:
        raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(PRESETS)}")
    if data_root:
        files = scan_dataset(data_root)
    else:
        if n_train < 1 or n_val < 1:
            raise UserError(
                f"n_train={n_train}, n_val={n_val}: the built-in dataset needs at least one "
                "image per split"
            )
        folder = _synthetic_folder(cache_dir, name, image_size, n_train, n_val, seed)
        if not folder.is_dir():
            tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            synthesize(name, tmp, size=image_size, n_train=n_train, n_val=n_val, seed=seed)
            os.replace(tmp, folder)
        files = scan_dataset(folder)
    wants_pairs = PRESETS[name].get("paired")
    if wants_pairs is not None and files.paired != wants_pairs:
        need = "pix2pix (train/, val/ with A|B pairs)" if wants_pairs else "unpaired (trainA/...)"
        raise UserError(
            f"{files.root}: the {name} experiments need a {need} dataset, not {files.format}"
        )
    return files


def run_folder(runs_dir: str | Path, dataset_name: str, name: str, cfg: TrainConfig) -> Path:
    """``runs_dir/<dataset>-<experiment>-<hash of the config>``: a new config, a new folder."""
    digest = hashlib.sha256(cfg.to_json().encode("utf-8")).hexdigest()[:10]
    return Path(runs_dir) / f"{dataset_name}-{name}-{digest}"


def experiment(
    dataset_name: str,
    data: Any,
    runs_dir: str | Path,
    name: str,
    *,
    image_size: int,
    base_channels: int,
    epochs: int,
    batch_size: int,
    n_train: int = 0,
    n_val: int = 0,
    device: str = "auto",
    seed: int = 0,
    progress: bool = True,
    tensorboard: bool = False,
    **overrides: Any,
) -> Run:
    """Run experiment ``name`` (see :data:`EXPERIMENTS`) of ``dataset_name`` on ``data``.

    The config is the dataset's preset, then the experiment's settings, then these
    parameters: ``n_train``/``n_val`` cap the images used (0 = all); the discriminator's base
    width follows ``base_channels`` (the report's G and D both start at 64); the models use the
    channels_last memory layout (about 3x faster on a CPU for these small widths; the same
    arithmetic); ``overrides`` are any other :class:`~cg.config.TrainConfig` fields. A finished
    run with the same config is reused, an interrupted one resumed. ``tensorboard`` also logs
    the epochs trained here to ``<run folder>/tensorboard/`` (see :func:`cg.train.loop.train`;
    it is not part of the config, so it does not change the run folder).
    """
    from cg.train.loop import run_is_complete, train
    from cg.train.run_dir import RunDir

    if name not in EXPERIMENTS:
        raise UserError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    settings: dict[str, Any] = {
        "data": str(Path(data.root).resolve()),
        "image_size": image_size,
        "base_channels": base_channels,
        "disc_channels": base_channels,
        "epochs": epochs,
        "batch_size": batch_size,
        "max_train_images": n_train,
        "max_val_images": n_val,
        "device": device,
        "seed": seed,
        "channels_last": True,
        **EXPERIMENTS[name],
        **overrides,
    }
    cfg = make_config(dataset_name, **settings)
    out = run_folder(runs_dir, dataset_name, name, cfg)
    if not run_is_complete(out, cfg):
        train(cfg, out, resume="auto", progress=progress, tensorboard=tensorboard)
    history = pd.read_csv(RunDir(out).history_path)
    return Run(name, dataset_name, out, cfg, history, data)


def _count(files: list[Any], cap: int) -> int:
    return min(len(files), cap) if cap else len(files)


def data_summary(data: Any, name: str) -> pd.DataFrame:
    """What the notebook trains on: source, format and image counts per split and domain."""
    synthetic = Path(data.root).parent.name == "synthetic"
    source = f"built-in synthetic {name}" if synthetic else f"folder {Path(data.root).name}"
    rows = [("source", source), ("format", data.format)]
    if data.paired:
        rows += [("training pairs", len(data.train_a)), ("validation pairs", len(data.val_a))]
    else:
        rows += [
            ("training images A / B", f"{len(data.train_a)} / {len(data.train_b)}"),
            ("validation images A / B", f"{len(data.val_a)} / {len(data.val_b)}"),
        ]
    return pd.DataFrame(rows, columns=["", name]).set_index("")


def summary(runs: list[Run]) -> pd.DataFrame:
    """The settings of each run, one column per experiment (deterministic: no paths, times)."""
    from cg.models import build_discriminator, build_generator, count_parameters

    table: dict[str, dict[str, Any]] = {}
    for run in runs:
        c, files = run.config, run.data
        table[run.name] = {
            "mode": "paired" if c.paired else "unpaired",
            "adversarial loss": "yes" if c.adversarial else "no",
            "identity loss": c.identity,
            "loss weights (cycle, identity, adv)": (
                f"{c.lambda_cycle:g}, {c.lambda_identity:g}, {c.lambda_adv:g}"
            ),
            "crop scale A / B": f"{c.crop_scale_a:g} / {c.crop_scale_b:g}",
            "image size": c.image_size,
            "generator": f"{c.generator} ({c.upsample}), base {c.base_channels}",
            "generator parameters": f"{count_parameters(build_generator(c)):,}",
            "discriminator parameters": (
                f"{count_parameters(build_discriminator(c)):,}" if c.adversarial else "-"
            ),
            "epochs": c.epochs,
            "batch size": c.batch_size,
            "Adam lr, beta1, beta2": f"{c.lr:g}, {c.beta1:g}, {c.beta2:g}",
            "training images": _count(files.train_a, c.max_train_images),
            "validation images": _count(files.val_a, c.max_val_images),
        }
    return pd.DataFrame(table)


def final_metrics(runs: list[Run]) -> pd.DataFrame:
    """Per run: last-epoch metrics, the best validation pixel errors and training time."""
    table: dict[str, dict[str, float]] = {}
    for run in runs:
        h = run.history
        last = h.iloc[-1]
        row: dict[str, float] = {
            "epochs": float(last["epoch"]),
            "training seconds": float(h["seconds"].sum()),
        }
        for col in h.columns:
            if col in ("epoch", "seconds", "lr") or not pd.notna(last[col]):
                continue
            row[col] = float(last[col])
        for d in ("ab", "ba"):
            col = f"pixel_error_{d}_val"
            if col in h and h[col].notna().any():
                row[f"best {col}"] = float(h[col].min())
                row[f"epoch of best {col}"] = float(h.loc[h[col].idxmin(), "epoch"])
        table[run.name] = row
    return pd.DataFrame(table)
