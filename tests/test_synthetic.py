"""The built-in synthetic datasets and the `cg synth` / `cg data check` commands."""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cg.cli import build_parser, main
from cg.data import SYNTHETIC_NAMES, list_images, scan_dataset, synthesize
from cg.data import synthetic as syn
from cg.data.synthetic.city import PALETTE
from cg.errors import UserError

SMALL = {"size": 32, "n_train": 3, "n_val": 2}


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in list_images(root)}


@pytest.mark.parametrize(
    ("name", "fmt", "folders", "first"),
    [
        ("cityscapes", "pix2pix", {"train": 3, "val": 2}, "train/1.jpg"),
        ("edges2shoes", "pix2pix", {"train": 3, "val": 2}, "train/1_AB.jpg"),
        (
            "face2simpson",
            "unpaired",
            {"trainA": 3, "trainB": 3, "testA": 2, "testB": 2},
            "trainA/00001.jpg",
        ),
    ],
)
def test_formats_counts_and_sizes(
    tmp_path: Path, name: str, fmt: str, folders: dict, first: str
) -> None:
    files = synthesize(name, tmp_path / name, **SMALL)
    assert files.format == fmt and files == scan_dataset(tmp_path / name)
    tree = _tree(tmp_path / name)
    assert first in tree
    counts = {f: sum(k.startswith(f + "/") for k in tree) for f in folders}
    assert counts == folders
    width = 64 if fmt == "pix2pix" else 32
    for rel in tree:
        with Image.open(tmp_path / name / rel) as im:
            assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (width, 32))
    assert (tmp_path / name / syn.MARKER).is_file()
    assert not [p for p in (tmp_path / name).rglob(".*")]  # no temporary files left


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    one = _tree(synthesize("edges2shoes", tmp_path / "a", **SMALL).root)
    two = _tree(synthesize("edges2shoes", tmp_path / "b", **SMALL).root)
    other = _tree(synthesize("edges2shoes", tmp_path / "c", **SMALL, seed=1).root)
    assert one == two
    assert one.keys() == other.keys() and all(one[k] != other[k] for k in one)


def test_each_image_is_independent_of_the_count(tmp_path: Path) -> None:
    small = _tree(synthesize("face2simpson", tmp_path / "s", size=32, n_train=1, n_val=1).root)
    big = _tree(synthesize("face2simpson", tmp_path / "b", size=32, n_train=3, n_val=2).root)
    assert small.items() <= big.items()


def test_rerun_replaces_and_prunes_but_foreign_folders_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "d"
    synthesize("cityscapes", out, size=32, n_train=3, n_val=2)
    synthesize("cityscapes", out, size=32, n_train=2, n_val=1)
    assert sorted(_tree(out)) == ["train/1.jpg", "train/2.jpg", "val/1.jpg"]
    files = synthesize("face2simpson", out, size=32, n_train=1, n_val=1)  # other layout
    assert files.format == "unpaired" and not (out / "train").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    with pytest.raises(UserError, match="not empty"):
        synthesize("cityscapes", foreign, **SMALL)
    with pytest.raises(UserError, match="not a folder"):
        synthesize("cityscapes", foreign / "keep.txt", **SMALL)
    assert (foreign / "keep.txt").read_text() == "x"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "horses"}, "unknown synthetic dataset"),
        ({"size": 8}, "size=8"),
        ({"n_train": 0}, "n_train=0"),
        ({"n_val": 0}, "n_val=0"),
        ({"seed": -1}, "seed=-1"),
        ({"workers": 0}, "workers=0"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"name": "cityscapes", **SMALL, **kwargs}
    with pytest.raises(UserError, match=message):
        synthesize(args.pop("name"), tmp_path / "x", **args)
    assert not (tmp_path / "x").exists()


def test_interrupted_run_leaves_no_truncated_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_replace = os.replace

    def failing_replace(src: str, dst: str) -> None:
        if str(dst).endswith(".jpg"):
            calls.append(dst)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(syn.os, "replace", failing_replace)
    with pytest.raises(KeyboardInterrupt):
        synthesize("edges2shoes", tmp_path / "d", **SMALL)
    visible = list_images(tmp_path / "d" / "train")
    assert len(visible) == 2
    for p in visible:
        with Image.open(p) as im:
            im.load()
    assert syn.read_note(tmp_path / "d")["complete"] is False
    monkeypatch.setattr(syn.os, "replace", real_replace)
    synthesize("edges2shoes", tmp_path / "d", **SMALL)  # the folder is still ours: rerun
    assert syn.read_note(tmp_path / "d")["complete"] is True


