"""cg.data: layout detection, file checks, decoding of every colour mode, augmentation."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from cg.data import (
    DomainDataset,
    PairedDataset,
    augment,
    check_images,
    inspect_images,
    list_images,
    load_rgb,
    sample_augment,
    scan_dataset,
    split_pair,
)
from cg.data.check import check_dataset
from cg.errors import UserError


def _save(path: Path, image: Image.Image | None = None, **kw: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = image if image is not None else Image.new("RGB", (8, 4), (10, 20, 30))
    image.save(path, **kw)
    return path


def _noise(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


# --- layouts ------------------------------------------------------------------------------


def test_pix2pix_layout_with_val(tmp_path: Path) -> None:
    for name in ("b.jpg", "a.jpg"):
        _save(tmp_path / "train" / name)
    _save(tmp_path / "val" / "c.png")
    _save(tmp_path / "test" / "ignored.png")
    files = scan_dataset(tmp_path)
    assert files.format == "pix2pix" and files.paired and files.root == tmp_path
    assert [p.name for p in files.train_a] == ["a.jpg", "b.jpg"]
    assert files.train_a == files.train_b
    assert [p.name for p in files.val_a] == ["c.png"] and files.val_b == files.val_a


def test_pix2pix_layout_falls_back_to_test(tmp_path: Path) -> None:
    _save(tmp_path / "train" / "a.jpg")
    _save(tmp_path / "test" / "t.jpg")
    files = scan_dataset(str(tmp_path))
    assert [p.name for p in files.val_a] == ["t.jpg"]


def test_unpaired_layout_test_and_val_folders(tmp_path: Path) -> None:
    for folder in ("trainA", "trainB", "testA", "testB"):
        _save(tmp_path / folder / f"{folder}.png")
    files = scan_dataset(tmp_path)
    assert files.format == "unpaired" and not files.paired
    names = [
        [p.parent.name for p in g] for g in (files.train_a, files.train_b, files.val_a, files.val_b)
    ]
    assert names == [["trainA"], ["trainB"], ["testA"], ["testB"]]
    other = tmp_path / "v"
    for folder in ("trainA", "trainB", "valA", "valB"):
        _save(other / folder / "x.jpg")
    assert scan_dataset(other).val_b[0].parent.name == "valB"


@pytest.mark.parametrize(
    ("folders", "expected"),
    [
        (["train"], "no val/ or test/"),
        (["trainA", "testA", "testB"], "missing trainB/"),
        (["trainA", "trainB", "testA"], "missing testB/"),
        (["photos", "labels"], "found folders: labels/, photos/"),
        ([], "found folders: none"),
        (["train", "val", "trainA"], "both train/"),
    ],
)
def test_layout_errors_name_the_expected_folders(
    tmp_path: Path, folders: list[str], expected: str
) -> None:
    for folder in folders:
        _save(tmp_path / folder / "x.jpg")
    with pytest.raises(UserError, match=expected) as e:
        scan_dataset(tmp_path)
    if "found folders" in expected:
        assert "trainA/" in str(e.value) and "train/" in str(e.value)


def test_missing_root_and_file_root(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        scan_dataset(tmp_path / "nope")
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        scan_dataset(f)


@pytest.mark.parametrize("empty", ["train", "val", "trainB", "testA"])
def test_empty_split_is_named(tmp_path: Path, empty: str) -> None:
    folders = (
        ("train", "val") if empty in ("train", "val") else ("trainA", "trainB", "testA", "testB")
    )
    for folder in folders:
        (tmp_path / folder).mkdir()
        if folder != empty:
            _save(tmp_path / folder / "x.jpg")
    (tmp_path / empty / "readme.txt").write_text("not an image")
    with pytest.raises(UserError, match=rf"{empty} has no images"):
        scan_dataset(tmp_path)


def test_recursive_listing_mixed_case_sorted_hidden_skipped(tmp_path: Path) -> None:
    root = tmp_path / "trainA"
    wanted = ["a/deep/er/x.JPG", "a/y.Png", "b.TIFF", "c.webp", "d.jpeg", "e.BMP", "f.tif"]
    for rel in wanted:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
    for rel in ("._x.jpg", ".hidden.png", ".cache/z.jpg", "notes.txt", "g.gif", "h.jpg.part"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
    found = list_images(root)
    assert [p.relative_to(root).as_posix() for p in found] == sorted(wanted)
    assert found == sorted(found)


def test_listing_follows_linked_folders_once(tmp_path: Path) -> None:
    root, outside = tmp_path / "trainA", tmp_path / "elsewhere"
    _save(root / "a.png")
    _save(outside / "b.png")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (root / "loop").symlink_to(root, target_is_directory=True)
    assert [p.name for p in list_images(root)] == ["a.png", "b.png"]


# --- cheap checks ---------------------------------------------------------------------------


def _jpeg_bytes(w: int = 40, h: int = 30) -> bytes:
    buf = io.BytesIO()
    _noise(w, h).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_check_images_finds_every_kind_of_bad_file(tmp_path: Path) -> None:
    good = _save(tmp_path / "good.jpg", _noise(40, 30))
    png = _save(tmp_path / "good.png", _noise(40, 30))
    trailing = tmp_path / "trailing.jpg"
    trailing.write_bytes(_jpeg_bytes() + b"appended data after the end-of-image marker" * 10)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"this is not an image at all" * 10)
    header = tmp_path / "header.jpg"
    header.write_bytes(_jpeg_bytes()[:12])
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(_jpeg_bytes()[: len(_jpeg_bytes()) * 2 // 3])
    cut_png = tmp_path / "cut.png"
    cut_png.write_bytes(png.read_bytes()[: png.stat().st_size // 2])
    files = [good, empty, png, garbage, header, trailing, cut, cut_png]
    bad = check_images(files, pairs=False)
    assert [p for p, _ in bad] == [empty, garbage, header, cut, cut_png]
    reasons = dict(bad)
    assert "empty file (0 bytes)" in reasons[empty]
    assert "not an image" in reasons[garbage]
    assert "truncated" in reasons[cut] and "truncated" in reasons[cut_png]


def test_check_images_pairs_need_even_width(tmp_path: Path) -> None:
    odd = _save(tmp_path / "odd.jpg", _noise(257, 32))
    even = _save(tmp_path / "even.jpg", _noise(256, 32))
    assert check_images([odd, even], pairs=False) == []
    assert check_images([odd, even], pairs=True) == [
        (odd, "width 257 is odd: an A|B pair needs two equal halves")
    ]


def test_check_images_many_files_keeps_order_and_sizes_follow_exif(tmp_path: Path) -> None:
    files = [_save(tmp_path / f"{i:03d}.png", Image.new("RGB", (6, 4))) for i in range(70)]
    files[33].write_bytes(b"")
    assert check_images(files, pairs=True) == [(files[33], "empty file (0 bytes)")]
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: width and height swap
    turned = _save(tmp_path / "turned.jpg", _noise(31, 20), exif=exif.tobytes())
    (size, reason), *_ = inspect_images([turned], pairs=True)
    assert size == (20, 31) and reason is None


def test_check_dataset_report(tmp_path: Path) -> None:
    _save(tmp_path / "train" / "1.jpg", _noise(64, 32))
    _save(tmp_path / "train" / "2.jpg", _noise(65, 32))
    _save(tmp_path / "val" / "1.jpg", _noise(64, 32))
    report = check_dataset(tmp_path)
    assert report.splits == [("train", 2), ("val", 1)] and report.total == 3
    assert report.sizes == {(64, 32): 2, (65, 32): 1}
    text = "\n".join(report.lines())
    assert "pix2pix" in text and "64x32 (2)" in text and "train/2.jpg: width 65 is odd" in text


# --- decoding -------------------------------------------------------------------------------


def _modes() -> dict[str, tuple[Image.Image, str, tuple[int, int, int]]]:
    """mode name -> (image, file suffix, expected RGB of pixel (0, 0))."""
    p = Image.new("P", (4, 3), 1)
    p.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    pt = p.copy()
    pt.info["transparency"] = 1
    rgba = Image.new("RGBA", (4, 3), (255, 0, 0, 0))
    half = Image.new("RGBA", (4, 3), (0, 0, 0, 128))
    i16 = Image.fromarray(np.full((3, 4), 65535, np.uint16))
    i32 = Image.fromarray(np.full((3, 4), 32896, np.int32))
    return {
        "RGB": (Image.new("RGB", (4, 3), (1, 2, 3)), ".png", (1, 2, 3)),
        "L": (Image.new("L", (4, 3), 77), ".png", (77, 77, 77)),
        "1": (Image.new("1", (4, 3), 1), ".png", (255, 255, 255)),
        "P": (p, ".png", (200, 100, 50)),
        "P+transparency": (pt, ".png", (255, 255, 255)),
        "RGBA transparent": (rgba, ".png", (255, 255, 255)),
        "RGBA half": (half, ".png", (127, 127, 127)),
        "LA": (Image.new("LA", (4, 3), (0, 0)), ".png", (255, 255, 255)),
        "I;16": (i16, ".png", (255, 255, 255)),
        "I": (i32, ".tif", (128, 128, 128)),
        "CMYK": (Image.new("CMYK", (4, 3), (0, 255, 255, 0)), ".tif", (255, 0, 0)),
        "CMYK jpeg": (Image.new("CMYK", (4, 3), (0, 0, 0, 255)), ".jpg", (0, 0, 0)),
    }


@pytest.mark.parametrize("mode", list(_modes()))
def test_load_rgb_converts_every_colour_mode(tmp_path: Path, mode: str) -> None:
    image, suffix, expected = _modes()[mode]
    path = _save(tmp_path / f"img{suffix}", image)
    out = load_rgb(path)
    assert out.dtype == torch.uint8 and out.shape == (3, 3, 4)
    got = tuple(int(v) for v in out[:, 0, 0])
    assert all(abs(g - e) <= 2 for g, e in zip(got, expected)), (mode, got, expected)


def test_load_rgb_applies_exif_orientation(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save(tmp_path / "o.png", _noise(5, 3), exif=exif.tobytes())
    out = load_rgb(path)
    assert out.shape == (3, 5, 3)
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    assert np.array_equal(out.permute(1, 2, 0).numpy(), expected)


def test_load_rgb_names_unreadable_files(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(_jpeg_bytes()[:300])
    with pytest.raises(UserError, match="broken.jpg"):
        load_rgb(bad)
    with pytest.raises(UserError, match="missing.png"):
        load_rgb(tmp_path / "missing.png")


def test_split_pair_halves_and_odd_width() -> None:
    img = torch.arange(2 * 6, dtype=torch.uint8).reshape(1, 2, 6).expand(3, 2, 6)
    a, b = split_pair(img)
    assert torch.equal(a, img[..., :3]) and torch.equal(b, img[..., 3:])
    with pytest.raises(UserError, match="pair.jpg: width 7 is odd"):
        split_pair(torch.zeros(3, 2, 7, dtype=torch.uint8), "pair.jpg")


# --- augmentation ---------------------------------------------------------------------------


def test_augment_range_shape_and_plain_resize() -> None:
    black, white = (
        torch.zeros(3, 40, 50, dtype=torch.uint8),
        torch.full((3, 40, 50), 255, dtype=torch.uint8),
    )
    for img, value in ((black, -1.0), (white, 1.0)):
        out = augment(img, 32, crop_scale=0.5, flip=True)
        assert out.shape == (3, 32, 32) and out.dtype == torch.float32
        assert torch.allclose(out, torch.full_like(out, value))
    img = torch.from_numpy(np.array(_noise(50, 40))).permute(2, 0, 1)
    state = torch.get_rng_state()
    out = augment(img, 16)  # validation transform: a plain resize, no randomness used
    assert torch.equal(torch.get_rng_state(), state)
    expected = TF.resize(img, [16, 16], antialias=True).float() / 127.5 - 1
    assert torch.equal(out, expected)
    assert -1.0 <= out.min() and out.max() <= 1.0


def test_crop_scale_follows_random_resized_crop() -> None:
    torch.manual_seed(3)
    boxes = [sample_augment(100, 80, 0.55, False) for _ in range(300)]
    torch.manual_seed(3)
    ref = [
        v2.RandomResizedCrop.get_params(torch.empty(0, 100, 80), [0.55, 1.0], [3 / 4, 4 / 3])
        for _ in range(300)
    ]
    assert [(b.top, b.left, b.height, b.width) for b in boxes] == [tuple(r) for r in ref]
    areas = np.array([b.height * b.width / 8000 for b in boxes])
    assert areas.min() >= 0.53 and areas.max() <= 1.0 and areas.min() < 0.65
    ratios = np.array([b.width / b.height for b in boxes])
    assert ratios.min() >= 0.72 and ratios.max() <= 1.38
    assert all(0 <= b.top and b.top + b.height <= 100 and b.left + b.width <= 80 for b in boxes)
    full = sample_augment(100, 80, 1.0, False)
    assert (full.top, full.left, full.height, full.width, full.flip) == (0, 0, 100, 80, False)
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(UserError, match="crop_scale"):
            sample_augment(10, 10, bad, False)


def test_flip_happens_about_half_the_time_and_only_when_asked() -> None:
    torch.manual_seed(0)
    flips = [sample_augment(10, 10, 1.0, True).flip for _ in range(400)]
    assert 150 < sum(flips) < 250
    assert not any(sample_augment(10, 10, 1.0, False).flip for _ in range(50))
    ramp = torch.arange(16, dtype=torch.uint8).repeat(3, 16, 1) * 16
    outs = {tuple(augment(ramp, 16, flip=True)[0, 0, :2].tolist()) for _ in range(20)}
    assert len(outs) == 2  # left-to-right and right-to-left ramps


def test_augmentation_is_deterministic_under_manual_seed() -> None:
    img = torch.from_numpy(np.array(_noise(48, 40))).permute(2, 0, 1)

    def run(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(seed)
        return [augment(img, 24, crop_scale=0.5, flip=True) for _ in range(4)]

    first, again, other = run(0), run(0), run(1)
    assert all(torch.equal(x, y) for x, y in zip(first, again))
    assert not all(torch.equal(x, y) for x, y in zip(first, other))


# --- datasets -------------------------------------------------------------------------------


def test_paired_dataset_same_crop_and_flip_for_both_halves(tmp_path: Path) -> None:
    half = _noise(30, 24, seed=5)
    pair = Image.new("RGB", (60, 24))
    pair.paste(half, (0, 0))
    pair.paste(half, (30, 0))
    path = _save(tmp_path / "pair.png", pair)
    ds = PairedDataset([path], 16, crop_scale=0.3, flip=True)
    torch.manual_seed(0)
    items = [ds[0] for _ in range(12)]
    for item in items:
        assert item["a"].shape == (3, 16, 16) and item["a"].dtype == torch.float32
        assert torch.equal(item["a"], item["b"])
    assert len({item["a"].sum().item() for item in items}) > 6  # the crops do vary


def test_paired_dataset_left_is_a_right_is_b(tmp_path: Path) -> None:
    pair = Image.new("RGB", (20, 10), (255, 255, 255))
    pair.paste((0, 0, 0), (0, 0, 10, 10))
    path = _save(tmp_path / "ab.png", pair)
    item = PairedDataset([path], 8)[0]
    assert torch.all(item["a"] == -1) and torch.all(item["b"] == 1)
    assert len(PairedDataset([path, path], 8)) == 2
    odd = _save(tmp_path / "odd.png", Image.new("RGB", (21, 10)))
    with pytest.raises(UserError, match="odd.png: width 21 is odd"):
        PairedDataset([odd], 8)[0]


def test_domain_dataset_halves_and_whole(tmp_path: Path) -> None:
    pair = Image.new("RGB", (20, 10), (255, 255, 255))
    pair.paste((0, 0, 0), (0, 0, 10, 10))
    path = _save(tmp_path / "ab.png", pair)
    a = DomainDataset([path], 8, half="a")[0]
    b = DomainDataset([path], 8, half="b")[0]
    whole = DomainDataset([path], 8)[0]
    assert torch.all(a == -1) and torch.all(b == 1)
    assert whole.shape == (3, 8, 8) and -1 < whole.mean() < 1
    assert DomainDataset([path], 8, half="a").decode(0).shape == (3, 10, 10)
    with pytest.raises(ValueError):
        DomainDataset([path], 8, half="c")  # type: ignore[arg-type]
