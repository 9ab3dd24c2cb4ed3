"""The report's grid: every training run the notebooks need, described once.

A dataset notebook's runs are :func:`plan`'s answer to the notebook's own parameters: the
dataset's files (the built-in synthetic data is generated on first use), and one
:class:`Job` per experiment of :data:`RUNS`, each a resolved :class:`~cg.config.TrainConfig`
and its run folder. ``cg report`` asks the same function with the same parameters
(:func:`report_plans`, from the notebooks' parameters cells and the profile), trains the
unfinished jobs side by side (:mod:`cg.report.runs.schedule`), and the notebooks then find every run
finished. A notebook opened by hand trains what it lacks itself
(:func:`cg.report.runs.finished.runs`).

A run folder is ``runs_dir/<dataset>-<experiment>-<hash>``, the hash taken over what decides
the run's result and nothing else: the config without where the data lies and how fast it
loads (:data:`cg.config.WHERE_FIELDS`), and the data's content
(:meth:`cg.data.DatasetFiles.fingerprint`). A moved checkout, or a worker on another machine
with the data at another path, finds the same folder.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cg.config import PRESETS, WHERE_FIELDS, TrainConfig, make_config
from cg.data import scan_dataset, synthesize
from cg.data.synthetic import VERSION
from cg.errors import UserError
from cg.report.runs.profiles import make_absolute
from cg.runtime import report_precision, resolve_device

#: The report's experiment names (R2, R4) and what each changes in the dataset's preset.
EXPERIMENTS: dict[str, dict[str, Any]] = {
    "noadv": {"adversarial": False},
    "adv": {"adversarial": True},
    "cycle_only": {"adversarial": False, "identity": "none"},
    # the ablation the report may have meant by "cycle loss alone": cycle + CycleGAN's identity
    "cycle_classic": {"adversarial": False, "identity": "classic"},
}

#: Per dataset notebook: its experiments in the notebook's order, and what each run adds to the
#: notebook's settings (edges2shoes keeps every epoch's weights for the overfitting check R9.3).
RUNS: dict[str, dict[str, dict[str, Any]]] = {
    "cityscapes": {"noadv": {}, "adv": {}, "cycle_only": {}, "cycle_classic": {}},
    "edges2shoes": {"noadv": {"checkpoint_every": 1}, "adv": {}},
    "face2simpson": {"adv": {}},
}

#: The notebook parameters that decide a dataset's runs: :func:`plan`'s keywords.
PARAMETERS = (
    "data_root",
    "cache_dir",
    "runs_dir",
    "image_size",
    "base_channels",
    "epochs",
    "batch_size",
    "lr",
    "n_train",
    "n_val",
    "device",
    "precision",
    "seed",
    "n_seeds",
)


#: Images of each epoch's metrics (the curves of history.csv) in the report's runs: the first
#: 32 validation images of each domain, and the first 32 of the training split's feedback
#: subset (whose 64 images still recompute the BatchNorm statistics, so the checkpoints are
#: the same). The checks read every validation image from the checkpoints, never these
#: columns. Measured on a 2-core AMD EPYC, the default Cityscapes adversarial run alone with
#: one thread: 3.44 s an epoch with all 128 validation images, 2.94 s with 32 (the epoch's
#: evaluation 1.13 -> 0.64 s). On block 1000's five edges2shoes runs without the adversarial
#: loss, the curve on 32 images stays within 1-2% of the curve's range of that on 128 (Spearman
#: 0.98-1.00 over the epochs; docs/benchmarks.md).
CURVE_IMAGES = 32


@dataclass(frozen=True)
class Job:
    """One training run of the grid: which experiment of which dataset, its resolved config
    and its run folder."""

    dataset: str
    experiment: str
    config: TrainConfig
    out: Path

    @property
    def name(self) -> str:
        """The run folder's name, ``<dataset>-<experiment>-<hash>``."""
        return self.out.name


@dataclass(frozen=True)
class Plan:
    """One dataset notebook's share of the grid: its seeds, each seed's data, and its jobs
    (seed by seed, each seed's experiments in :data:`RUNS`' order)."""

    dataset: str
    seeds: tuple[int, ...]
    data_by_seed: tuple[Any, ...]  # cg.data.DatasetFiles, one per seed
    jobs: tuple[Job, ...]

    @property
    def data(self) -> Any:
        """The block's first seed's data (what the notebook shows and draws from)."""
        return self.data_by_seed[0]

    @property
    def experiments(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(j.experiment for j in self.jobs))

    def job(self, experiment: str, seed: int | None = None) -> Job:
        """The run of ``experiment`` for ``seed`` (default: the block's first)."""
        seed = self.seeds[0] if seed is None else seed
        for j in self.jobs:
            if j.experiment == experiment and j.config.seed == seed:
                return j
        raise UserError(
            f"{self.dataset} has no run {experiment!r} of seed {seed}; its runs: "
            + ", ".join(self.experiments)
            + f", seeds {', '.join(map(str, self.seeds))}"
        )