def test_parallel_workers_write_the_same_files(tmp_path: Path) -> None:
    serial = _tree(synthesize("cityscapes", tmp_path / "s", size=32, n_train=4, n_val=1).root)
    parallel = synthesize("cityscapes", tmp_path / "p", size=32, n_train=4, n_val=1, workers=2)
    assert _tree(parallel.root) == serial
    assert syn.default_workers(10) == 1 and syn.default_workers(10_000) >= 1


# --- do they look like their counterparts? (cheap, on the rendered images) -----------------


def test_cityscapes_labels_use_the_palette_and_photo_does_not() -> None:
    palette = {tuple(c) for c in PALETTE.values()}
    seen: set[tuple[int, int, int]] = set()
    for i in range(1, 4):
        pair = np.asarray(syn.render("cityscapes", "train", i, size=32))
        photo, labels = pair[:, :32], pair[:, 32:]
        colours = {tuple(int(v) for v in c) for c in labels.reshape(-1, 3)}
        assert colours <= palette
        seen |= colours
        assert len({tuple(c) for c in photo.reshape(-1, 3)}) > 200  # shaded, textured
    for cls in ("road", "sky", "building", "car"):
        assert PALETTE[cls] in seen


def test_edges2shoes_edges_on_white_and_shoe_on_white() -> None:
    for i in range(1, 4):
        pair = np.asarray(syn.render("edges2shoes", "val", i, size=64)).astype(int)
        edges, photo = pair[:, :64], pair[:, 64:]
        assert (edges.min(axis=2) > 200).mean() > 0.8  # mostly white paper
        assert (edges.max(axis=2) < 100).sum() > 30  # and dark lines
        assert np.all(photo[:3, :3] > 240)  # white studio background in the corners
        assert (np.abs(photo - 255).sum(axis=2) > 60).mean() > 0.1  # a coloured shoe


def test_simpsons_are_yellow_and_faces_are_not() -> None:
    def yellow(img: np.ndarray) -> float:
        r, g, b = (img[..., k].astype(int) for k in range(3))
        return float(((r > 200) & (g > 160) & (b < 100)).mean())

    faces = [
        yellow(np.asarray(syn.render("face2simpson", "trainA", i, size=32))) for i in range(1, 7)
    ]
    simpsons = [
        yellow(np.asarray(syn.render("face2simpson", "trainB", i, size=32))) for i in range(1, 7)
    ]
    assert min(simpsons) > 0.1 and np.mean(simpsons) > 0.25 and np.mean(faces) < 0.03


# --- CLI ----------------------------------------------------------------------------------


def test_cli_synth_then_check_then_a_broken_file(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "shoes"
    assert (
        main(
            [
                "synth",
                "edges2shoes",
                "--out",
                str(out),
                "--size",
                "32",
                "--n-train",
                "3",
                "--n-val",
                "1",
            ]
        )
        == 0
    )
    assert "3 training and 1 validation pairs" in capsys.readouterr().out
    assert main(["data", "check", str(out)]) == 0
    captured = capsys.readouterr()
    assert (
        "pix2pix" in captured.out and "64x32 (4)" in captured.out and "no problems" in captured.out
    )
    bad = out / "train" / "2_AB.jpg"
    bad.write_bytes(bad.read_bytes()[:200])
    assert main(["data", "check", str(out)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: 1 of 4 files")
    assert "train/2_AB.jpg: truncated" in captured.out


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "check", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]
    assert main(["synth", "horses", "--out", str(tmp_path / "h")]) == 2


def test_cli_help_defaults_are_synthesize_defaults() -> None:
    parser = build_parser()
    synth = parser._subparsers._group_actions[0].choices["synth"]  # type: ignore[union-attr]
    assert synth._actions[1].choices == SYNTHETIC_NAMES
    defaults = {p.name: p.default for p in inspect.signature(synthesize).parameters.values()}
    for action in synth._actions:
        found = re.search(r"\(default: (\d+)\)", action.help or "")
        if found:
            assert int(found.group(1)) == defaults[action.dest], action.dest
    assert {a.dest for a in synth._actions} >= {"size", "n_train", "n_val", "seed"}
