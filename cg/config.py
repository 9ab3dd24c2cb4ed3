"""Every knob of a training run, written once.

One frozen dataclass, :class:`TrainConfig`, holds the whole configuration of a run, grouped by
concern, each field commented with where its value comes from (the report's sections R1-R6 of
``SPEC.md``, or the reference CycleGAN/pix2pix implementation). The ``cg train`` flags and the
notebooks' papermill parameters are generated from / applied to it with
:func:`dataclasses.replace`, so no default is written twice and an unknown key fails loudly.

A preset per dataset (:data:`PRESETS`) carries the report's settings for that dataset.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_type_hints

from cg.catalog import DATASETS
from cg.errors import UserError

Generator = Literal["unet", "resnet_9", "resnet_6", "unet_128", "unet_256"]
Upsample = Literal["bilinear", "transposed"]
Norm = Literal["batch", "instance"]
Identity = Literal["paired", "classic", "none"]
Init = Literal["auto", "normal", "pytorch"]
GanMode = Literal["bce", "lsgan"]
Objective = Literal["cyclegan", "pix2pix"]
Precision = Literal["fp32", "bf16", "fp16"]
Device = Literal["auto", "cpu", "cuda"]


def _opt(default: Any, help: str, **extra: Any) -> Any:
    """A dataclass field carrying its CLI help text (and optional CLI metadata)."""
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class TrainConfig:
    """A training run, fully resolved. Saved as ``config.json`` and inside every checkpoint."""

    # --- data --------------------------------------------------------------------------------
    data: str = _opt("", "dataset root: pix2pix format (train/, val/) or unpaired (trainA/ ...)")
    preset: str = _opt("", "name of the preset the run started from (informational)", cli=False)
    paired: bool | None = _opt(
        None, "paired (A|B pairs) or unpaired training; default: from the data's format"
    )
    image_size: int = _opt(256, "side of the square training images, divisible by 16")
    crop_scale_a: float = _opt(
        1.0, "R6: lower bound of RandomResizedCrop's area for domain A (1.0 = no crop)"
    )
    crop_scale_b: float = _opt(
        1.0, "R6: lower bound of RandomResizedCrop's area for domain B (1.0 = no crop)"
    )
    flip: bool = _opt(True, "random horizontal flips (the same flip for both halves of a pair)")
    max_train_images: int = _opt(0, "use at most this many training images (0 = all)")
    max_val_images: int = _opt(0, "use at most this many validation images (0 = all)")
    num_workers: int = _opt(0, "DataLoader worker processes (0 = load in the main process)")
    cache_gib: float = _opt(
        4.0,
        "keep the decoded training images, then the evaluation images, in memory when they "
        "fit in this many GiB (0 = never); speed only, the batches are the same",
    )

    # --- models (R1) -------------------------------------------------------------------------
    generator: Generator = _opt("unet", "R1: generator architecture")
    upsample: Upsample = _opt("bilinear", "R1: U-Net upsampling; the report found bilinear better")
    base_channels: int = _opt(64, "R1: width of the generator's first layer")
    norm: Norm = _opt("batch", "normalisation layers of the generators and discriminators")
    disc_channels: int = _opt(64, "R1: width of the PatchGAN's first layer")
    disc_layers: int = _opt(3, "R1: PatchGAN depth (3 = the 70x70 PatchGAN)")
    dropout: bool = _opt(False, "dropout in the reference generators (pix2pix uses it)")
    init: Init = _opt(
        "normal",
        "R1: weight init; normal = the reference's N(0, 0.02) for every network, pytorch = "
        "PyTorch's defaults for every network, auto = the report's U-Net as the original U-Net "
        "code (milesial/Pytorch-UNet) leaves it, PyTorch's defaults, and the reference's "
        "networks (its generators, the PatchGAN) N(0, 0.02)",
    )

    # --- losses (R2) -------------------------------------------------------------------------
    objective: Objective = _opt("cyclegan", "cyclegan (the report) or the pix2pix baseline")
    adversarial: bool = _opt(True, "R4: train with the adversarial loss and discriminators")
    identity: Identity = _opt(
        "paired", "R2: paired = re-thought identity |G_AB(A)-B|, classic = |G_AB(B)-B|"
    )
    lambda_cycle: float = _opt(10.0, "R2: weight of the cycle-consistency L1 loss")
    lambda_identity: float = _opt(5.0, "R2: weight of the identity loss")
    lambda_adv: float = _opt(1.0, "R2: weight of the adversarial loss")
    lambda_l1: float = _opt(100.0, "pix2pix objective: weight of the L1 loss (reference value)")
    gan_mode: GanMode = _opt("bce", "R2: BCE on the discriminator's sigmoid, or LSGAN")

    # --- optimisation (R3) -------------------------------------------------------------------
    epochs: int = _opt(10, "number of epochs")
    batch_size: int = _opt(16, "R3: batch size")
    lr: float = _opt(2e-4, "R3: Adam learning rate")
    beta1: float = _opt(0.5, "R3: Adam beta1")
    beta2: float = _opt(0.999, "R3 (decision): Adam beta2")
    lr_decay_epochs: int = _opt(
        0,
        "decay the learning rate linearly to 0 over the last N epochs (reference: n_epochs_decay)",
    )
    pool_size: int = _opt(0, "image pool of generated images for D (reference: 50; 0 = off)")

    # --- run ---------------------------------------------------------------------------------
    seed: int = _opt(0, "random seed; the whole run is a function of it")
    device: Device = _opt("auto", "auto picks cuda when available")
    precision: Precision = _opt("fp32", "autocast precision: fp32, bf16 (CPU or GPU), fp16 (GPU)")
    channels_last: bool | None = _opt(
        None,
        "channels_last memory format for the models; default: where it is faster "
        "(cg.runtime.default_channels_last: GPUs, batch-norm networks on the CPU)",
    )
    compile: bool = _opt(False, "torch.compile the models")
    sync_batchnorm: bool = _opt(
        False,
        "multi-process training: BatchNorm statistics over the global batch "
        "(SyncBatchNorm) instead of each process's share; results then match one process",
    )
    checkpoint_every: int = _opt(0, "also keep checkpoints/epoch_NNNN.pt every k-th epoch")
    feedback_subset: int = _opt(
        64, "R5: size of the fixed training subset for D feedback (and for --precise-bn)"
    )
    val_subset: int = _opt(
        0,
        "R5: the per-epoch validation metrics (history.csv, the curves) on the first N "
        "validation images of each domain (0 = all of them)",
    )
    train_subset: int = _opt(
        0,
        "R5: the per-epoch training-split metrics (history.csv, the curves) on the first N "
        "images of the feedback subset (0 = all of it); --precise-bn uses the whole subset",
    )
    precise_bn: bool = _opt(
        True,
        "before each epoch's evaluation and checkpoint, recompute the generators' BatchNorm "
        "running statistics with the epoch's final weights over the fixed training subset, in "
        "batches of the training batch size (training's moving averages lag the weights; "
        "cg.train.batchnorm); training itself is the same either way",
    )
    sample_count: int = _opt(4, "images per split in the per-epoch sample grids")
    fid_every: int = _opt(0, "R5: compute validation FID every N epochs (0 = never)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


# The fields that change how fast the data loads, never the batches (cg.data.cache).
SPEED_FIELDS = frozenset({"num_workers", "cache_gib"})
# The fields that say where and how the data is read, not what is trained: a run's result is
# a function of the other fields and of the data's content (DatasetFiles.fingerprint).
WHERE_FIELDS = SPEED_FIELDS | {"data"}
# The fields a resumed run may change (everything else must equal the checkpoint's config;
# ``data`` may name another folder when its fingerprint is the checkpoint's: a moved dataset).
RESUME_MUTABLE = frozenset({"epochs"}) | SPEED_FIELDS


#: ``--preset NAME``: the report's settings per dataset (:data:`cg.catalog.DATASETS`).
PRESETS: dict[str, dict[str, Any]] = {name: dict(d.preset) for name, d in DATASETS.items()}


def field_choices(f: dataclasses.Field) -> tuple[Any, ...] | None:
    """The allowed values of a ``Literal``-typed field, else None."""
    hint = f.type if not isinstance(f.type, str) else _TYPE_HINTS.get(f.name)
    args = get_args(hint)
    return args if args and all(isinstance(a, str) for a in args) else None


_TYPE_HINTS: dict[str, Any] = {}


def _resolve_hints() -> None:
    _TYPE_HINTS.update(get_type_hints(TrainConfig))


_resolve_hints()


def _check_value(name: str, value: Any) -> Any:
    """Coerce ``value`` to the type of field ``name`` or raise a UserError naming it."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    if name not in fields:
        known = ", ".join(sorted(fields))
        raise UserError(f"unknown configuration key {name!r}; known keys: {known}")
    hint = _TYPE_HINTS[name]
    choices = field_choices(fields[name])
    if choices is not None:
        if value not in choices:
            raise UserError(f"{name}={value!r} is not one of {', '.join(choices)}")
        return value
    if hint is bool or hint == (bool | None):
        if value is None and hint is not bool:
            return None
        if isinstance(value, bool):
            return value
        raise UserError(f"{name}={value!r} must be true or false")
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{name}={value!r} must be an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{name}={value!r} must be a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise UserError(f"{name}={value!r} must be a string")
        return value
    return value


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check value ranges and combinations; raise a UserError naming the first bad value."""
    positive = ("image_size", "base_channels", "disc_channels", "disc_layers", "epochs")
    for name in positive + ("batch_size",):
        if getattr(cfg, name) < 1:
            raise UserError(f"{name}={getattr(cfg, name)} must be at least 1")
    if not 0.0 <= cfg.cache_gib < float("inf"):
        raise UserError(f"cache_gib={cfg.cache_gib} must be a finite number >= 0")
    nonneg = ("max_train_images", "max_val_images", "num_workers", "lr_decay_epochs")
    subsets = ("feedback_subset", "val_subset", "train_subset")
    for name in nonneg + ("pool_size", "checkpoint_every", *subsets, "fid_every"):
        if getattr(cfg, name) < 0:
            raise UserError(f"{name}={getattr(cfg, name)} must not be negative")
    if cfg.image_size % 16:
        raise UserError(
            f"image_size={cfg.image_size} is not divisible by 16; the U-Net halves it 4 times "
            "(use e.g. 64, 128 or 256)"
        )
    for name in ("crop_scale_a", "crop_scale_b"):
        v = getattr(cfg, name)
        if not 0.0 < v <= 1.0:
            raise UserError(f"{name}={v} must be in (0, 1]")
    for name in ("lr", "lambda_cycle", "lambda_identity", "lambda_adv", "lambda_l1"):
        v = getattr(cfg, name)
        if not v >= 0.0 or v == float("inf"):
            raise UserError(f"{name}={v} must be a finite number >= 0")
    for name in ("beta1", "beta2"):
        v = getattr(cfg, name)
        if not 0.0 <= v < 1.0:
            raise UserError(f"{name}={v} must be in [0, 1)")
    if cfg.lr_decay_epochs > cfg.epochs:
        raise UserError(
            f"lr_decay_epochs={cfg.lr_decay_epochs} exceeds epochs={cfg.epochs}; "
            "decay over at most all epochs"
        )
    if cfg.paired is False and cfg.identity == "paired":
        raise UserError(
            "identity='paired' (the re-thought identity loss |G_AB(A)-B|) needs paired data; "
            "with unpaired training use --identity classic or --identity none"
        )
    if cfg.objective == "pix2pix" and cfg.paired is False:
        raise UserError("objective='pix2pix' needs paired data (pix2pix format); drop --unpaired")
    if cfg.precision == "fp16" and cfg.device == "cpu":
        raise UserError("precision='fp16' needs a GPU; on the CPU use --precision bf16 or fp32")
    return cfg


def make_config(preset: str | None = None, **overrides: Any) -> TrainConfig:
    """Build a config: defaults, then ``preset``'s values, then ``overrides``; validated."""
    values: dict[str, Any] = {}
    if preset:
        if preset not in PRESETS:
            raise UserError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        values.update(PRESETS[preset])
        values["preset"] = preset
    values.update(overrides)
    checked = {k: _check_value(k, v) for k, v in values.items()}
    return validate(dataclasses.replace(TrainConfig(), **checked))


def config_from_dict(d: dict[str, Any]) -> TrainConfig:
    """Rebuild a config saved by :meth:`TrainConfig.to_dict` (unknown keys are an error)."""
    checked = {k: _check_value(k, v) for k, v in d.items()}
    return dataclasses.replace(TrainConfig(), **checked)


def load_config(path: str | Path) -> TrainConfig:
    p = Path(path)
    try:
        return config_from_dict(json.loads(p.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read config {p}: {e}") from None


def config_diff(old: TrainConfig, new: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """Fields whose values differ: ``{name: (old, new)}``."""
    a, b = old.to_dict(), new.to_dict()
    return {k: (a[k], b[k]) for k in a if a[k] != b[k]}
