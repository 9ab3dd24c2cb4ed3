"""R9 findings (R10): the verdict rules, the statistics on known images and samples, each
check on hand-made model outputs, and every check on real tiny runs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from cg.config import make_config
from cg.report import experiments, findings, kid, scores
from cg.report import stats as S

# --- verdicts and intervals ------------------------------------------------------------------


def test_verdicts_follow_the_interval():
    e = S.Estimate(-0.5, -0.8, -0.2, 10)
    assert S.below(e, 0) == "holds" and S.above(e, 0) == "does not hold"
    straddling = S.Estimate(0.1, -0.1, 0.3, 10)
    assert S.below(straddling, 0) == S.above(straddling, 0) == "undecided"
    assert S.within(S.Estimate(0.05, -0.1, 0.12, 10), 0.15) == "holds"
    assert S.within(S.Estimate(0.3, 0.2, 0.4, 10), 0.15) == "does not hold"
    assert S.within(S.Estimate(0.1, 0.0, 0.2, 10), 0.15) == "undecided"
    assert S.both("holds", "holds") == "holds"
    assert S.both("holds", "undecided") == "undecided"
    assert S.both("undecided", "does not hold") == "does not hold"
    assert S.below(S.Estimate(0.0, math.nan, math.nan, 1), 1) == "undecided"


def test_bootstrap_interval_covers_the_mean_and_separates_clear_differences():
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 1.0, 200)
    e = S.estimate([x], lambda v: float(np.mean(v)))
    assert e.low < 2.0 < e.high and e.high - e.low < 0.4
    a = rng.normal(1.0, 0.3, 64)
    b = a + 0.1 + rng.normal(0, 0.02, 64)  # b is worse on every image
    paired = S.estimate([a, b], S.mean_difference, paired=True)
    assert S.below(paired, 0) == "holds"
    noise = S.estimate([a, a + rng.normal(0, 0.3, 64)], S.mean_difference, paired=True)
    assert S.below(noise, 0) == "undecided"


def test_detail_is_zero_for_flat_images_and_two_for_a_checkerboard():
    assert scores.detail(torch.zeros(2, 3, 8, 8)) == 0.0
    i, j = torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij")
    board = ((i + j) % 2 * 2 - 1).float().expand(1, 3, 8, 8)  # -1 / +1 alternating
    assert scores.detail(board) == pytest.approx(2.0)
    blurred = torch.nn.functional.avg_pool2d(board, 3, stride=1, padding=1)
    assert scores.detail(blurred) < scores.detail(board)


def test_kid_equals_torchmetrics_unbiased_mmd_and_grows_with_a_shift():
    from torchmetrics.image.kid import poly_mmd

    rng = np.random.default_rng(0)
    real, fake = rng.normal(0, 1, (64, 16)), rng.normal(0.3, 1, (64, 16))
    want = poly_mmd(torch.tensor(real), torch.tensor(fake)).item()  # same-size sets
    assert kid.kid(fake, real) == pytest.approx(want, rel=1e-9)
    assert kid.kid(fake + 1.0, real) > 3 * kid.kid(fake, real)


# --- the checks on hand-made outputs -----------------------------------------------------------


def _run(dataset: str, name: str, **columns: list[float]) -> experiments.Run:
    n = len(next(iter(columns.values()))) if columns else 1
    history = pd.DataFrame({"epoch": list(range(1, n + 1)), **columns})
    cfg = make_config(dataset, adversarial=name == "adv")
    return experiments.Run(name, dataset, Path(f"/nonexistent/{name}"), cfg, history, None)


@pytest.fixture
def fake_outputs(monkeypatch):
    """``outputs(run, direction)`` replaced by given ``(fake, source, target)`` tensors."""
    table: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def outputs(run, direction, split="val", checkpoint=None):
        return table[(run.name, direction)]

    monkeypatch.setattr(findings, "outputs", outputs)
    monkeypatch.setattr(scores, "outputs", outputs)
    return table


def _images(seed: int, n: int = 48, smooth: bool = False) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 16, 16, generator=g) * 2 - 1
    return torch.nn.functional.avg_pool2d(x, 5, stride=1, padding=2) if smooth else x


def test_structure_check_decides_by_per_image_pixel_error(fake_outputs):
    target, source = _images(1), _images(2)
    good = target + 0.05 * _images(3)
    bad = target + 0.5 * _images(4)
    noadv, adv = _run("cityscapes", "noadv"), _run("cityscapes", "adv")
    fake_outputs[("noadv", "ab")] = (good, source, target)
    fake_outputs[("adv", "ab")] = (bad, source, target)
    row = findings.structure_better_without_adv(noadv, adv)
    assert row["id"] == "R9.1" and row["verdict"] == "holds" and row["high"] < 0
    fake_outputs[("noadv", "ab")], fake_outputs[("adv", "ab")] = (
        (bad, source, target),
        (good, source, target),
    )
    assert findings.structure_better_without_adv(noadv, adv)["verdict"] == "does not hold"


def _label_maps(seed: int, n: int = 48) -> torch.Tensor:
    """Flat colour segments of 8x8 pixels, as a label map is (inputs of the photo task)."""
    g = torch.Generator().manual_seed(seed)
    blocks = torch.rand(n, 3, 2, 2, generator=g) * 2 - 1
    return blocks.repeat_interleave(8, 2).repeat_interleave(8, 3)


def test_invented_detail_counts_only_where_the_input_is_flat():
    source = _label_maps(1)
    mask = scores.flat_mask(source)
    assert mask.shape == (48, 1, 16, 16)
    assert mask[:, :, 1:7, 1:7].all() and not mask[:, :, 7:9, :].any()  # boundaries: not flat
    copied = source.clone()  # sharp boundaries copied from the input, nothing inside
    assert scores.details(copied).mean() > 0.02  # all-pixel detail sees the copied boundaries
    assert np.allclose(scores.invented_details(copied, mask), 0.0)
    textured = source + 0.2 * _images(2)
    assert (scores.invented_details(textured, mask) > 0.05).all()
    none = torch.zeros_like(mask)
    assert np.isnan(scores.invented_details(textured, none)).all()


def test_photo_checks_equal_error_and_detail(fake_outputs):
    target, source = _images(5), _label_maps(6)
    blurry = _images(5, smooth=True)  # the pixel-loss answer: the mean, no detail
    sharp = _images(7)  # as detailed as the targets, but not the same pixels
    noadv, adv = _run("edges2shoes", "noadv"), _run("edges2shoes", "adv")
    fake_outputs[("noadv", "ab")] = (blurry, source, target)
    fake_outputs[("adv", "ab")] = (sharp, source, target)
    detail = findings.adv_invents_detail(noadv, adv)
    assert detail["id"] == "R9.2-detail" and detail["verdict"] == "holds"
    equal = findings.photo_equally_bad(noadv, adv)
    assert equal["verdict"] == "does not hold"  # sharp random pixels double the error
    fake_outputs[("adv", "ab")] = (blurry + 0.001 * sharp, source, target)
    assert findings.photo_equally_bad(noadv, adv)["verdict"] == "holds"
    assert findings.adv_invents_detail(noadv, adv)["verdict"] != "holds"


def test_cycle_only_checks(fake_outputs, monkeypatch):
    a, b = _images(8), _images(9)
    curve = {"identity_ab_val": [0.2, 0.01], "identity_ba_val": [0.2, 0.01]}
    cycle_only = _run("cityscapes", "cycle_only", **curve)
    noadv = _run("cityscapes", "noadv")
    monkeypatch.setattr(findings, "data_distance", lambda run: 0.5)
    # the cycle-only generators copy their input; the identity-loss ones translate
    fake_outputs[("cycle_only", "ab")] = (a + 0.01 * b, a, b)
    fake_outputs[("cycle_only", "ba")] = (b + 0.01 * a, b, a)
    fake_outputs[("noadv", "ab")] = (b + 0.05 * a, a, b)
    fake_outputs[("noadv", "ba")] = (a + 0.05 * b, b, a)
    assert findings.cycle_only_does_not_learn(cycle_only, noadv)["verdict"] == "holds"
    row = findings.ends_at_identity(cycle_only, "R9.5-identity", "claim")
    assert row["verdict"] == "holds" and row["high"] < 0.5
    rising = _run(
        "cityscapes", "cycle_only", identity_ab_val=[0.01, 0.2], identity_ba_val=[0.01, 0.2]
    )
    assert findings.ends_at_identity(rising, "x", "claim")["verdict"] == "does not hold"


def test_unpaired_checks(fake_outputs, monkeypatch):
    humans, simpsons = _images(10), _images(11, smooth=True)
    run = _run("face2simpson", "adv")
    # human -> Simpson as flat as real Simpsons; Simpson -> human far blurrier than humans
    fake_outputs[("adv", "ab")] = (_images(12, smooth=True), humans, simpsons)
    fake_outputs[("adv", "ba")] = (_images(13, smooth=True), simpsons, humans)
    assert findings.simpson_to_human_blurry(run)["verdict"] == "holds"

    def features(images):  # a stand-in for the Inception network: pixel statistics
        x = images.flatten(1)
        return torch.stack([x.mean(1), x.std(1), x.abs().mean(1)], 1).double().numpy()

    monkeypatch.setattr(kid, "features", features)
    row = findings.human_to_simpson_better(run)
    assert row["id"] == "R9.4-better" and row["verdict"] == "holds" and row["low"] > 0


# --- real tiny runs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Real runs on the built-in cityscapes data: 32 px, 4 base channels, 2 epochs."""
    root = tmp_path_factory.mktemp("findings")
    data = experiments.dataset(
        "cityscapes", cache_dir=root / "cache", image_size=32, n_train=8, n_val=6
    )
    settings = dict(
        image_size=32, base_channels=4, epochs=2, batch_size=4, device="cpu", progress=False
    )
    return {
        name: experiments.experiment("cityscapes", data, root / "runs", name, **settings)
        for name in ("noadv", "adv", "cycle_only", "cycle_classic")
    }


