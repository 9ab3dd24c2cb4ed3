"""R9 findings (R10): the verdict rules, the statistics on known images and samples, each
check on hand-made model outputs, and every check on real tiny runs."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from cg.config import make_config
from cg.report.findings import convergence, kid, paired, scores, table, unpaired
from cg.report.findings import stats as S
from cg.report.runs import finished, grid

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
    # a statistic that can show a claim but not refute it: never "does not hold"
    assert S.shows_below(e, 0) == "holds" and S.shows_above(e, 0) == "undecided"
    assert S.shows_below(S.Estimate(0.5, 0.2, 0.8, 10), 0) == "undecided"
    assert S.shows_above(S.Estimate(0.5, 0.2, 0.8, 10), 0) == "holds"


def test_regime_reads_the_epoch_of_the_validation_minimum():
    from cg.report.findings.regime import minimum

    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3, 4],
            "pixel_error_ab_val": [0.30, 0.10, 0.12, 0.15],
            "pixel_error_ba_val": [0.30, 0.10, 0.12, 0.13],
        }
    )
    assert minimum(history, 16) == {
        "best epoch": 2,
        "best step": 32,
        "epochs": 4,
        "last / best": 1.4,
    }


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


def test_kid_features_pass_each_image_set_through_the_network_once(monkeypatch):
    calls = []

    class Counting:  # stands in for the Inception network: one 2-d feature per image
        def features(self, batches):
            for x in batches:
                calls.append(len(x))
                yield x.flatten(1)[:, :2].float()

    monkeypatch.setattr(kid, "_EVALUATOR", Counting())
    monkeypatch.setattr(kid, "_REMEMBERED", type(kid._REMEMBERED)())
    monkeypatch.setattr(kid, "REMEMBERED", 2)
    a, b, c = (torch.full((3, 3, 4, 4), v) for v in (0.1, 0.2, 0.3))
    first = kid.features(a)
    assert np.array_equal(kid.features(a.clone()), first) and calls == [3]  # by content
    kid.features(b)
    kid.features(c)  # a is forgotten: only the last two sets are kept
    kid.features(a)
    assert calls == [3, 3, 3, 3]
    with pytest.raises(ValueError):
        first[0, 0] = 1.0  # shared between callers: read-only


# --- the checks on hand-made outputs -----------------------------------------------------------


def _run(dataset: str, name: str, **columns: list[float]) -> finished.Run:
    n = len(next(iter(columns.values()))) if columns else 1
    history = pd.DataFrame({"epoch": list(range(1, n + 1)), **columns})
    cfg = make_config(dataset, adversarial=name == "adv")
    return finished.Run(name, dataset, Path(f"/nonexistent/{name}"), cfg, history, None)


@pytest.fixture
def fake_outputs(monkeypatch):
    """``outputs(run, direction)`` replaced by given ``(fake, source, target)`` tensors."""
    table: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def outputs(run, direction, split="val", checkpoint=None):
        return table[(run.name, direction)]

    monkeypatch.setattr(paired, "outputs", outputs)
    monkeypatch.setattr(scores, "outputs", outputs)
    monkeypatch.setattr(unpaired, "outputs", outputs)
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
    row = paired.structure_better_without_adv(noadv, adv)
    assert row["id"] == "R9.1" and row["verdict"] == "holds" and row["high"] < 0
    fake_outputs[("noadv", "ab")], fake_outputs[("adv", "ab")] = (
        (bad, source, target),
        (good, source, target),
    )
    assert paired.structure_better_without_adv(noadv, adv)["verdict"] == "does not hold"


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
    detail = paired.adv_invents_detail(noadv, adv)
    assert detail["id"] == "R9.2-detail" and detail["verdict"] == "holds"
    equal = paired.photo_equally_bad(noadv, adv)
    assert equal["verdict"] == "does not hold"  # sharp random pixels double the error
    fake_outputs[("adv", "ab")] = (blurry + 0.001 * sharp, source, target)
    assert paired.photo_equally_bad(noadv, adv)["verdict"] == "holds"
    assert paired.adv_invents_detail(noadv, adv)["verdict"] != "holds"


def test_cycle_only_checks(fake_outputs, monkeypatch):
    a, b = _images(8), _images(9)
    curve = {"identity_ab_val": [0.2, 0.01], "identity_ba_val": [0.2, 0.01]}
    cycle_only = _run("cityscapes", "cycle_only", **curve)
    noadv = _run("cityscapes", "noadv")
    monkeypatch.setattr(paired, "data_distance", lambda run: 0.5)
    untrained = {"cycle_only": 0.2}
    monkeypatch.setattr(
        paired,
        "untrained_identity_distances",
        lambda run, d: np.full(48, untrained[run.name]),
    )
    # the cycle-only generators copy their input; the identity-loss ones translate
    fake_outputs[("cycle_only", "ab")] = (a + 0.01 * b, a, b)
    fake_outputs[("cycle_only", "ba")] = (b + 0.01 * a, b, a)
    fake_outputs[("noadv", "ab")] = (b + 0.05 * a, a, b)
    fake_outputs[("noadv", "ba")] = (a + 0.05 * b, b, a)
    assert paired.cycle_only_does_not_learn(cycle_only, noadv)["verdict"] == "holds"
    row = paired.ends_at_identity(cycle_only, "R9.5-identity", "claim")
    assert row["verdict"] == "holds" and row["high"] < 0.5
    assert "0.2000 -> " in row["numbers"]  # from the untrained generators, not epoch 1
    untrained["cycle_only"] = 0.001  # it started closer to the identity than it ended
    assert paired.ends_at_identity(cycle_only, "x", "claim")["verdict"] == "does not hold"


def test_unpaired_checks(fake_outputs, monkeypatch):
    humans, simpsons = _images(10), _label_maps(11)  # cartoons: flat colours, sharp edges
    run = _run("face2simpson", "adv")
    # human -> Simpson as sharp as real Simpsons; Simpson -> human far blurrier than humans
    fake_outputs[("adv", "ab")] = (_label_maps(12), humans, simpsons)
    fake_outputs[("adv", "ba")] = (_images(13, smooth=True), simpsons, humans)
    blur = unpaired.simpson_to_human_blurry(run)
    assert blur["verdict"] == "holds" and blur["high"] < 1
    # blotchy faces read as sharp, and blotches can hide a blur: undecided, never refuted
    blotchy = _images(13, smooth=True) + _label_maps(14)
    fake_outputs[("adv", "ba")] = (blotchy.clamp(-1, 1), simpsons, humans)
    blur = unpaired.simpson_to_human_blurry(run)
    assert blur["verdict"] == "undecided" and blur["low"] > 1

    def features(images):  # a stand-in for the Inception network: pixel statistics
        x = images.flatten(1)
        return torch.stack([x.mean(1), x.std(1), x.abs().mean(1)], 1).double().numpy()

    monkeypatch.setattr(kid, "features", features)
    humans, simpsons = _images(10), _images(11, smooth=True)
    fake_outputs[("adv", "ab")] = (_images(12, smooth=True), humans, simpsons)
    fake_outputs[("adv", "ba")] = (_images(13, smooth=True), simpsons, humans)
    row = unpaired.human_to_simpson_better(run)
    assert row["id"] == "R9.4-better" and row["verdict"] == "holds" and row["low"] > 0


# --- real tiny runs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Real runs on the built-in cityscapes data: 32 px, 4 base channels, 2 epochs."""
    root = tmp_path_factory.mktemp("findings")
    data = grid.dataset("cityscapes", cache_dir=root / "cache", image_size=32, n_train=8, n_val=6)
    settings = dict(
        image_size=32, base_channels=4, epochs=2, batch_size=4, device="cpu", progress=False
    )
    return {
        name: finished.experiment("cityscapes", data, root / "runs", name, **settings)
        for name in ("noadv", "adv", "cycle_only", "cycle_classic")
    }


