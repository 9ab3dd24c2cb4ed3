"""Decoding images and turning them into training tensors.

Two stages, kept apart so decoded images can be cached and augmented in batches:

1. **decode**: :func:`load_rgb` reads any supported file into a ``uint8`` tensor ``(3, H, W)``
   (grey, palette, alpha, 16-bit and CMYK images converted to RGB; EXIF orientation applied);
   :func:`split_pair` cuts a pix2pix file into its A (left) and B (right) halves.
2. **augment**: :func:`augment` = :func:`sample_augment` (random crop box and flip, drawn from
   torch's global RNG) then :func:`apply_augment` (crop, resize to ``S x S``, flip, and
   ``x / 127.5 - 1`` so 0..255 maps to -1..1). A pair draws its parameters once and applies them
   to both halves, so A and B stay aligned.

The crop follows torchvision's ``RandomResizedCrop``: a box of area ``U(crop_scale, 1)`` times
the image's area and aspect ratio log-uniform in ``[3/4, 4/3]``, resized to ``S x S`` (R6: the
report used lower bounds 0.55 for faces and 0.95 for Simpsons). ``crop_scale == 1`` is a plain
resize of the whole image, the validation transform when ``flip`` is off too.

All randomness comes from torch's global generator, which the trainer seeds and DataLoader
workers re-seed per worker, so every run is a function of its seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from cg.data.formats import pair_width_problem
from cg.errors import UserError

CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)  # torchvision RandomResizedCrop's default aspect ratios
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_ALPHA = ("RGBA", "LA", "PA", "RGBa", "La")


# --- decoding -------------------------------------------------------------------------------


def to_rgb(im: Image.Image) -> Image.Image:
    """An RGB version of ``im``: transparency composited on white, 16-bit scaled by 1/257."""
    if im.mode == "RGB" and "transparency" not in im.info:
        return im
    if im.mode in _SIXTEEN_BIT:
        # I;16 and I (16-bit PNG/TIFF) hold 0..65535; PIL's own convert would clip at 255.
        grey = np.clip(np.asarray(im, dtype=np.int64), 0, 65535)
        grey = ((grey * 255 + 32767) // 65535).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if im.mode in _ALPHA or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")  # L, 1, P, CMYK, YCbCr, F


def load_rgb(path: str | Path) -> Tensor:
    """Decode ``path`` into a ``uint8`` tensor ``(3, H, W)`` in RGB, EXIF orientation applied.

    Raises a :class:`UserError` naming the file when it cannot be decoded.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            rgb = to_rgb(ImageOps.exif_transpose(im))
            arr = np.array(rgb, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        raise UserError(
            f"cannot read image {path}: {e}; remove or replace it "
            "(`cg data check DIR` lists every unreadable file)"
        ) from None
    except Image.DecompressionBombError as e:
        raise UserError(f"image {path} is too large to decode safely: {e}") from None
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def split_pair(img: Tensor, path: str | Path = "<pair>") -> tuple[Tensor, Tensor]:
    """The A (left) and B (right) halves of a pix2pix image ``(..., H, W)``; odd W is an error."""
    width = img.shape[-1]
    if reason := pair_width_problem(width):
        raise UserError(f"{path}: {reason}; crop or pad it to an even width")
    return img[..., : width // 2], img[..., width // 2 :]


# --- augmentation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CropFlip:
    """A crop box (``top, left, height, width`` in pixels) and whether to flip horizontally."""

    top: int
    left: int
    height: int
    width: int
    flip: bool


def sample_augment(height: int, width: int, crop_scale: float, flip: bool) -> CropFlip:
    """Draw crop and flip parameters for an ``height x width`` image from torch's global RNG."""
    if not 0.0 < crop_scale <= 1.0:
        raise UserError(f"crop_scale={crop_scale} must be in (0, 1]")
    if crop_scale < 1.0:
        shape_only = torch.empty(0, height, width)
        top, left, h, w = v2.RandomResizedCrop.get_params(
            shape_only, [crop_scale, 1.0], list(CROP_RATIO)
        )
    else:
        top, left, h, w = 0, 0, height, width
    flipped = bool(torch.rand(()) < 0.5) if flip else False
    return CropFlip(int(top), int(left), int(h), int(w), flipped)


def to_float(img_u8: Tensor) -> Tensor:
    """``uint8`` 0..255 to ``float32`` -1..1: ``x / 127.5 - 1``."""
    return img_u8.to(torch.float32) / 127.5 - 1.0


def apply_augment(img_u8: Tensor, params: CropFlip, image_size: int) -> Tensor:
    """Crop ``img_u8`` ``(..., 3, H, W)`` to ``params``' box, resize it to ``image_size``
    square (bilinear, antialiased), flip if asked, and scale to -1..1 (``float32``)."""
    p = params
    out = TF.resized_crop(
        img_u8, p.top, p.left, p.height, p.width, [image_size, image_size], antialias=True
    )
    if p.flip:
        out = TF.horizontal_flip(out)
    return to_float(out)


def augment(img_u8: Tensor, image_size: int, crop_scale: float = 1.0, flip: bool = False) -> Tensor:
    """:func:`sample_augment` then :func:`apply_augment`: a training (or validation) tensor."""
    params = sample_augment(img_u8.shape[-2], img_u8.shape[-1], crop_scale, flip)
    return apply_augment(img_u8, params, image_size)


# --- datasets -------------------------------------------------------------------------------


class PairedDataset(Dataset):
    """pix2pix A|B files; item ``{"a": (3,S,S), "b": (3,S,S)}`` with one crop/flip for both."""

    def __init__(
        self,
        files: Sequence[Path],
        image_size: int,
        *,
        crop_scale: float = 1.0,
        flip: bool = False,
    ) -> None:
        self.files = [Path(f) for f in files]
        self.image_size = image_size
        self.crop_scale = crop_scale
        self.flip = flip

    def __len__(self) -> int:
        return len(self.files)

    def decode(self, i: int) -> Tensor:
        """The whole A|B image ``i``, ``uint8 (3, H, W)``; its width checked to be even."""
        img = load_rgb(self.files[i])
        split_pair(img, self.files[i])
        return img

    def augment(self, img_u8: Tensor) -> dict[str, Tensor]:
        """Both halves of a decoded pair, cropped and flipped alike."""
        a, b = split_pair(img_u8)
        params = sample_augment(a.shape[-2], a.shape[-1], self.crop_scale, self.flip)
        return {
            "a": apply_augment(a, params, self.image_size),
            "b": apply_augment(b, params, self.image_size),
        }

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return self.augment(self.decode(i))


class DomainDataset(Dataset):
    """The images of one domain: an unpaired folder, or one half (``half="a"|"b"``) of pix2pix
    pairs; item ``(3, S, S)`` in -1..1."""

    def __init__(
        self,
        files: Sequence[Path],
        image_size: int,
        *,
        half: Literal["a", "b"] | None = None,
        crop_scale: float = 1.0,
        flip: bool = False,
    ) -> None:
        if half not in (None, "a", "b"):
            raise ValueError(f"half must be None, 'a' or 'b', not {half!r}")
        self.files = [Path(f) for f in files]
        self.image_size = image_size
        self.half = half
        self.crop_scale = crop_scale
        self.flip = flip

    def __len__(self) -> int:
        return len(self.files)

    def decode(self, i: int) -> Tensor:
        """Image ``i`` (or its half), ``uint8 (3, H, W)``."""
        img = load_rgb(self.files[i])
        if self.half is None:
            return img
        a, b = split_pair(img, self.files[i])
        return (a if self.half == "a" else b).contiguous()

    def augment(self, img_u8: Tensor) -> Tensor:
        return augment(img_u8, self.image_size, self.crop_scale, self.flip)

    def __getitem__(self, i: int) -> Tensor:
        return self.augment(self.decode(i))