def test_findings_on_real_runs(tiny_runs, tmp_path):
    r = tiny_runs
    rows = findings.paired(r["noadv"], r["adv"], r["cycle_only"], r["cycle_classic"])
    assert [row["id"] for row in rows] == [
        "R9.1",
        "R9.1-seg",
        "R9.2-equal",
        "R9.2-detail",
        "R9.5",
        "R9.5-identity",
        "R9.5-classic",
    ]
    for row in rows:
        assert row["verdict"] in ("holds", "does not hold", "undecided")
        assert math.isfinite(row["value"])
        # R9.2-detail scores the images whose input has flat pixels (at 32 px, few do)
        assert row["n"] == 6 if row["id"] != "R9.2-detail" else 1 <= row["n"] <= 6
    # the R9.1 numbers are the mean per-image pixel errors of the final models
    fake, _, target = findings.outputs(r["noadv"], "ab")
    assert f"{scores.pixel_errors(fake, target).mean():.4f}" in rows[0]["numbers"]
    path = findings.write_csv(rows, tmp_path / "f.csv")
    back = findings.read_csv(path)
    assert [b["id"] for b in back] == [row["id"] for row in rows]
    assert list(back[0]) == list(findings.COLUMNS)
    shown = findings.table(rows)
    assert list(shown.index) == [row["id"] for row in rows]
    # the history has the segmentation scores of photo -> labels
    h = r["noadv"].history
    for col in ("seg_pixel_acc_val", "seg_class_acc_val", "seg_class_iou_val"):
        assert h[col].between(0, 1).all(), col
