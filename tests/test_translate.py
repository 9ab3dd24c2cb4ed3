"""``cg translate``: every output pixel is the generator's output for that input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY, flags
from PIL import Image

from cg.checkpoints import load_checkpoint
from cg.cli import main
from cg.config import config_from_dict
from cg.models import build_generator


def cg(*args: object) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def checkpoint(synth, tmp_path_factory) -> tuple[Path, Path]:
    data = synth("edges2shoes")
    run = tmp_path_factory.mktemp("translate") / "run"
    assert (
        cg("train", "--data", data, "--out", run, "--epochs", "1", "--no-progress", *flags(TINY))
        == 0
    )
    return data, run / "checkpoints" / "last.pt"


def _expected(ckpt: Path, direction: str, image: np.ndarray) -> np.ndarray:
    """The generator applied by hand: uint8 HWC -> [-1, 1] -> model (eval) -> uint8 HWC."""
    state = load_checkpoint(ckpt)
    g = build_generator(config_from_dict(state["config"]))
    g.load_state_dict(state["models"][f"g_{direction}"])
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float()[None] / 127.5 - 1
    with torch.no_grad():
        y = g.eval()(x)[0]
    return ((y + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()


def test_translate_writes_the_models_pixels(checkpoint, tmp_path):
    data, ckpt = checkpoint
    out = tmp_path / "out"
    assert (
        cg(
            "translate",
            "--checkpoint",
            ckpt,
            "--direction",
            "ba",
            "--input",
            data / "val",
            "--half",
            "b",
            "--output",
            out,
            "--batch-size",
            "3",
            "--no-progress",
        )
        == 0
    )
    sources = sorted((data / "val").rglob("*.jpg"))
    assert sources
    for src in sources:
        pair = np.asarray(Image.open(src).convert("RGB"))
        half_b = pair[:, pair.shape[1] // 2 :]  # B, the right half, already at the run's size
        written = out / src.relative_to(data / "val")
        assert written.is_file()
        got = np.asarray(Image.open(written).convert("RGB")).astype(int)
        want = _expected(ckpt, "ba", np.ascontiguousarray(half_b)).astype(int)
        assert got.shape == want.shape
        assert np.abs(got - want).mean() < 2.0  # the output keeps .jpg (quality 95): lossy
    png_in = tmp_path / "png_in"
    png_in.mkdir()
    for i, src in enumerate(sources):
        pair = np.asarray(Image.open(src).convert("RGB"))
        Image.fromarray(pair[:, pair.shape[1] // 2 :]).save(png_in / f"{i}.png")
    png_out = tmp_path / "png_out"
    assert (
        cg(
            "translate",
            "--checkpoint",
            ckpt,
            "--direction",
            "ba",
            "--input",
            png_in,
            "--output",
            png_out,
            "--batch-size",
            "2",
            "--no-progress",
        )
        == 0
    )
    for path in sorted(png_in.iterdir()):
        image = np.asarray(Image.open(path).convert("RGB"))
        got = np.asarray(Image.open(png_out / path.name).convert("RGB"))
        want = _expected(ckpt, "ba", image)
        np.testing.assert_array_equal(got, want)
        assert not np.array_equal(got, image)  # a translation, not a copy


def test_translate_directions_use_their_own_generator(checkpoint, tmp_path):
    data, ckpt = checkpoint
    png_in = tmp_path / "in"
    png_in.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(png_in / "x.png")
    outs = {}
    for direction in ("ab", "ba"):
        target = tmp_path / direction
        assert (
            cg(
                "translate",
                "--checkpoint",
                ckpt,
                "--direction",
                direction,
                "--input",
                png_in,
                "--output",
                target,
                "--no-progress",
            )
            == 0
        )
        outs[direction] = np.asarray(Image.open(target / "x.png").convert("RGB"))
        image = np.asarray(Image.open(png_in / "x.png").convert("RGB"))
        np.testing.assert_array_equal(outs[direction], _expected(ckpt, direction, image))
    assert not np.array_equal(outs["ab"], outs["ba"])
