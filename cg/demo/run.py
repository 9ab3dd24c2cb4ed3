"""The run a ``cg demo`` page shows: its checkpoint, generators, dataset, history and card.

Nothing here imports Gradio: the page (:mod:`cg.demo.page`) calls :meth:`DemoRun.translate`,
which runs every generator the checkpoint has through :func:`cg.translate.translate_files` and
:func:`cg.images.encode`, the path ``cg translate`` takes, so the page's PNG files hold the
bytes ``cg translate`` writes for the same image and checkpoint.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from cg.catalog import DATASETS, Dataset
from cg.checkpoints import load_checkpoint
from cg.config import TrainConfig, config_from_dict
from cg.errors import UserError
from cg.train.run_dir import RunDir
from cg.translate import DIRECTIONS, generator_from

#: Uploads with more pixels than this are refused before they are decoded (50 megapixels:
#: a 7000 x 7000 photo still fits; a decompression bomb does not).
MAX_PIXELS = 50_000_000


@dataclass
class DemoRun:
    """A trained run opened for the page: its generators in eval mode, by direction."""

    checkpoint: Path
    #: the run folder (config.json, history.csv) when known, else None
    root: Path | None
    cfg: TrainConfig
    epoch: int
    history: list[dict[str, Any]]
    generators: dict[str, nn.Module] = field(repr=False)

    @property
    def name(self) -> str:
        return (self.root or self.checkpoint).name

    @property
    def dataset(self) -> Dataset | None:
        """The catalog entry of the run's dataset, when it can be told (:func:`dataset_of`)."""
        return DATASETS.get(dataset_of(self.cfg) or "")

    def domain(self, letter: str) -> str:
        """``A (edge map)``: a domain's letter and, when the dataset is known, what it holds."""
        names = self.dataset.domains if self.dataset else None
        return f"{letter.upper()} ({names['ab'.index(letter)]})" if names else letter.upper()

    def direction_label(self, direction: str) -> str:
        """``A (edge map) → B (shoe photo)``."""
        return f"{self.domain(direction[0])} → {self.domain(direction[1])}"

    def translate(self, image: Path, out_dir: Path) -> dict[str, Path]:
        """Translate the image file ``image`` in every direction the checkpoint has; each
        output is written as a PNG under ``out_dir``. Returns direction -> PNG file."""
        from cg.files import atomic_write_bytes
        from cg.images import encode
        from cg.translate import translate_files

        stem = uuid.uuid4().hex[:12]
        written = {}
        for direction, generator in self.generators.items():
            pixels = translate_files(generator, [image], self.cfg.image_size)[0]
            target = out_dir / f"{stem}_{direction}.png"
            atomic_write_bytes(target, encode(pixels, ".png"))
            written[direction] = target
        return written


def open_run(run: str | Path, device: str = "auto") -> DemoRun:
    """Open a run folder (its ``checkpoints/last.pt``) or a checkpoint file for the page.

    A UserError naming the path when it does not exist, a folder has no checkpoint, or the file
    is not a cg checkpoint (:func:`cg.checkpoints.load_checkpoint`) or has no generator."""

    path = Path(run)
    if path.is_dir():
        root: Path | None = path
        checkpoint = RunDir(path).last
        if not checkpoint.is_file():
            raise UserError(
                f"run folder {path} has no checkpoint ({checkpoint} does not exist); give the "
                "folder of a run that finished an epoch (`cg train --out FOLDER`), or a "
                "checkpoint file (.pt)"
            )
    elif path.is_file():
        checkpoint = path
        parent = path.parent.parent
        root = parent if path.parent.name == "checkpoints" and RunDir(parent).exists() else None
    else:
        raise UserError(
            f"{path} does not exist; give a run folder (made by `cg train --out FOLDER`) or a "
            "cg checkpoint file (.pt)"
        )
    data = load_checkpoint(checkpoint)
    cfg = config_from_dict(data["config"])
    generators = {
        direction: generator_from(data, checkpoint, direction, device)[0]
        for direction, key in DIRECTIONS.items()
        if key in data.get("models", {})
    }
    if not generators:
        raise UserError(
            f"checkpoint {checkpoint} has no generator (g_ab or g_ba); give a checkpoint "
            "written by `cg train` or `cg import-official`"
        )
    history = data.get("history") or []
    if root is not None and RunDir(root).history_path.is_file():
        history = RunDir(root).read_history()
    return DemoRun(checkpoint, root, cfg, int(data.get("epoch", 0)), history, generators)


