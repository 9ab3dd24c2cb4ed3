"""``cg export``: a trained generator as a file that runs without cg, in ONNX or TorchScript.

What the exported graph computes (both formats)::

    image       float32 (N, 3, H, W), RGB in [-1, 1]: pixel / 127.5 - 1
    translated  float32 (N, 3, H, W), RGB in [-1, 1] (tanh): (y + 1) * 127.5 gives pixels

N, H and W are free; H and W must be multiples of the generator's :func:`size_rule` (16 for
cg's U-Net, which halves them four times; 4 for ``resnet_6``/``resnet_9``, whose sides must
also be at least 8; 128 and 256 for ``unet_128``/``unet_256``). The generator is exported in
eval mode: dropout off and batch norm with the running statistics it learnt, so an image's
output depends on that image alone, as in ``cg translate``. The image size of training is
where the generator works best, not a limit: the file's metadata (:func:`export_metadata`)
records it, with the cg version, the direction and the input range.

- **ONNX** (``torch.onnx.export(dynamo=True)``, the exporter PyTorch recommends and uses by
  default since 2.9; it needs ``onnxscript``): the graph from ``torch.export`` with the batch and
  the sides as symbolic dimensions (``16*height_div_16``: the exporter proves that every
  multiple of 16 works), checked with ``onnx.checker`` (full check, with shape inference); the
  metadata is in the model's ``metadata_props``. Runs in ONNX Runtime, TensorRT, OpenVINO, ...
- **TorchScript** (``torch.jit.trace`` in eval mode, ``torch.jit.save`` with the metadata as
  the extra file ``cg.json``): for C++ (libtorch) and older deployments. TorchScript is
  deprecated since PyTorch 2.5 (``torch.jit.trace``, ``save`` and ``load`` warn about it), so
  cg silences the deprecation warnings it triggers itself and prefers ONNX; ``torch.jit.load``
  in the user's code still warns. Tracing records the shape checks in ``forward`` (cg's size
  check, instance norm's channel check) as constants, hence the TracerWarnings it would print,
  also silenced: the file does not check sides itself, and a side that is not a multiple fails
  inside the network.

Each file is checked before it is written: run on a batch of 2 at twice the size multiple m
and on one of 1 at 3m x 2m (ONNX in ONNX Runtime on the CPU, TorchScript reloaded from its
bytes), it must reproduce the PyTorch generator within :data:`TOLERANCE`; only then is it
written, atomically (:mod:`cg.files`).
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cg import __version__
from cg.checkpoints import load_checkpoint
from cg.config import TrainConfig
from cg.errors import UserError
from cg.files import atomic_write_bytes, sha256

if TYPE_CHECKING:  # heavy: torch is imported where it is used, so `cg --help` stays quick
    import torch
    from torch import nn

#: ``--format`` -> the file suffixes it may have (the first is the one to suggest).
SUFFIXES: dict[str, tuple[str, ...]] = {
    "onnx": (".onnx",),
    "torchscript": (".pt", ".ts", ".torchscript"),
}
FORMAT_NAMES = {"onnx": "ONNX", "torchscript": "TorchScript"}
INPUT_NAME, OUTPUT_NAME = "image", "translated"
INPUT_RANGE = "float32 NCHW RGB in [-1, 1]: pixel / 127.5 - 1"
OUTPUT_RANGE = "float32 NCHW RGB in [-1, 1] (tanh): (y + 1) * 127.5 gives pixels"
EXTRA_FILE = "cg.json"  # TorchScript: the metadata, in torch.jit.save's _extra_files
TOLERANCE = 1e-4  # largest difference to the PyTorch generator accepted by the check
ONNX_MIN_TORCH = (2, 6)  # torch.onnx.export(dynamo=True, dynamic_shapes=...) and model_proto


def size_rule(generator: nn.Module) -> tuple[int, int]:
    """``(multiple, smallest)``: the sides of an input to ``generator`` (one of cg's models)
    must be multiples of ``multiple`` and at least ``smallest``."""
    from cg.models import ResnetGenerator, UNet, UnetGenerator  # heavy: keeps cg --help fast

    if isinstance(generator, UNet):
        return 16, 16  # four 2x2 max-poolings
    if isinstance(generator, UnetGenerator):
        side = 2**generator.num_downs  # down to 1x1 at the bottleneck
        return side, side
    if isinstance(generator, ResnetGenerator):
        return 4, 8  # two stride-2 convolutions; the blocks' reflection padding needs 2x2
    raise TypeError(f"no size rule for {type(generator).__name__}")


def format_for(out: str | Path, fmt: str | None) -> str:
    """The format to write: ``fmt`` (``onnx`` or ``torchscript``), else the one ``out``'s
    suffix names; a UserError when ``fmt`` is unknown or ``out``'s suffix contradicts it."""
    out = Path(out)
    suffix = out.suffix.lower()
    shown = repr(suffix) if suffix else "(none)"
    by_suffix = next((f for f, sfx in SUFFIXES.items() if suffix in sfx), None)
    if fmt is None:
        if by_suffix is None:
            raise UserError(
                f"--out {out}: cannot tell the format from the suffix {shown}; "
                "pass --format onnx or --format torchscript, or name the file *.onnx or *.pt"
            )
        return by_suffix
    if fmt not in SUFFIXES:
        raise UserError(f"--format {fmt!r} is not one of {', '.join(SUFFIXES)}")
    if suffix not in SUFFIXES[fmt]:
        want = " or ".join(SUFFIXES[fmt])
        theirs = f", which is {FORMAT_NAMES[by_suffix]}'s," if by_suffix else ""
        raise UserError(
            f"--out {out}: the suffix {shown}{theirs} does not fit --format "
            f"{fmt}; name the file {out.with_suffix(SUFFIXES[fmt][0]).name} ({want})"
            + (f" or pass --format {by_suffix}" if by_suffix else "")
        )
    return fmt


def export_metadata(
    checkpoint: Path, direction: str, cfg: TrainConfig, generator: nn.Module, epoch: int | None
) -> dict[str, str]:
    """What the exported file records about itself (all values strings, as ONNX wants)."""
    from cg.translate import DIRECTIONS  # heavy: keeps cg --help fast

    src, dst = direction[0].upper(), direction[1].upper()
    return {
        "cg_version": __version__,
        "direction": direction,
        "translates": f"{src} -> {dst} ({DIRECTIONS[direction]})",
        "generator": cfg.generator,
        "norm": cfg.norm,
        "base_channels": str(cfg.base_channels),
        "image_size": str(cfg.image_size),
        "size_multiple": str(size_rule(generator)[0]),
        "smallest_side": str(size_rule(generator)[1]),
        "input": INPUT_RANGE,
        "output": OUTPUT_RANGE,
        "mode": "eval: dropout off, batch norm with its running statistics",
        "checkpoint": checkpoint.name,
        "checkpoint_sha256": sha256(checkpoint),
        "epochs_trained": "" if epoch is None else str(epoch),
    }


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_generator` wrote and how it checked it."""

    path: Path
    format: str
    metadata: dict[str, str]
    checked_shapes: list[tuple[int, ...]]
    max_difference: float
    detail: str  # e.g. "ONNX opset 20"

    def summary(self) -> str:
        m = self.metadata
        shapes = " and ".join("x".join(map(str, shape)) for shape in self.checked_shapes)
        sides = f"multiples of {m['size_multiple']}"
        if m["smallest_side"] != m["size_multiple"]:
            sides += f", at least {m['smallest_side']}"
        return (
            f"exported {m['translates']} as {FORMAT_NAMES[self.format]} ({self.detail}) to "
            f"{self.path}: input (N, 3, H, W) in [-1, 1], H and W {sides} "
            f"(trained at {m['image_size']}); checked on {shapes}: largest difference to the "
            f"PyTorch generator {self.max_difference:.1e}"
        )


def _inputs(multiple: int) -> list[torch.Tensor]:
    """The export's example, a batch of 2 at twice the size multiple (at least the smallest
    side of every generator; no dimension of size 1, which torch.export would specialise), and
    a second check input of another batch size and shape, 1 x 3m x 2m."""
    import torch  # heavy: keeps cg --help fast

    g = torch.Generator().manual_seed(0)
    shapes = [(2, 3, 2 * multiple, 2 * multiple), (1, 3, 3 * multiple, 2 * multiple)]
    return [torch.rand(shape, generator=g) * 2 - 1 for shape in shapes]


def _torchscript_bytes(
    generator: nn.Module, example: torch.Tensor, metadata: dict[str, str]
) -> bytes:
    import torch  # heavy: keeps cg --help fast

    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"`torch\.jit\.\w+` is deprecated", FutureWarning)
        # shape checks (cg's check_size, torch's own) become constants; the two check inputs
        # of export_generator show that the trace still holds for other batches and sizes
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        traced = torch.jit.trace(generator, (example,))
        torch.jit.save(traced, buf, _extra_files={EXTRA_FILE: json.dumps(metadata, indent=1)})
    return buf.getvalue()


def load_torchscript(data: bytes | str | Path) -> tuple[torch.jit.ScriptModule, dict[str, str]]:
    """An exported TorchScript generator and its metadata (the ``cg.json`` extra file)."""
    import torch  # heavy: keeps cg --help fast

    extra = {EXTRA_FILE: ""}
    source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"`torch\.jit\.\w+` is deprecated", FutureWarning)
        module = torch.jit.load(source, map_location="cpu", _extra_files=extra)
    return module.eval(), json.loads(extra[EXTRA_FILE] or "{}")


def export_generator(
    checkpoint: str | Path, direction: str, fmt: str | None, out: str | Path
) -> ExportResult:
    """Export the ``direction`` generator of ``checkpoint`` to ``out`` (see the module
    docstring); ``fmt`` ``None`` takes the format from ``out``'s suffix."""
    import torch  # heavy: keeps cg --help fast

    from cg.translate import load_generator  # heavy: keeps cg --help fast

    out, checkpoint = Path(out), Path(checkpoint)
    fmt = format_for(out, fmt)
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name, e.g. {out / 'g.onnx'}")
    generator, cfg = load_generator(checkpoint, direction, "cpu")
    generator = generator.float().eval()
    epoch = load_checkpoint(checkpoint).get("epoch")
    metadata = export_metadata(checkpoint, direction, cfg, generator, epoch)
    inputs = _inputs(size_rule(generator)[0])
    if fmt == "onnx":
        import onnx  # heavy, and needed by ONNX exports alone

        from cg.export.onnx_format import onnx_bytes, onnx_runner  # cycle: it imports cg.export

        data = onnx_bytes(generator, inputs[0], metadata)
        run = onnx_runner(data)
        opset = next(o.version for o in onnx.load_from_string(data).opset_import if not o.domain)
        detail = f"opset {opset}"
    else:
        data = _torchscript_bytes(generator, inputs[0], metadata)
        run, _ = load_torchscript(data)
        detail = "torch.jit.trace"
    difference = 0.0
    with torch.no_grad():
        for x in inputs:
            difference = max(difference, float((run(x) - generator(x)).abs().max()))
    if not difference <= TOLERANCE:
        raise RuntimeError(
            f"the exported {FORMAT_NAMES[fmt]} graph differs from the generator by "
            f"{difference:.3g} (> {TOLERANCE}); nothing was written"
        )
    atomic_write_bytes(out, data)
    return ExportResult(out, fmt, metadata, [tuple(x.shape) for x in inputs], difference, detail)
