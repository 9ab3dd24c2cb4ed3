"""``cg translate``: every output pixel is the generator's output for that input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY, flags, settle_batch_norm
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
    # outputs that vary (not an almost constant image) make the pixel comparisons meaningful
    return data, settle_batch_norm(run / "checkpoints" / "last.pt", data, run / "settled.pt")


def _expected(ckpt: Path, direction: str, image: np.ndarray) -> np.ndarray:
    """The generator applied by hand: uint8 HWC -> [-1, 1] -> model (eval) -> uint8 HWC."""
    state = load_checkpoint(ckpt)
    g = build_generator(config_from_dict(state["config"]))
    g.load_state_dict(state["models"][f"g_{direction}"])
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float()[None] / 127.5 - 1
    with torch.no_grad():
        y = g.eval()(x)[0]
    return ((y + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()


def test_translate_writes_the_models_pixels(checkpoint, tmp_path, capsys):
    """The default --format png is lossless: every output pixel is the model's, even for JPEG
    inputs, whose outputs are renamed .png."""
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
    assert capsys.readouterr().out == (
        f"translated {len(sources)} images B -> A (g_ba) into {out}\n"
    )
    for src in sources:
        pair = np.asarray(Image.open(src).convert("RGB"))
        half_b = pair[:, pair.shape[1] // 2 :]  # B, the right half, already at the run's size
        written = out / src.relative_to(data / "val").with_suffix(".png")
        assert not written.with_suffix(".jpg").exists()
        got = np.asarray(Image.open(written).convert("RGB"))
        want = _expected(ckpt, "ba", np.ascontiguousarray(half_b))
        np.testing.assert_array_equal(got, want)
        assert not np.array_equal(got, half_b)  # a translation, not a copy
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
            "--format",
            "png",
            "--no-progress",
        )
        == 0
    )
    for path in sorted(png_in.iterdir()):
        image = np.asarray(Image.open(path).convert("RGB"))
        got = np.asarray(Image.open(png_out / path.name).convert("RGB"))
        np.testing.assert_array_equal(got, _expected(ckpt, "ba", image))


def _mixed_inputs(data: Path, folder: Path) -> dict[str, np.ndarray]:
    """x.png, y.jpg and nested/z.bmp: the A halves of validation pairs; name -> the image as
    decoded."""
    pairs = sorted((data / "val").rglob("*.jpg"))
    images = {}
    for name, pair in zip(("x.png", "y.jpg", "nested/z.bmp"), pairs):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        whole = np.asarray(Image.open(pair).convert("RGB"))
        Image.fromarray(np.ascontiguousarray(whole[:, : whole.shape[1] // 2])).save(path)
        images[name] = np.asarray(Image.open(path).convert("RGB"))
    return images


@pytest.mark.parametrize(
    ("image_format", "suffixes", "lossless"),
    [
        ("jpg", {"x.png": ".jpg", "y.jpg": ".jpg", "nested/z.bmp": ".jpg"}, set()),
        ("same", {"x.png": ".png", "y.jpg": ".jpg", "nested/z.bmp": ".bmp"}, {"x.png", "z.bmp"}),
    ],
)
def test_translate_format_decides_the_outputs_suffix_and_codec(
    checkpoint, tmp_path, image_format, suffixes, lossless
):
    data, ckpt = checkpoint
    images = _mixed_inputs(data, tmp_path / "in")
    out = tmp_path / "out"
    assert (
        cg(
            "translate",
            "--checkpoint",
            ckpt,
            "--direction",
            "ab",
            "--input",
            tmp_path / "in",
            "--output",
            out,
            "--format",
            image_format,
            "--no-progress",
        )
        == 0
    )
    expected_files = {Path(name).with_suffix(sfx).as_posix() for name, sfx in suffixes.items()}
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == (
        expected_files
    )
    for name, suffix in suffixes.items():
        written = out / Path(name).with_suffix(suffix)
        codec = {".jpg": "JPEG", ".png": "PNG", ".bmp": "BMP"}[suffix]
        assert Image.open(written).format == codec
        got = np.asarray(Image.open(written).convert("RGB")).astype(int)
        want = _expected(ckpt, "ab", images[name]).astype(int)
        if Path(name).name in lossless:
            np.testing.assert_array_equal(got, want)
        else:  # JPEG, quality 95: close, not equal
            assert 0 < np.abs(got - want).mean() < 3.0


def test_translate_refuses_two_inputs_with_one_output_name(checkpoint, tmp_path, capsys):
    _, ckpt = checkpoint
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(2)
    for name in ("a.jpg", "a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(inputs / name)
    out = tmp_path / "out"
    argv = ["--checkpoint", ckpt, "--direction", "ab", "--input", inputs, "--output", out]
    for extra in ([], ["--format", "png"]):
        assert cg("translate", *argv, *extra, "--no-progress") == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert f"{inputs / 'a.jpg'} and {inputs / 'a.png'}" in err, err
        assert f"written to {out / 'a.png'} with --format png" in err, err
        assert "--format same" in err
    assert not out.exists()  # refused before anything was written
    assert cg("translate", *argv, "--format", "same", "--no-progress") == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "a.png", "b.png"]
    assert cg("translate", *argv, "--format", "gif", "--no-progress") == 2
    assert "invalid choice: 'gif'" in capsys.readouterr().err


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