def test_findings_on_real_runs(tiny_runs, tmp_path):
    r = tiny_runs
    rows = paired.checks(r["noadv"], r["adv"], r["cycle_only"], r["cycle_classic"])
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
    fake, _, target = scores.outputs(r["noadv"], "ab")
    assert f"{scores.pixel_errors(fake, target).mean():.4f}" in rows[0]["numbers"]
    path = table.write_csv(rows, tmp_path / "f.csv")
    back = table.read_csv(path)
    assert [b["id"] for b in back] == [row["id"] for row in rows]
    assert list(back[0]) == list(table.COLUMNS)
    shown = table.table(rows)
    assert list(shown.index) == [row["id"] for row in rows]
    # the history has the segmentation scores of photo -> labels
    h = r["noadv"].history
    for col in ("seg_pixel_acc_val", "seg_class_acc_val", "seg_class_iou_val"):
        assert h[col].between(0, 1).all(), col


def test_kid_resamples_compare_only_different_sources():
    rng = np.random.default_rng(1)
    f, r = rng.normal(0, 1, (20, 8)), rng.normal(0.2, 1, (24, 8))
    k = (kid._kernel(f, f), kid._kernel(r, r), kid._kernel(f, r))
    ones_f, ones_r = np.ones(20), np.ones(24)
    assert kid.kid_of_counts(*k, ones_f, ones_r) == pytest.approx(kid.kid(f, r), rel=1e-12)
    # every image drawn twice is the same set: its copies are not compared with each other
    twice = kid.kid_of_counts(*k, 2 * ones_f, 2 * ones_r)
    assert twice == pytest.approx(kid.kid(f, r), rel=1e-12)
    duplicated = np.concatenate([f, f])  # as the old resampling saw a doubled set
    assert abs(kid.kid(duplicated, r) - kid.kid(f, r)) > 10 * abs(twice - kid.kid(f, r))
    with pytest.raises(ValueError, match="translations"):
        kid.kid_estimate(torch.zeros(3, 3, 8, 8), torch.zeros(4, 3, 8, 8),
                         torch.zeros(3, 3, 8, 8), torch.zeros(4, 3, 8, 8))  # fmt: skip


