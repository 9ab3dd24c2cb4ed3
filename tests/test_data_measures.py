"""What the data holds for the findings' mechanisms (:mod:`cg.report.findings.data_measures`): each
measure on images whose answer is known, and on the built-in data."""

from __future__ import annotations

import torch

from cg.eval import degrade as G
from cg.report.findings import data_measures as M
from cg.report.findings import degradations as D


def _textured(seed: int, n: int = 12) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 4, 4, generator=g) * 2 - 1
    x = torch.nn.functional.interpolate(coarse, size=32, mode="bilinear", align_corners=False)
    return (x + 0.3 * torch.rand(n, 3, 32, 32, generator=g) - 0.15).clamp(-1, 1)


def test_variance_left_is_small_for_a_copy_and_large_for_what_the_input_does_not_fix():
    inputs_train, inputs_val = _textured(1), _textured(2)
    copy = M.variance_left(inputs_train, inputs_train, inputs_val, inputs_val)
    g = torch.Generator().manual_seed(3)
    colours_train = torch.rand(12, 3, 1, 1, generator=g).expand(12, 3, 32, 32) * 2 - 1
    colours_val = torch.rand(12, 3, 1, 1, generator=g).expand(12, 3, 32, 32) * 2 - 1
    # a target of an image-wide colour that the input says nothing about
    open_ = M.variance_left(inputs_train, colours_train, inputs_val, colours_val)
    assert copy < 0.2 < 0.8 < open_


def test_variance_left_regresses_on_the_nearest_pixels_by_euclidean_distance():
    train_in, train_out, val_in, val_out = (_textured(s, 4) for s in (4, 5, 6, 7))
    fx, fy = M._pixels(train_in), M._targets(train_out)
    qx, qy = M._pixels(val_in), M._targets(val_out)
    nearest = torch.cdist(qx.double(), fx.double()).topk(M.NEIGHBOURS, largest=False).indices
    error = (fy[nearest].mean(1) - qy).pow(2).mean()
    expected = float(error / qy.var(0, unbiased=False).sum() * qy.shape[1])
    assert abs(M.variance_left(train_in, train_out, val_in, val_out) - expected) < 1e-5 * expected


def test_band_energy_moves_with_blur_and_noise_and_diversity_with_variety():
    faces = D.image_set("faces")[0]
    clean, blurred, noisy = (
        M.band_energy(x) for x in (faces, G.blur(faces, 1), G.noise(faces, 0.1))
    )
    fine, coarse = "fine (1-2 px)", "coarse (4-8 px)"
    assert blurred[fine] < 0.5 * clean[fine] and blurred[coarse] > 0.5 * clean[coarse]
    assert noisy[fine] - clean[fine] > 5 * abs(noisy[coarse] - clean[coarse])  # white noise: fine
    same = M.diversity(faces[:1].expand(8, -1, -1, -1))
    assert same == {"colour diversity": 0.0, "appearance diversity": 0.0}
    varied = M.diversity(faces)
    assert varied["colour diversity"] > 0.01 and varied["appearance diversity"] > 0.05


def test_measure_on_built_in_paired_and_unpaired_data(tmp_path):
    from cg.data.synthetic import synthesize

    for name, domains in (
        ("edges2shoes", ("edges", "shoe")),
        ("face2simpson", ("human", "Simpson")),
    ):
        files = synthesize(name, tmp_path / name, size=32, n_train=8, n_val=6, seed=100)
        table = M.measure(files, 32, domains)
        assert list(table.index) == list(domains)
        assert {n for n, _ in M.BANDS} <= set(table.columns)
        paired = "variance left given the other domain" in table.columns
        assert paired == (name == "edges2shoes")
        assert table.notna().all().all() and (table >= 0).all().all()
