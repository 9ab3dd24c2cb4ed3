"""The ONNX file of ``cg export``: the generator through ``torch.onnx.export`` (dynamo), with
dynamic batch and sizes in the generator's multiples, checked by ``onnx.checker``; and an ONNX
Runtime session on the CPU that runs it, to compare it with the generator before it is written.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.export import Dim

from cg.errors import UserError
from cg.export import (
    INPUT_NAME,
    INPUT_RANGE,
    ONNX_MIN_TORCH,
    OUTPUT_NAME,
    OUTPUT_RANGE,
    size_rule,
)


def onnx_bytes(generator: nn.Module, example: torch.Tensor, metadata: dict[str, str]) -> bytes:
    version = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
    if version < ONNX_MIN_TORCH:
        raise UserError(
            f"ONNX export needs PyTorch >= {'.'.join(map(str, ONNX_MIN_TORCH))} (this is "
            f"{torch.__version__}); upgrade torch, or use --format torchscript"
        )
    try:  # optional: a missing package becomes a UserError that says how to install it
        import onnx
        import onnxscript  # noqa: F401 - the dynamo exporter's dependency, checked up front
    except ImportError as e:
        raise UserError(
            f"ONNX export needs the packages onnx and onnxscript ({e}); "
            "`pip install onnx==1.23.2 onnxscript==0.7.2`"
        ) from None

    multiple, smallest = size_rule(generator)
    height = Dim(f"height_div_{multiple}", min=smallest // multiple)
    width = Dim(f"width_div_{multiple}", min=smallest // multiple)
    shapes = {"x": {0: Dim("batch", min=1), 2: multiple * height, 3: multiple * width}}
    with torch.no_grad():
        program = torch.onnx.export(
            generator,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=shapes,
            dynamo=True,
            verbose=False,
        )
    proto = program.model_proto
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = f"cg generator {metadata['translates']}: {INPUT_RANGE} -> {OUTPUT_RANGE}"
    onnx.checker.check_model(proto, full_check=True)
    return proto.SerializeToString()


def onnx_runner(data: bytes) -> Callable[[torch.Tensor], torch.Tensor]:
    """The ONNX model ``data`` in an ONNX Runtime session on the CPU, as a function."""
    import onnxruntime  # heavy: only the check of a written file needs it

    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])

    def run(x: torch.Tensor) -> torch.Tensor:
        (y,) = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})
        return torch.from_numpy(y)

    return run