def _epochs_run(tmp_path, n: int) -> finished.Run:
    run = _run("edges2shoes", "noadv", pixel_error_ab_val=[0.1] * n, pixel_error_ba_val=[0.1] * n)
    run = dataclasses.replace(run, out=tmp_path / "run")
    (run.out / "checkpoints").mkdir(parents=True)
    for epoch in range(1, n + 1):
        (run.out / "checkpoints" / f"epoch_{epoch:04d}.pt").write_bytes(b"")
    return run


def test_overfit_chooses_the_best_epoch_on_one_half_and_tests_on_the_other(tmp_path, monkeypatch):
    run = _epochs_run(tmp_path, 10)
    rng = np.random.default_rng(0)
    noise = {e: rng.normal(0, 0.01, 64) for e in range(1, 11)}

    def flat(run, direction, split="val", checkpoint=None):  # no trend: epoch noise only
        return 0.1 + noise[int(checkpoint.stem.split("_")[1])]

    monkeypatch.setattr(convergence, "pixel_errors_of", flat)
    row = convergence.overfits(run)
    assert row["verdict"] != "holds"
    # chosen and tested on the same images, last / best would be >= 1 by construction
    assert row["low"] < 1 < row["high"]

    def early_minimum(run, direction, split="val", checkpoint=None):
        epoch = int(checkpoint.stem.split("_")[1])
        return (0.08 if epoch == 2 else 0.1) + noise[epoch] / 10

    monkeypatch.setattr(convergence, "pixel_errors_of", early_minimum)
    row = convergence.overfits(run)
    assert row["verdict"] == "holds" and "lowest at epoch 2 of 10" in row["numbers"]


