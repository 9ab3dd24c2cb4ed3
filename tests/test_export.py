"""``cg export``: the ONNX and TorchScript files compute the generator (eval mode) at any batch
and size, carry their metadata, and bad requests are one-line errors that write nothing."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY, flags, settle_batch_norm

from cg import __version__
from cg.checkpoints import save_checkpoint
from cg.cli import main
from cg.config import TrainConfig
from cg.export import INPUT_RANGE, load_torchscript
from cg.models import build_generator
from cg.translate import load_generator

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

# The report's U-Net with batch norm, and a reference generator with instance norm and dropout:
# both differ between train and eval mode, so a file exported in train mode would fail.
MODELS = {
    "unet_batchnorm": {},
    "resnet_6_instance_dropout": {"generator": "resnet_6", "norm": "instance", "dropout": True},
}
# (batch, height, width): two batch sizes, two sizes (multiples of 16, not the training size
# only), one of them not square.
SHAPES = [(1, 32, 32), (3, 48, 64)]


def cg(*args: object) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def checkpoints(synth, tmp_path_factory) -> dict[str, Path]:
    """One tiny checkpoint per entry of MODELS, each trained for one epoch by ``cg train``, its
    batch-norm statistics settled (so that eval-mode outputs vary)."""
    data = synth("edges2shoes")
    out = {}
    for name, options in MODELS.items():
        run = tmp_path_factory.mktemp("export") / name
        argv = ["train", "--data", data, "--out", run, "--epochs", "1", "--no-progress"]
        assert cg(*argv, *flags({**TINY, **options})) == 0
        out[name] = settle_batch_norm(run / "checkpoints" / "last.pt", data, run / "settled.pt")
    return out


def _inputs(batch: int, height: int, width: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(batch * 1000 + height + width)
    return torch.rand(batch, 3, height, width, generator=g) * 2 - 1


@pytest.mark.parametrize("name", list(MODELS))
def test_exported_files_compute_the_eval_mode_generator(checkpoints, name, tmp_path) -> None:
    ckpt = checkpoints[name]
    onnx_file, ts_file = tmp_path / "g.onnx", tmp_path / "g.pt"
    assert cg("export", "--checkpoint", ckpt, "--direction", "ab", "--out", onnx_file) == 0
    ts_args = ["--direction", "ab", "--format", "torchscript", "--out", ts_file]
    assert cg("export", "--checkpoint", ckpt, *ts_args) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.onnx", "g.pt"]  # no temporaries

    generator, cfg = load_generator(ckpt, "ab")
    model = onnx.load(str(onnx_file))
    onnx.checker.check_model(model, full_check=True)
    (graph_input,) = model.graph.input
    dims = graph_input.type.tensor_type.shape.dim
    assert graph_input.name == "image" and dims[1].dim_value == 3
    assert all(d.dim_param and not d.dim_value for d in (dims[0], dims[2], dims[3]))  # dynamic
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    scripted, ts_meta = load_torchscript(ts_file)
    training = copy.deepcopy(generator).train()
    for shape in SHAPES:
        x = _inputs(*shape)
        with torch.no_grad():
            want = generator(x)
            in_train_mode = training(x)
            from_ts = scripted(x)
        (from_onnx,) = session.run(None, {"image": x.numpy()})
        assert from_onnx.shape == tuple(want.shape) == (shape[0], 3, *shape[1:])
        np.testing.assert_allclose(from_onnx, want.numpy(), rtol=0, atol=1e-4)
        torch.testing.assert_close(from_ts, want, rtol=0, atol=1e-4)
        assert float(np.abs(from_onnx).max()) <= 1.0  # tanh
        assert float(want.std()) > 100 * 1e-4  # outputs vary far more than the tolerance
        # the test can tell the modes apart: train mode (batch statistics, dropout) is far off
        assert float((in_train_mode - want).abs().max()) > 1e-2

    onnx_meta = {p.key: p.value for p in model.metadata_props}
    for meta in (onnx_meta, ts_meta):
        assert meta["cg_version"] == __version__
        assert meta["direction"] == "ab" and meta["translates"] == "A -> B (g_ab)"
        assert meta["image_size"] == str(cfg.image_size) == "32"
        assert meta["input"] == INPUT_RANGE and "[-1, 1]" in meta["input"]
        assert meta["generator"] == cfg.generator and meta["norm"] == cfg.norm
        assert meta["size_multiple"] == ("16" if cfg.generator == "unet" else "4")


def test_export_prints_what_it_wrote_and_checked(checkpoints, tmp_path, capsys) -> None:
    out = tmp_path / "g_ba.ts"  # --format from the suffix
    ckpt = checkpoints["unet_batchnorm"]
    assert cg("export", "--checkpoint", ckpt, "--direction", "ba", "--out", out) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"exported B -> A (g_ba) as TorchScript (torch.jit.trace) to {out}")
    assert "H and W multiples of 16 (trained at 32)" in line
    assert "checked on 2x3x32x32 and 1x3x48x32: largest difference" in line
    _, meta = load_torchscript(out)
    assert meta["direction"] == "ba" and meta["translates"] == "B -> A (g_ba)"


def test_export_errors_are_one_line_and_write_nothing(checkpoints, tmp_path, capsys) -> None:
    cfg = dataclasses.replace(
        TrainConfig(), objective="pix2pix", image_size=32, base_channels=4, disc_channels=4
    )
    pix2pix = tmp_path / "pix2pix.pt"  # what a pix2pix run saves: g_ab only
    models = {"g_ab": build_generator(cfg).state_dict()}
    save_checkpoint(pix2pix, {"config": cfg.to_dict(), "epoch": 1, "models": models})
    ckpt = checkpoints["unet_batchnorm"]
    out = tmp_path / "out"
    cases = [
        (["--checkpoint", pix2pix, "--direction", "ba", "--out", out / "g.onnx"],
         ["has no g_ba generator", "pix2pix", "--direction ab"]),
        (["--checkpoint", ckpt, "--direction", "ab", "--format", "tflite", "--out",
          out / "g.onnx"], ["--format", "'tflite'"]),
        (["--checkpoint", ckpt, "--direction", "ab", "--format", "onnx", "--out", out / "g.pt"],
         ["g.pt", "'.pt'", "TorchScript", "g.onnx", "--format torchscript"]),
        (["--checkpoint", ckpt, "--direction", "ab", "--format", "torchscript", "--out",
          out / "g.onnx"], ["'.onnx'", "ONNX", "g.pt"]),
        (["--checkpoint", ckpt, "--direction", "ab", "--out", out / "g.bin"],
         ["cannot tell the format", "'.bin'"]),
        (["--checkpoint", tmp_path / "missing.pt", "--direction", "ab", "--out",
          out / "g.onnx"], ["missing.pt does not exist"]),
    ]  # fmt: skip
    for argv, expected in cases:
        assert cg("export", *argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
        for part in expected:
            assert part in err, (part, err)
    assert not out.exists()
    assert cg("export", "--checkpoint", pix2pix, "--direction", "ab", "--out", out / "g.pt") == 0
