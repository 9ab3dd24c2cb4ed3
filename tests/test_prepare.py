"""Building the pix2pix and unpaired formats from fake Cityscapes folders and image folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cg.cli import main
from cg.data import scan_dataset
from cg.data.prepare import prepare_cityscapes, prepare_unpaired, split_count, unique_names
from cg.errors import UserError

PHOTO, LABEL = (30, 60, 200), (220, 20, 60)  # solid colours, so each half is recognisable
FRAMES = {
    "train": {"aachen": ["000000_000019", "000001_000019"], "bochum": ["000000_000313"]},
    "val": {"frankfurt": ["000000_000294", "000001_000058"]},
}


def cityscapes(root: Path) -> tuple[Path, Path]:
    """A tiny copy of the official layout: gtFine/<split>/<city>/ and leftImg8bit/<split>/..."""
    gt, left = root / "gtFine", root / "leftImg8bit"
    for split, cities in FRAMES.items():
        for city, frames in cities.items():
            for frame in frames:
                stem = f"{city}_{frame}"
                (gt / split / city).mkdir(parents=True, exist_ok=True)
                (left / split / city).mkdir(parents=True, exist_ok=True)
                Image.new("RGBA", (64, 32), (*LABEL, 255)).save(
                    gt / split / city / f"{stem}_gtFine_color.png"
                )
                Image.new("L", (64, 32), 7).save(gt / split / city / f"{stem}_gtFine_labelIds.png")
                Image.new("RGB", (64, 32), PHOTO).save(
                    left / split / city / f"{stem}_leftImg8bit.png"
                )
    return gt, left


def cg(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, list[str]]:
    code = main(["data", *map(str, args), "--no-progress"])
    return code, capsys.readouterr().err.strip().splitlines()


# --- Cityscapes -----------------------------------------------------------------------------


def test_cityscapes_pairs_photo_left_label_right(tmp_path: Path) -> None:
    gt, left = cityscapes(tmp_path)
    counts = prepare_cityscapes(gt, left, tmp_path / "out", size=32, progress=False)
    assert counts == {"train": 3, "val": 2}
    names = {s: sorted(p.name for p in (tmp_path / "out" / s).iterdir()) for s in counts}
    assert names == {
        "train": [
            "aachen_000000_000019.jpg",
            "aachen_000001_000019.jpg",
            "bochum_000000_000313.jpg",
        ],
        "val": ["frankfurt_000000_000294.jpg", "frankfurt_000001_000058.jpg"],
    }
    with Image.open(tmp_path / "out" / "val" / "frankfurt_000000_000294.jpg") as im:
        assert im.format == "JPEG" and im.size == (64, 32)
        arr = np.asarray(im.convert("RGB"), dtype=int)
    assert np.abs(arr[:, :32] - PHOTO).max() <= 3  # A: the photo, as the reference has it
    assert np.abs(arr[:, 32:] - LABEL).max() <= 3  # B: the colour map
    files = scan_dataset(tmp_path / "out")
    assert files.format == "pix2pix" and len(files.train_a) == 3 and len(files.val_a) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cityscapes_is_deterministic_and_accepts_parent_folders(tmp_path: Path) -> None:
    cityscapes(tmp_path / "release")
    a = prepare_cityscapes(
        tmp_path / "release", tmp_path / "release", tmp_path / "a", size=16, progress=False
    )
    prepare_cityscapes(
        tmp_path / "release" / "gtFine",
        tmp_path / "release" / "leftImg8bit",
        tmp_path / "b",
        size=16,
        progress=False,
    )
    assert a == {"train": 3, "val": 2}
    for f in (tmp_path / "a").rglob("*.jpg"):
        assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes()


def test_cityscapes_unmatched_frames_named_and_nothing_written(tmp_path: Path) -> None:
    gt, left = cityscapes(tmp_path)
    (left / "train" / "aachen" / "aachen_000001_000019_leftImg8bit.png").unlink()
    Image.new("RGB", (8, 8)).save(
        left / "train" / "bochum" / "bochum_000009_000001_leftImg8bit.png"
    )
    with pytest.raises(UserError) as e:
        prepare_cityscapes(gt, left, tmp_path / "out", progress=False)
    msg = str(e.value)
    assert "train: 1 colour maps without a photo (aachen_000001_000019)" in msg
    assert "1 photos without a colour map (bochum_000009_000001)" in msg
    assert not (tmp_path / "out").exists()


def test_cityscapes_folder_errors(tmp_path: Path) -> None:
    gt, left = cityscapes(tmp_path)
    with pytest.raises(UserError, match="--gtfine .*nope does not exist"):
        prepare_cityscapes(tmp_path / "nope", left, tmp_path / "out", progress=False)
    with pytest.raises(UserError, match="--leftimg8bit .* has no train/ and val/"):
        prepare_cityscapes(gt, left / "train", tmp_path / "out", progress=False)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(UserError, match="already exists.*--overwrite"):
        prepare_cityscapes(gt, left, tmp_path / "out", size=16, progress=False)
    prepare_cityscapes(gt, left, tmp_path / "out", size=16, overwrite=True, progress=False)
    assert not (tmp_path / "out" / "keep.txt").exists()
    for f in (gt / "val").rglob("*_color.png"):
        f.unlink()
    with pytest.raises(UserError, match="no \\*_gtFine_color.png files in .*val"):
        prepare_cityscapes(gt, left, tmp_path / "out2", progress=False)


# --- unpaired -------------------------------------------------------------------------------


def image_folder(root: Path, n: int, seed: int, nested: bool = False) -> Path:
    rng = np.random.default_rng(seed)
    for i in range(n):
        sub = root / (f"group{i % 3}" if nested else "")
        sub.mkdir(parents=True, exist_ok=True)
        ext = ".png" if i % 4 == 0 else ".JPG"
        pixels = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(
            sub / f"img{i // 3 if nested else i}{ext}", "PNG" if ext == ".png" else "JPEG"
        )
    return root


def unreadable(folder: Path) -> None:
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_text("not an image")
    buf = (folder / "img1.JPG").read_bytes() if (folder / "img1.JPG").exists() else None
    assert buf is not None
    (folder / "cut.jpg").write_bytes(buf[: len(buf) // 2])


def listing(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_unpaired_split_deterministic_and_skips_unreadable(tmp_path: Path) -> None:
    a = image_folder(tmp_path / "faces", 30, seed=1, nested=True)
    b = image_folder(tmp_path / "simpsons", 20, seed=2)
    unreadable(b)
    r1 = prepare_unpaired(a, b, tmp_path / "o1", val_fraction=0.1, seed=5, progress=False)
    prepare_unpaired(a, b, tmp_path / "o2", val_fraction=0.1, seed=5, progress=False)
    prepare_unpaired(a, b, tmp_path / "o3", val_fraction=0.1, seed=6, progress=False)
    assert r1.counts == {"testA": 3, "trainA": 27, "testB": 2, "trainB": 18}
    assert sorted(p.name for p, _ in r1.skipped) == ["cut.jpg", "empty.jpg", "text.png"]
    one, two, three = (listing(tmp_path / o) for o in ("o1", "o2", "o3"))
    assert one == two
    assert sorted(one) != sorted(three)
    in_a = {k.split("/")[1]: v for k, v in one.items() if k.split("/")[0] in ("trainA", "testA")}
    assert len(in_a) == 30 and {"img0.png", "group1_img0.JPG", "group2_img0.JPG"} <= in_a.keys()
    assert sorted(in_a.values()) == sorted(p.read_bytes() for p in a.rglob("*") if p.is_file())
    manifest = json.loads((tmp_path / "o1" / "prepare.json").read_text())
    assert manifest["seed"] == 5 and len(manifest["skipped"]) == 3
    assert scan_dataset(tmp_path / "o1").format == "unpaired"


def test_unique_names_and_split_count(tmp_path: Path) -> None:
    files = [tmp_path / p for p in ("x/1.jpg", "y/1.JPG", "2.png", "x_1.jpg", "z/3.jpg")]
    assert unique_names(files, tmp_path) == ["x_1.jpg", "y_1.JPG", "2.png", "x_1-1.jpg", "3.jpg"]
    assert [split_count(n, 0.1) for n in (2, 10, 14, 15, 1000)] == [1, 1, 1, 2, 100]
    assert split_count(3, 0.9) == 2


def test_unpaired_errors(tmp_path: Path) -> None:
    a = image_folder(tmp_path / "a", 4, seed=1)
    b = image_folder(tmp_path / "b", 4, seed=2)
    with pytest.raises(UserError, match="--val-fraction 1.0"):
        prepare_unpaired(a, b, tmp_path / "o", val_fraction=1.0, progress=False)
    with pytest.raises(UserError, match="overlap"):
        prepare_unpaired(a, b, a / "out", progress=False)
    with pytest.raises(UserError, match="--b .*missing is not a folder"):
        prepare_unpaired(a, tmp_path / "missing", tmp_path / "o", progress=False)
    one = image_folder(tmp_path / "one", 1, seed=3)
    unreadable_only = tmp_path / "bad"
    unreadable_only.mkdir()
    (unreadable_only / "x.jpg").write_bytes(b"junk")
    with pytest.raises(UserError, match="--a .*one has 1 readable images"):
        prepare_unpaired(one, b, tmp_path / "o", progress=False)
    with pytest.raises(UserError, match="has 0 readable images \\(1 unreadable\\)"):
        prepare_unpaired(a, unreadable_only, tmp_path / "o", progress=False)
    prepare_unpaired(a, b, tmp_path / "o", progress=False)
    with pytest.raises(UserError, match="already exists"):
        prepare_unpaired(a, b, tmp_path / "o", seed=1, progress=False)
    prepare_unpaired(a, b, tmp_path / "o", seed=1, overwrite=True, progress=False)
    assert json.loads((tmp_path / "o" / "prepare.json").read_text())["seed"] == 1


# --- the command line -----------------------------------------------------------------------


def test_cli_prepare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, left = cityscapes(tmp_path)
    code, err = cg(
        capsys,
        "prepare-cityscapes",
        "--gtfine",
        gt,
        "--leftimg8bit",
        left,
        "--out",
        tmp_path / "city",
        "--size",
        "16",
    )
    assert code == 0 and err == []
    a = image_folder(tmp_path / "a", 6, seed=1)
    b = image_folder(tmp_path / "b", 6, seed=2)
    unreadable(b)
    code, err = cg(
        capsys,
        "prepare-unpaired",
        "--a",
        a,
        "--b",
        b,
        "--out",
        tmp_path / "u",
        "--val-fraction",
        "0.2",
        "--seed",
        "3",
    )
    assert code == 0 and len(err) == 1 and err[0].startswith("warning: skipped 3 unreadable")
    failures = [
        (
            "prepare-cityscapes",
            "--gtfine",
            tmp_path / "no",
            "--leftimg8bit",
            left,
            "--out",
            tmp_path / "c2",
        ),
        ("prepare-cityscapes", "--gtfine", gt, "--leftimg8bit", left, "--out", tmp_path / "city"),
        ("prepare-unpaired", "--a", a, "--b", b, "--out", tmp_path / "u"),
        ("prepare-unpaired", "--a", a, "--b", tmp_path / "no", "--out", tmp_path / "u2"),
        ("prepare-unpaired", "--a", a, "--b", b, "--out", tmp_path / "u3", "--val-fraction", "0"),
    ]
    for args in failures:
        code, err = cg(capsys, *args)
        assert code == 2 and len(err) == 1 and err[0].startswith("error: "), (args, err)