def test_generalising_better_needs_a_lower_validation_error_too(monkeypatch):
    noadv, adv = _run("edges2shoes", "noadv"), _run("edges2shoes", "adv")
    rng = np.random.default_rng(2)
    jitter = {k: rng.normal(0, 0.002, 48) for k in ("val", "train")}
    # adv: a smaller gap only because it fits the training images worse, and a higher
    # validation error than noadv
    errors = {("adv", "val"): 0.12, ("adv", "train"): 0.11, ("noadv", "val"): 0.10,
              ("noadv", "train"): 0.05}  # fmt: skip

    def pixel_errors_of(run, direction, split="val", checkpoint=None):
        return errors[(run.name, split)] + jitter[split]

    monkeypatch.setattr(convergence, "pixel_errors_of", pixel_errors_of)
    row = convergence.adv_generalises_better(noadv, adv)
    assert row["high"] < 0  # the gap alone would hold
    assert row["verdict"] == "does not hold"
    errors[("adv", "val")], errors[("adv", "train")] = 0.08, 0.07
    assert convergence.adv_generalises_better(noadv, adv)["verdict"] == "holds"


# --- over seeds -------------------------------------------------------------------------------


def test_student_t_interval_over_seeds():
    from scipy import stats as scipy_stats

    values = [0.1, 0.14, 0.08, 0.12, 0.11]
    e = S.over_seeds(values)
    low, high = scipy_stats.t.interval(0.95, 4, loc=np.mean(values), scale=scipy_stats.sem(values))
    assert (e.value, e.low, e.high, e.n) == pytest.approx((np.mean(values), low, high, 5))
    assert math.isnan(S.over_seeds([0.1]).low) and math.isnan(S.over_seeds([0.1, np.nan]).high)
    assert S.consensus(["holds", "holds"]) == "holds"
    assert S.consensus(["does not hold"] * 3) == "does not hold"
    assert S.consensus(["holds", "does not hold"]) == "undecided"


def _estimate(value: float) -> S.Estimate:
    return S.Estimate(value, value - 0.001, value + 0.001, 48)


def _seed_row(value: float, verdict: str, **extra) -> dict:
    row = table.row("R9.x", "d", "claim", "test", "stat", _estimate(value), 0.0, "n",
                       rule="below", **extra)  # fmt: skip
    assert row["verdict"] == verdict  # the seed's own verdict, by the same rule
    return row


def test_a_check_over_seeds_is_decided_by_the_seeds_not_the_images():
    # every seed's own image interval is narrow and below 0 but one: the seeds disagree
    rows = [_seed_row(v, "holds" if v < 0 else "does not hold") for v in (-0.01, -0.02, 0.015)]
    row = table.over_seeds(rows, [3, 4, 5])
    assert row["seeds"] == 3 and row["verdict"] == "undecided"
    assert [float(v) for v in row["per_seed"].split(";")] == [-0.01, -0.02, 0.015]
    assert row["value"] == pytest.approx(-0.005) and row["low"] < 0 < row["high"]
    assert "seed 3: " in row["numbers"] and "seed 5: " in row["numbers"]
    steady = [_seed_row(v, "holds") for v in (-0.010, -0.012, -0.011, -0.009, -0.010)]
    assert table.over_seeds(steady, range(5))["verdict"] == "holds"
    # a further part, and a condition, must hold over the seeds too
    parts = [_seed_row(v, "does not hold", parts=[("below", 0.0, _estimate(p))]) for v, p in
             ((-0.010, 0.02), (-0.012, 0.03), (-0.011, 0.025))]  # fmt: skip
    assert table.over_seeds(parts, range(3))["verdict"] == "does not hold"
    split = [_seed_row(-0.01, c, conditions=[c]) for c in ("holds", "does not hold")]
    assert table.over_seeds(split, range(2))["verdict"] == "undecided"
    assert table.over_seeds(steady[:1], [0]) == steady[0]  # one seed: its own row


def test_arms_must_be_paired_by_seed():
    a = [_run("cityscapes", "noadv"), _run("cityscapes", "noadv")]
    b = [dataclasses.replace(r, config=dataclasses.replace(r.config, seed=s))
         for r, s in zip(a, (0, 1))]  # fmt: skip
    with pytest.raises(Exception, match="other seeds"):
        paired.checks(a, b)
