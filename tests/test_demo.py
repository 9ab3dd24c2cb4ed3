"""``cg demo``: the page gives ``cg translate``'s PNG bytes, refuses bad files with a sentence,
loads nothing from outside 127.0.0.1, and starts (or refuses to) like every ``cg`` command.

The browser tests start the real ``cg demo`` on a free port and drive it in headless Chromium
(:mod:`cg.demo.browser`); without Chromium they are skipped with a loud reason, except under
``CI=true``, where a missing browser is a failure (``.ci/run`` installs it).
"""

from __future__ import annotations

import base64
import dataclasses
import os
import struct
import subprocess
import sys
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY, flags, settle_batch_norm
from PIL import Image

from cg.cli import main
from cg.demo.browser import free_port
from cg.demo.examples import write_examples
from cg.demo.run import card, open_run, upload_problem

ROOT = Path(__file__).resolve().parents[1]


def cg(*args: object) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def smoke(synth, tmp_path_factory) -> tuple[Path, Path]:
    """``(data, run)``: one epoch of the real trainer on the built-in edges2shoes data, with
    settled batch norm so that outputs vary (see :func:`helpers.settle_batch_norm`)."""
    data = synth("edges2shoes")
    run = tmp_path_factory.mktemp("demo") / "run"
    argv = ["train", "--data", data, "--out", run, "--epochs", "1", "--no-progress"]
    assert cg(*argv, *flags(TINY)) == 0
    last = run / "checkpoints" / "last.pt"
    settle_batch_norm(last, data, last)
    return data, run