def _synthetic_folder(
    cache_dir: str | Path, name: str, size: int, n_train: int, n_val: int, seed: int
) -> Path:

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
    first time (into a temporary folder, then renamed, so a half-written one is never used;
    two processes generating it at once both end with the one folder).
    Otherwise ``data_root`` is a folder in pix2pix or unpaired format; its format must suit the
    preset (paired presets need pix2pix pairs).
    """

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
            try:
                synthesize(name, tmp, size=image_size, n_train=n_train, n_val=n_val, seed=seed)
            except BaseException:  # Ctrl-C too: no half-made folder left behind
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            try:
                os.replace(tmp, folder)
            except OSError:
                if not folder.is_dir():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # another process made it first
        files = scan_dataset(folder)
    wants_pairs = PRESETS[name].get("paired")
    if wants_pairs is not None and files.paired != wants_pairs:
        need = "pix2pix (train/, val/ with A|B pairs)" if wants_pairs else "unpaired (trainA/...)"
        raise UserError(
            f"{files.root}: the {name} experiments need a {need} dataset, not {files.format}"
        )
    return files


def result_key(cfg: TrainConfig, data_fingerprint: str) -> str:
    """The hash of what decides a run's result: ``cfg`` without :data:`WHERE_FIELDS`, and the
    data's fingerprint."""
    what = {k: v for k, v in cfg.to_dict().items() if k not in WHERE_FIELDS}
    what["data_fingerprint"] = data_fingerprint
    text = json.dumps(what, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def run_folder(
    runs_dir: str | Path, dataset_name: str, name: str, cfg: TrainConfig, data_fingerprint: str
) -> Path:
    """``runs_dir/<dataset>-<experiment>-<hash>`` (:func:`result_key`)."""
    return Path(runs_dir) / f"{dataset_name}-{name}-{result_key(cfg, data_fingerprint)}"


def job(
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
    **overrides: Any,
) -> Job:
    """The run of experiment ``name`` (see :data:`EXPERIMENTS`) of ``dataset_name`` on ``data``.

    The config is the dataset's preset, then the experiment's settings, then these
    parameters: ``n_train``/``n_val`` cap the images used (0 = all); the discriminator's base
    width follows ``base_channels`` (the report's G and D both start at 64); the models use the
    channels_last memory layout (about 3x faster on a CPU for these small widths; the same
    arithmetic); ``overrides`` are any other :class:`~cg.config.TrainConfig` fields.
    """
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
        "val_subset": CURVE_IMAGES,
        "train_subset": CURVE_IMAGES,
        **EXPERIMENTS[name],
        **overrides,
    }
    cfg = make_config(dataset_name, **settings)
    out = run_folder(runs_dir, dataset_name, name, cfg, data.fingerprint())
    return Job(dataset_name, name, cfg, out)


def plan(
    dataset_name: str,
    *,
    data_root: str | Path = "",
    cache_dir: str | Path,
    runs_dir: str | Path,
    image_size: int,
    base_channels: int,
    epochs: int,
    batch_size: int,
    lr: float,
    n_train: int,
    n_val: int,
    device: str = "auto",
    precision: str = "fp32",
    seed: int = 0,
    n_seeds: int = 1,
) -> Plan:
    """Dataset ``dataset_name``'s data and runs (:data:`RUNS`) for a notebook's parameters
    (:data:`PARAMETERS`, the notebook's names): every experiment for each seed of the block
    ``seed .. seed + n_seeds - 1``. A seed fixes
    the built-in data's draw, the initial weights, the data order and the augmentation; the
    experiments of one seed share all four
    (their generators are built first from the seed, and every epoch's batches follow from
    the seed and the epoch). ``precision`` is the runs' autocast, ``auto`` resolved here for
    this machine (:func:`cg.runtime.report_precision`), so the run folders name what trains."""
    if dataset_name not in RUNS:
        raise UserError(f"unknown dataset {dataset_name!r}; choose one of {', '.join(RUNS)}")
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise UserError(f"n_seeds={n_seeds!r}: give a whole number of training seeds >= 1")
    seeds = tuple(range(seed, seed + n_seeds))
    precision = report_precision(precision, resolve_device(device))
    data_by_seed, jobs = [], []
    for s in seeds:
        data = dataset(
            dataset_name,
            data_root,
            cache_dir=cache_dir,
            image_size=image_size,
            n_train=n_train,
            n_val=n_val,
            seed=s,
        )
        data_by_seed.append(data)
        for name, extra in RUNS[dataset_name].items():
            settings = dict(epochs=epochs, batch_size=batch_size, lr=lr, precision=precision)
            settings.update(extra)
            jobs.append(
                job(
                    dataset_name,
                    data,
                    runs_dir,
                    name,
                    image_size=image_size,
                    base_channels=base_channels,
                    n_train=n_train,
                    n_val=n_val,
                    device=device,
                    seed=s,
                    **settings,
                )
            )
    return Plan(dataset_name, seeds, tuple(data_by_seed), tuple(jobs))


def notebook_defaults(notebook: str | Path) -> dict[str, Any]:
    """The values a notebook's ``parameters`` cell assigns (what papermill leaves when a
    parameter is not given); paths among them (keys ending in ``_dir`` or ``_root``) made
    absolute against the notebook's folder, where it runs."""

    import papermill as pm  # a second to import: only the report's process needs it

    notebook = Path(notebook)
    values: dict[str, Any] = {}
    for name, info in pm.inspect_notebook(str(notebook)).items():
        try:
            values[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            raise UserError(
                f"{notebook}: parameter {name} = {info['default']} is not a literal; "
                "a parameters cell assigns plain values"
            ) from None
    return make_absolute(values, notebook.resolve().parent)


def report_plans(params: Mapping[str, Mapping[str, Any]], notebooks_dir: str | Path) -> list[Plan]:
    """The grid of a report: for each dataset notebook in ``params`` (``{notebook: the
    parameters papermill will give it}``), :func:`plan` of the values the notebook will run
    with: its parameters cell's, overridden by the given ones."""
    plans = []
    for name, given in params.items():
        if name not in RUNS:
            continue
        values = {**notebook_defaults(Path(notebooks_dir) / f"{name}.ipynb"), **given}
        missing = [k for k in PARAMETERS if k not in values]
        if missing:
            raise UserError(f"notebook {name} declares no parameter {', '.join(missing)}")
        plans.append(plan(name, **{k: values[k] for k in PARAMETERS}))
    return plans