def dataset_of(cfg: TrainConfig) -> str | None:
    """The catalog name of a run's dataset: its ``--preset``, else the name in its data
    folder's ``cg-synth.json`` (built-in data), else a folder of its data path named after a
    dataset (``.../edges2shoes``, ``.../edges2shoes-v3-64px-...``); None when none says."""
    from cg.data.synthetic import read_note

    if cfg.preset in DATASETS:
        return cfg.preset
    if not cfg.data:
        return None
    note = read_note(cfg.data) or {}
    if note.get("name") in DATASETS:
        return note["name"]
    for part in reversed(Path(cfg.data).parts):
        if (name := part.split("-")[0]) in DATASETS:
            return name
    return None


def shown(path: str | Path) -> str:
    """``path`` as the page shows it: relative to the working folder when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def upload_problem(path: Path, name: str) -> str | None:
    """Why the uploaded file ``path`` (shown to the user as ``name``) cannot be translated,
    as a sentence naming it and saying what to do; None when it can. An image of more than
    :data:`MAX_PIXELS` is refused from its header, before anything is decoded."""
    from PIL import Image

    from cg.data.formats import IMAGE_EXTENSIONS, inspect_image

    try:
        with Image.open(path) as im:
            width, height = im.size
    except Exception:  # noqa: BLE001 - inspect_image below says what is wrong with the file
        width = height = 0
    if width * height > MAX_PIXELS:
        reason = f"too large ({width} x {height} pixels)"
    else:
        reason = inspect_image(path)[1]
    if reason is None:
        return None
    kinds = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
    return (
        f"{name}: {reason.rstrip('.')}; upload an image file ({kinds}) of at most "
        f"{MAX_PIXELS // 1_000_000} megapixels"
    )


def card(run: DemoRun, examples: str = "") -> str:
    """The model card (Markdown): the dataset and its domains, the settings that matter, the
    epochs trained and the last validation pixel errors (``history.csv``), the checkpoint."""
    cfg = run.cfg
    ds = run.dataset
    if ds is not None:
        a, b = ds.domains
        dataset = f"{ds.name}: A = {a}, B = {b}"
    else:
        dataset = f"not one of the catalog's ({shown(cfg.data) if cfg.data else 'no data folder'})"
    generator = cfg.generator
    if cfg.generator == "unet":
        generator += f" ({cfg.upsample} upsampling, {cfg.base_channels} base channels)"
    generator += f", {cfg.norm} norm"
    paired = {True: "paired", False: "unpaired", None: "from the data's format"}[cfg.paired]
    objective = {"cyclegan": "CycleGAN", "pix2pix": "pix2pix"}.get(cfg.objective, cfg.objective)
    last = run.history[-1] if run.history else {}
    errors = [
        f"{run.direction_label(d)} {value:.4f}"
        for d in ("ab", "ba")
        if isinstance(value := last.get(f"pixel_error_{d}_val"), float) and value == value
    ]
    source = run.root / "history.csv" if run.root else run.checkpoint
    rows = [
        ("Dataset", dataset),
        ("Objective", f"{objective}, {paired}"),
        ("Adversarial loss", "on" if cfg.adversarial else "off"),
        ("Generator", generator),
        ("Image size", f"{cfg.image_size} px (inputs are resized to it)"),
        ("Epochs trained", f"{run.epoch} of {cfg.epochs}"),
        (
            "Validation pixel error",
            f"{'; '.join(errors)} (last epoch, from {shown(source)})" if errors else "not recorded",
        ),
        ("Checkpoint", f"`{shown(run.checkpoint)}`"),
    ]
    if examples:
        rows.append(("Examples", examples))
    lines = [f"### Model card: {run.name}", ""]
    lines += [f"- **{key}**: {value}" for key, value in rows]
    return "\n".join(lines) + "\n"