def _bomb(path: Path, side: int = 30_000) -> Path:
    """A 69-byte PNG that claims ``side`` x ``side`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit grey
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


# --- start-up, without a browser -------------------------------------------------------------


def _cg_process(*args: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "cg", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_demo_refuses_a_run_folder_without_a_checkpoint(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}\n")
    err = _one_error_line(_cg_process("demo", run, "--port", free_port()))
    assert f"run folder {run} has no checkpoint ({run / 'checkpoints' / 'last.pt'}" in err
    err = _one_error_line(_cg_process("demo", tmp_path / "nowhere"))
    assert f"{tmp_path / 'nowhere'} does not exist" in err


@pytest.mark.parametrize("kind", ["state_dict", "text"])
def test_demo_refuses_a_checkpoint_of_another_format(tmp_path, kind):
    path = tmp_path / "latest_net_G.pth"
    if kind == "state_dict":  # the reference implementation's weights: a bare state dict
        torch.save({"model.0.weight": torch.zeros(2, 3)}, path)
    else:
        path.write_text("not a checkpoint\n")
    err = _one_error_line(_cg_process("demo", path, "--port", free_port()))
    assert str(path) in err
    assert "cg import-official" in err  # what to do with reference weights


def test_demo_without_gradio_says_how_to_install_it(smoke, monkeypatch, capsys):
    _, run = smoke
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio -> ImportError
    assert cg("demo", run, "--port", free_port()) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: cg demo needs Gradio") and "pip install -e '.[demo]'" in err


def test_cg_starts_without_importing_gradio():
    code = "import sys; from cg.cli import main; main(['demo', '--help'])"
    code += "; print('gradio' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert out.stdout.strip().splitlines()[-1] == "False", out


# --- the run, its card and examples, without a browser ------------------------------------------


def test_card_names_the_dataset_settings_history_and_checkpoint(smoke):
    data, run_dir = smoke
    run = open_run(run_dir)
    assert sorted(run.generators) == ["ab", "ba"]
    text = card(run, "validation images")
    last = (run_dir / "history.csv").read_text().splitlines()
    row = dict(zip(last[0].split(","), last[-1].split(",")))
    for line in (
        "**Dataset**: edges2shoes: A = edge map, B = shoe photo",
        "**Objective**: CycleGAN, paired",
        "**Adversarial loss**: on",
        "**Generator**: unet (bilinear upsampling, 4 base channels), batch norm",
        "**Image size**: 32 px",
        "**Epochs trained**: 1 of 1",
        f"A (edge map) → B (shoe photo) {float(row['pixel_error_ab_val']):.4f}",
        f"B (shoe photo) → A (edge map) {float(row['pixel_error_ba_val']):.4f}",
        f"**Checkpoint**: `{run_dir / 'checkpoints' / 'last.pt'}`",
    ):
        assert line in text, (line, text)
    # the checkpoint file alone finds its run folder; the pixels do not depend on the way in
    alone = open_run(run_dir / "checkpoints" / "last.pt")
    assert alone.root == run_dir and alone.history == run.history


def test_examples_come_from_the_data_else_from_the_builtin_generator(smoke, tmp_path):
    from cg.data import load_rgb, split_pair
    from cg.data.synthetic import render_val

    data, run_dir = smoke
    run = open_run(run_dir)
    made = write_examples(run, tmp_path / "from-data")
    assert [f.name for f in made.files] == [f"{d}_{i}.png" for d in "ab" for i in (1, 2, 3)]
    assert made.source == f"validation images of {data}"
    first = sorted((data / "val").glob("*.jpg"))[0]
    a, _ = split_pair(load_rgb(first))
    assert torch.equal(load_rgb(made.files[0]), a)  # the pair's left half, losslessly

    # data moved away: its folder's name still tells the dataset, whose built-in data is drawn
    elsewhere = str(tmp_path / "moved" / "edges2shoes")
    moved = dataclasses.replace(run, cfg=dataclasses.replace(run.cfg, data=elsewhere))
    built = write_examples(moved, tmp_path / "built-in")
    assert len(built.files) == 6 and built.source.startswith("built-in synthetic edges2shoes")
    assert np.array_equal(
        np.asarray(Image.open(built.files[3])),
        np.asarray(render_val("edges2shoes", "b", 1, size=32)),
    )
    # nothing tells the dataset: no examples, and the card says why
    gone = dataclasses.replace(run, cfg=dataclasses.replace(run.cfg, data=str(tmp_path / "gone")))
    none = write_examples(gone, tmp_path / "none")
    assert none.files == [] and "not reachable" in none.source


def test_render_val_is_a_half_of_the_validation_pair():
    from cg.data.synthetic import render, render_val

    pair = np.asarray(render("edges2shoes", "val", 2, size=32))
    assert np.array_equal(np.asarray(render_val("edges2shoes", "a", 2, size=32)), pair[:, :32])
    assert np.array_equal(np.asarray(render_val("edges2shoes", "b", 2, size=32)), pair[:, 32:])
    face = render("face2simpson", "testB", 1, size=32)
    assert np.array_equal(np.asarray(render_val("face2simpson", "b", 1, size=32)), np.asarray(face))


def test_upload_problem_names_the_file_and_what_to_do(tmp_path):
    good = tmp_path / "good.png"
    Image.new("RGB", (40, 30), (10, 20, 30)).save(good)
    assert upload_problem(good, "good.png") is None
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("not an image\n")
    _bomb(tmp_path / "bomb.png")
    big = tmp_path / "big.png"  # under Pillow's bomb limit, over the page's
    _bomb(big, side=8000)
    for name, reason in (
        ("empty.png", "empty file (0 bytes)"),
        ("notes.png", "not an image file"),
        ("bomb.png", "too large to decode safely"),
        ("big.png", "too large (8000 x 8000 pixels)"),
    ):
        problem = upload_problem(tmp_path / name, name)
        assert problem.startswith(f"{name}: {reason}"), problem
        assert "upload an image file (bmp, jpeg, jpg, png, tif, tiff, webp)" in problem


# --- the page in a browser ------------------------------------------------------------------


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    from cg.demo.browser import MISSING, chromium, find_chromium

    try:
        import selenium  # noqa: F401
    except ImportError:
        missing = "selenium is not installed"
    else:
        missing = None if find_chromium() else MISSING
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {missing}")
        pytest.skip(f"SKIPPED: {missing}")
    drv = chromium(tmp_path_factory.mktemp("chromium-profile"), width=1400, height=1000)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def server(smoke, tmp_path_factory):
    """The real ``cg demo RUN`` on a free port of 127.0.0.1, in its own process; stopped at
    the end (SIGTERM, as Ctrl-C), which must end it cleanly."""
    from cg.demo.browser import serving

    _, run = smoke
    log = tmp_path_factory.mktemp("demo-server") / "server.log"
    env = {"PYTHONPATH": str(ROOT), "GRADIO_TEMP_DIR": str(log.parent / "gradio")}
    with serving(run, log, env) as url:
        yield url
    assert "stopping" in log.read_text()
    with pytest.raises(OSError):  # nothing listens there any more
        urllib.request.urlopen(url, timeout=10)


def _wait(driver, condition, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


def _status(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, "status").text


def _upload(driver, path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, "#input input[type=file]").send_keys(str(path))


def _shown(driver, direction: str) -> bytes | None:
    """The bytes of the image the page shows as ``direction``'s output, fetched by the page."""
    from selenium.webdriver.common.by import By

    images = driver.find_elements(By.CSS_SELECTOR, f"#output-{direction} img")
    if not images or not images[0].get_attribute("src"):
        return None
    encoded = driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        fetch(arguments[0]).then(r => r.arrayBuffer()).then(buf => {
          let s = ""; for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
          done(btoa(s));
        }).catch(e => done("failed: " + e));""",
        images[0].get_attribute("src"),
    )
    assert not encoded.startswith("failed"), encoded
    return base64.b64decode(encoded)


def _translated_by_cg(run: Path, image: Path, direction: str, out: Path) -> bytes:
    """What ``cg translate`` writes for ``image`` (alone in a folder) in ``direction``."""
    folder = out / "in"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / image.name).write_bytes(image.read_bytes())
    ckpt = run / "checkpoints" / "last.pt"
    target = out / direction
    argv = ["--checkpoint", ckpt, "--direction", direction, "--input", folder, "--output", target]
    assert cg("translate", *argv, "--no-progress") == 0
    return (target / image.with_suffix(".png").name).read_bytes()


@pytest.mark.browser
def test_page_shows_cg_translates_pixels_and_refuses_bad_files(driver, server, smoke, tmp_path):
    from cg.demo.browser import requested_urls, served_by

    data, run = smoke
    requested_urls(driver)  # forget Chromium's own start-up requests
    driver.get(server)
    _wait(driver, lambda d: d.find_elements("css selector", "#input input[type=file]"))
    assert driver.title == "cg demo: run"

    # a JPEG of another size than the run's: decoded, resized and translated as cg translate does
    pair = Image.open(sorted((data / "val").glob("*.jpg"))[1]).convert("RGB")
    shoe = tmp_path / "shoe.jpg"
    pair.crop((32, 0, 64, 32)).resize((48, 40)).save(shoe, quality=90)
    _upload(driver, shoe)
    _wait(driver, lambda d: _status(d) == "translated shoe.jpg" and _shown(d, "ba"))
    for direction in ("ab", "ba"):
        shown = _shown(driver, direction)
        expected = _translated_by_cg(run, shoe, direction, tmp_path / "cg")
        assert shown == expected, direction  # the same PNG bytes
        pixels = np.asarray(Image.open(tmp_path / "cg" / direction / "shoe.png"))
        assert pixels.shape == (32, 32, 3) and pixels.std() > 1  # a real picture

    # bad files: a sentence naming the file, no outputs, and the server goes on serving
    (tmp_path / "notes.txt").write_text("a text file\n")
    _upload(driver, tmp_path / "notes.txt")  # refused by the page before it is sent
    _wait(driver, lambda d: "notes.txt" in d.find_element("tag name", "body").text)
    (tmp_path / "fake.png").write_text("a text file named .png\n")
    (tmp_path / "empty.png").write_bytes(b"")
    _bomb(tmp_path / "bomb.png")
    for name, reason in (
        ("fake.png", "not an image file"),
        ("empty.png", "empty file (0 bytes)"),
        ("bomb.png", "too large to decode safely"),
    ):
        _upload(driver, tmp_path / name)
        _wait(driver, lambda d, n=name: _status(d).startswith(f"error: {n}:"))
        assert reason in _status(driver) and "upload an image file" in _status(driver)
        assert _shown(driver, "ab") is None and _shown(driver, "ba") is None
    with urllib.request.urlopen(server, timeout=30) as response:
        assert response.status == 200
    _upload(driver, shoe.rename(tmp_path / "again.jpg"))
    _wait(driver, lambda d: _status(d) == "translated again.jpg" and _shown(d, "ab"))
    assert _shown(driver, "ab") == (tmp_path / "cg" / "ab" / "shoe.png").read_bytes()

    # an example: a validation image of the run's data
    from selenium.webdriver.common.by import By

    driver.find_elements(By.CSS_SELECTOR, ".gallery-item")[0].click()
    _wait(driver, lambda d: _status(d) == "translated a_1.png" and _shown(d, "ab"))

    # offline: every request the page made went to the server it came from
    urls = requested_urls(driver)
    assert any(u.startswith(f"{server}gradio_api/") for u in urls)  # the log saw the page
    assert any(u.startswith(server) and u.endswith(".js") for u in urls)  # load and its work
    elsewhere = [u for u in urls if not served_by(u, server)]
    assert elsewhere == []


@pytest.mark.browser
def test_a_drawing_is_translated(driver, server):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    driver.get(server)
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "button[role=tab]"))
    tab = driver.find_elements(By.CSS_SELECTOR, "button[role=tab]")[1]
    assert tab.text == "Draw A (edge map)"
    tab.click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#sketch button[title=Brush]"))
    driver.find_element(By.CSS_SELECTOR, "#sketch button[title=Brush]").click()
    canvas = driver.find_elements(By.CSS_SELECTOR, "#sketch canvas")[-1]
    ActionChains(driver).move_to_element_with_offset(
        canvas, -60, 20
    ).click_and_hold().move_by_offset(60, -40).move_by_offset(60, 40).release().perform()
    driver.find_element(By.ID, "translate-drawing").click()
    _wait(driver, lambda d: _status(d) == "translated your drawing" and _shown(d, "ab"))


@pytest.mark.browser
def test_screenshot_of_the_page(driver, smoke, tmp_path, monkeypatch):
    """``python -m cg.demo.screenshot``: the README's picture, from the real page (in a
    browser of its own; ``driver`` skips the test where there is no Chromium)."""
    from cg.demo.screenshot import main as screenshot_main

    _, run = smoke
    out = tmp_path / "demo.png"
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # its `cg demo` process imports this cg
    assert screenshot_main([str(run), str(out), "--example", "3", "--width", "1200"]) == 0
    with Image.open(out) as shot:
        assert shot.format == "PNG" and shot.width == 1200 and shot.height > 600
