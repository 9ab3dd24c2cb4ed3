"""Apply a trained generator to images: from Python, ``cg translate`` / ``cg info``, and the
``cg demo`` page (:func:`translate_files`, the one way from an image file to output pixels)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cg.checkpoints import load_checkpoint
from cg.config import TrainConfig, config_from_dict
from cg.errors import UserError
from cg.files import atomic_write_bytes
from cg.models import build_discriminator, build_generator
from cg.runtime import resolve_device

DIRECTIONS = {"ab": "g_ab", "ba": "g_ba"}


def load_generator(
    checkpoint: str | Path, direction: str, device: str | torch.device = "cpu"
) -> tuple[nn.Module, TrainConfig]:
    """The generator for ``direction`` (``ab`` or ``ba``) from a cg checkpoint, in eval mode:
    dropout off and batch norm with its running statistics, so that an image's output depends
    on that image alone (not on the other images of its batch, nor on a random draw). The
    reference implementation's ``test.py`` instead keeps train mode unless ``--eval`` is given
    (pix2pix's test-time dropout and test-batch statistics); docs/export.md
    says why cg does not."""
    return generator_from(load_checkpoint(checkpoint), checkpoint, direction, device)


def generator_from(
    data: dict[str, Any],
    checkpoint: str | Path,
    direction: str,
    device: str | torch.device = "cpu",
) -> tuple[nn.Module, TrainConfig]:
    """:func:`load_generator` for a checkpoint already loaded (``data``, read from the file
    ``checkpoint``, which the errors name)."""
    from cg.models import build_generator

    if direction not in DIRECTIONS:
        raise UserError(f"direction={direction!r} must be ab or ba")
    dev = resolve_device(device)
    cfg = config_from_dict(data["config"])
    key = DIRECTIONS[direction]
    if key not in data.get("models", {}):
        have = [k for k in data.get("models", {}) if k.startswith("g_")]
        other = {v: k for k, v in DIRECTIONS.items()}.get(have[0]) if len(have) == 1 else None
        hint = f"; use --direction {other}" if other else ""
        kind = " (a pix2pix checkpoint has g_ab only)" if cfg.objective == "pix2pix" else ""
        raise UserError(
            f"checkpoint {checkpoint} has no {key} generator for direction {direction}{kind} "
            f"(it has: {', '.join(have) or 'none'}){hint}"
        )
    generator = build_generator(cfg)
    try:
        generator.load_state_dict(data["models"][key])
    except RuntimeError as e:
        raise UserError(
            f"checkpoint {checkpoint}: {key} weights do not fit its config "
            f"({str(e).splitlines()[0]})"
        ) from None
    return generator.to(dev).eval(), cfg


@torch.inference_mode()
def translate_batch(generator: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Translate float images in [-1, 1], shape (N, 3, H, W); H and W divisible by 16."""
    param = next(generator.parameters())
    return generator(images.to(param.device, param.dtype)).float()


def prepare(image_u8: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (3, H, W) -> float (3, size, size) in [-1, 1] (antialiased resize)."""
    x = image_u8.float().unsqueeze(0) / 127.5 - 1.0
    if x.shape[-2:] != (size, size):
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    return x[0].clamp(-1, 1)


def translate_files(
    generator: nn.Module, files: list[Path], image_size: int, *, half: str | None = None
) -> torch.Tensor:
    """The generator's outputs, uint8 ``(N, 3, image_size, image_size)``, for image files:
    each decoded (:func:`cg.data.load_rgb`: RGB, EXIF orientation applied), its left
    (``half="a"``) or right (``"b"``) half taken for A|B pair files, resized to the run's
    ``image_size`` (:func:`prepare`, as in training), then translated in one batch.

    The one way from an image file to output pixels: ``cg translate`` (:func:`translate_folder`)
    and ``cg demo`` both call it, and both encode its pixels with :func:`cg.images.encode`, so
    the page shows the PNG bytes ``cg translate`` writes. A UserError naming the file when one
    cannot be decoded or has an odd width for ``half``."""
    from cg.data import load_rgb
    from cg.images import to_uint8

    images = []
    for f in files:
        img = load_rgb(f)
        if half is not None:
            w = img.shape[-1]
            if w % 2:
                raise UserError(f"{f}: width {w} is odd, so it is not an A|B pair")
            img = img[..., : w // 2] if half == "a" else img[..., w // 2 :]
        images.append(prepare(img, image_size))
    return to_uint8(translate_batch(generator, torch.stack(images)))


#: ``--format`` -> the suffix outputs get (``same``: each input's own).
IMAGE_FORMATS = {"png": ".png", "jpg": ".jpg", "same": None}


def output_names(
    files: list[Path], src: Path, dst: Path, image_format: str = "png"
) -> dict[Path, Path]:
    """Input file -> output file: the same path relative to ``src``, under ``dst``, with the
    suffix of ``image_format`` (``png``, ``jpg``; ``same`` keeps each input's). A UserError
    when ``image_format`` is unknown, or two inputs would be written to one output (``a.jpg``
    and ``a.png`` with ``png``), naming both."""
    if image_format not in IMAGE_FORMATS:
        raise UserError(f"--format {image_format!r} is not one of {', '.join(IMAGE_FORMATS)}")
    suffix = IMAGE_FORMATS[image_format]
    names: dict[Path, Path] = {}
    taken: dict[Path, Path] = {}
    for f in files:
        rel = f.relative_to(src)
        target = dst / (rel.with_suffix(suffix) if suffix else rel)
        if target in taken:
            raise UserError(
                f"{taken[target]} and {f} would both be written to {target} with --format "
                f"{image_format}; rename one of them, or use --format same"
            )
        taken[target] = f
        names[f] = target
    return names


def translate_folder(
    checkpoint: str | Path,
    direction: str,
    input_dir: str | Path,
    output_dir: str | Path,
    *,
    half: str | None = None,
    batch_size: int = 8,
    device: str = "auto",
    progress: bool = True,
    image_format: str = "png",
) -> list[Path]:
    """Translate every image under ``input_dir`` into ``output_dir`` (same relative names).

    ``half`` = ``a`` or ``b`` takes the left or right half of pix2pix A|B pair files.
    Images are resized to the checkpoint's ``image_size`` (as in training). ``image_format``
    ``png`` (lossless: what FID or pixel errors measured on the outputs need), ``jpg``
    (quality 95) or ``same`` (each input's suffix and format) decides the outputs' suffixes
    (:func:`output_names`). Returns the files written, in the inputs' order.
    """
    from cg.data import list_images
    from cg.images import encode
    from cg.progress import progress_bar

    src, dst = Path(input_dir), Path(output_dir)
    files = list_images(src)
    if not files:
        raise UserError(f"no images found under {src} (looked for jpg, png, bmp, tif, webp)")
    if dst.resolve() == src.resolve():
        raise UserError(f"--output {dst} is the input folder; choose another folder")
    targets = output_names(files, src, dst, image_format)
    generator, cfg = load_generator(checkpoint, direction, device)
    written: list[Path] = []
    bar = progress_bar(
        total=len(files), progress=progress, desc=f"translate {direction}", unit="img"
    )
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        fakes = translate_files(generator, chunk, cfg.image_size, half=half)
        for f, fake in zip(chunk, fakes):
            target = targets[f]
            atomic_write_bytes(target, encode(fake, target.suffix))
            written.append(target)
        bar.update(len(chunk))
    bar.close()
    return written


def checkpoint_info(checkpoint: str | Path) -> str:
    """A human-readable summary of a checkpoint: version, epoch, models, config."""
    from cg.models import count_parameters

    data = load_checkpoint(checkpoint)
    cfg = config_from_dict(data["config"])
    lines = [
        f"checkpoint: {checkpoint}",
        f"cg version: {data.get('cg_version', '?')} (format {data.get('version')})",
        f"epochs completed: {data.get('epoch', 0)}",
    ]

    for name, sd in data.get("models", {}).items():
        model = build_generator(cfg) if name.startswith("g_") else None
        if model is None:
            in_ch = 6 if cfg.objective == "pix2pix" else 3
            model = build_discriminator(cfg, in_channels=in_ch)
        n = count_parameters(model)
        lines.append(f"model {name}: {n:,} parameters ({len(sd)} tensors)")
    hist = data.get("history") or []
    if hist:
        last = {k: v for k, v in hist[-1].items() if v is not None and v == v}
        lines.append("last history row: " + json.dumps(last, sort_keys=True))
    if data.get("extra"):
        lines.append("extra: " + json.dumps(data["extra"], sort_keys=True))
    lines.append("config: " + json.dumps(cfg.to_dict(), sort_keys=True))
    return "\n".join(lines)
